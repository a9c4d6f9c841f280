//! The `server` binary: `serve` (default) runs the service; the other commands are the tools
//! around it (migrations, the setup check, BrightData's API, the ngrok helper, the exports). Each has
//! `--help`. Exit codes: 0 done, 1 failed, 2 cannot run as asked (configuration or arguments),
//! 3 nothing running to report on or stop, 4 a program it drives is not installed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use server::cli::{self, Failure};
use server::config::{Config, NgrokRegion};
use server::public_url::PublicUrl;
use server::startup::Application;

// glibc's malloc showed as ~10% of the ingestion profile (many small, short-lived allocations
// across threads); mimalloc serves the same pattern with less work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "server",
    version,
    about = "Track-Futura webhook receiver and live monitor",
    after_help = "Configuration comes from the environment (see the README). Exit codes: 0 done, 1 failed, 2 cannot run as asked, 3 not running, 4 not installed."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
    /// Print the public URL in effect and BrightData's trigger parameters; with --send-test, prove
    /// that a delivery to it is stored.
    CheckSetup(CheckSetupArgs),
    /// Start, inspect or stop an ngrok tunnel to this service (local development).
    Ngrok {
        #[command(subcommand)]
        command: NgrokCommand,
    },
    /// Start a BrightData collection that delivers here (POST /datasets/v3/trigger).
    Trigger(TriggerArgs),
    /// Ask BrightData how a snapshot is doing (GET /datasets/v3/progress/{id}).
    Progress {
        /// The snapshot id, e.g. s_m4x7abc123.
        snapshot: String,
    },
    /// Export stored events to a CSV or JSON file, from the database directly.
    ExportEvents(ExportArgs),
    /// Export the collected posts to a CSV, NDJSON or Parquet file, from the database directly.
    ExportPosts(ExportPostsArgs),
}

#[derive(Args)]
struct CheckSetupArgs {
    /// The service to check (default: the public URL in effect).
    #[arg(long)]
    url: Option<String>,
    /// Send a test delivery and notify, and verify through the monitor API that they were stored.
    #[arg(long)]
    send_test: bool,
}

#[derive(Subcommand)]
enum NgrokCommand {
    /// Start `ngrok http <port>` in the background and print the URLs for BrightData.
    Start {
        /// The local port to expose (default: PORT).
        #[arg(long)]
        port: Option<u16>,
        /// A reserved subdomain (needs NGROK_AUTH_TOKEN; default: NGROK_SUBDOMAIN).
        #[arg(long)]
        subdomain: Option<String>,
        /// us, eu, ap, au, sa, jp or in (default: NGROK_REGION).
        #[arg(long, value_parser = parse_region)]
        region: Option<NgrokRegion>,
    },
    /// Print the running tunnel's URLs (exit 3 when none runs).
    Status {
        /// The local port the tunnel should forward to (default: PORT).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop the ngrok process `ngrok start` started (exit 3 when none runs).
    Stop,
}

#[derive(Args)]
struct TriggerArgs {
    /// The BrightData dataset, e.g. gd_lk5ns7kz21pck8jpis (Instagram posts).
    #[arg(long)]
    dataset_id: String,
    /// A file of inputs: a JSON array of objects, or one JSON object per line.
    #[arg(long, conflicts_with = "url", required_unless_present = "url")]
    input: Option<PathBuf>,
    /// An input URL (repeat for several).
    #[arg(long)]
    url: Vec<String>,
    /// The delivery format: json, ndjson, jsonl or csv.
    #[arg(long, default_value = "json")]
    format: String,
}

#[derive(Args)]
struct ExportArgs {
    /// csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
    /// The file to write (replaced once the export is complete).
    #[arg(long)]
    output: PathBuf,
    /// Outcomes, comma-separated (e.g. accepted,rejected_auth).
    #[arg(long)]
    outcome: Option<String>,
    /// webhook or notify.
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long)]
    platform: Option<String>,
    #[arg(long)]
    snapshot: Option<String>,
    /// The client's IP address.
    #[arg(long)]
    ip: Option<String>,
    /// From this time (Unix milliseconds or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Until this time, excluded.
    #[arg(long)]
    to: Option<String>,
    /// Text in the error, user agent, snapshot or IP.
    #[arg(long)]
    q: Option<String>,
    /// Report progress even when stderr is not a terminal (a line per 2,000 events).
    #[arg(long)]
    progress: bool,
}

#[derive(Args)]
struct ExportPostsArgs {
    /// csv, ndjson (the records as BrightData sent them) or parquet (typed columns).
    #[arg(long, default_value = "csv")]
    format: String,
    /// The file to write (replaced once the export is complete); a name ending in .gz is
    /// gzip-compressed.
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// CSV only: start with a UTF-8 byte order mark (for Excel).
    #[arg(long)]
    bom: bool,
    #[arg(long)]
    snapshot: Option<String>,
    #[arg(long)]
    platform: Option<String>,
    /// The author, exactly as stored.
    #[arg(long)]
    author: Option<String>,
    /// Posted at or after this time (Unix milliseconds or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Posted before this time.
    #[arg(long)]
    to: Option<String>,
    /// Text anywhere in the record.
    #[arg(long)]
    q: Option<String>,
    /// The delivery that (last) brought the post.
    #[arg(long)]
    delivery: Option<String>,
    /// Report progress even when stderr is not a terminal (a line per 1,000 posts).
    #[arg(long)]
    progress: bool,
}

/// A bar on a terminal; otherwise lines when asked for.
fn progress_display(asked: bool) -> cli::export::Progress {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        cli::export::Progress::Bar
    } else if asked {
        cli::export::Progress::Lines
    } else {
        cli::export::Progress::Off
    }
}

fn parse_region(value: &str) -> Result<NgrokRegion, String> {
    NgrokRegion::parse(value).ok_or_else(|| "one of us, eu, ap, au, sa, jp, in".to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    // First: SQLite takes its memory settings only before it starts.
    let sqlite_memory = server::sqlite_memory::use_process_allocator();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Read before the command runs: `check-setup` may be what first looks at the data directory.
    let secrets = cli::secrets(&config);
    if matches!(command, Command::Serve | Command::Migrate) {
        server::telemetry::init(&config.logging);
        if let Err(error) = &sqlite_memory {
            tracing::warn!(%error, "SQLite allocates through glibc's malloc");
        }
    }
    let result = match command {
        Command::Serve => serve(config).await.map_err(anyhow_failure),
        Command::Migrate => migrate(config).await.map_err(anyhow_failure),
        Command::CheckSetup(args) => {
            let public = public_url(&config).await;
            let options = cli::check_setup::Options {
                url: args.url,
                send_test: args.send_test,
            };
            cli::check_setup::run(&config, &public, &options).await
        }
        Command::Ngrok { command } => ngrok(&config, command).await,
        Command::Trigger(args) => trigger(&config, args).await,
        Command::Progress { snapshot } => progress(&config, &snapshot).await,
        Command::ExportEvents(args) => export(&config, args).await,
        Command::ExportPosts(args) => export_posts(&config, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", cli::redact(&failure.message, &secrets));
            ExitCode::from(failure.code)
        }
    }
}

fn anyhow_failure(error: anyhow::Error) -> Failure {
    cli::failed(format!("{error:#}"))
}

/// The public URL as the server on `PORT` finds it, ngrok included.
async fn public_url(config: &Config) -> PublicUrl {
    server::public_url::in_effect(config, config.http.port).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        shutdown.cancel();
    });
    app.run_until_stopped().await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = server::db::connect(&config.storage.database_url, &config.storage.pool).await?;
    server::db::migrate(&db).await?;
    println!(
        "migrations applied to {}",
        config.storage.database_url.redacted()
    );
    Ok(())
}

async fn ngrok(config: &Config, command: NgrokCommand) -> Result<(), Failure> {
    let print_urls = |url: &str| {
        println!("public URL:  {url}");
        println!("data:        {url}/api/brightdata/webhook/");
        println!("notify:      {url}/api/brightdata/notify/");
        println!("dashboard:   {url}/webhook-monitor");
        println!("auth_header: Bearer <webhook token> (see `server check-setup`)");
    };
    match command {
        NgrokCommand::Start {
            port,
            subdomain,
            region,
        } => {
            let options = server::ngrok::StartOptions {
                port: port.unwrap_or(config.http.port),
                subdomain: subdomain.or_else(|| config.ngrok.subdomain.clone()),
                region: region.unwrap_or(config.ngrok.region),
            };
            let url = server::ngrok::start(config, &options).await?;
            print_urls(&url);
            println!(
                "The service picks this tunnel up at its next start with NGROK_ENABLED=true; stop it with `server ngrok stop`."
            );
        }
        NgrokCommand::Status { port } => {
            let (pid, url) =
                server::ngrok::status(config, port.unwrap_or(config.http.port)).await?;
            println!("ngrok runs (pid {pid})");
            print_urls(&url);
        }
        NgrokCommand::Stop => {
            let pid = server::ngrok::stop(config).await?;
            println!("stopped ngrok (pid {pid})");
        }
    }
    Ok(())
}

async fn trigger(config: &Config, args: TriggerArgs) -> Result<(), Failure> {
    let public = public_url(config).await;
    let options = cli::brightdata::TriggerOptions {
        dataset_id: args.dataset_id,
        input: args.input,
        urls: args.url,
        format: args.format,
    };
    let triggered = cli::brightdata::trigger(config, &public, &options).await?;
    println!("snapshot_id: {}", triggered.snapshot_id);
    println!(
        "BrightData collects {} input(s) and delivers to {}",
        triggered.inputs,
        public.data_url()
    );
    println!(
        "{} in the dashboard's Snapshots; follow it with `server progress {}`",
        if triggered.recorded {
            "recorded as `triggered`"
        } else {
            "already known"
        },
        triggered.snapshot_id
    );
    Ok(())
}

async fn progress(config: &Config, snapshot: &str) -> Result<(), Failure> {
    let answer = cli::brightdata::progress(config, snapshot).await?;
    println!("{answer}");
    Ok(())
}

async fn export(config: &Config, args: ExportArgs) -> Result<(), Failure> {
    let target = cli::export::Target {
        output: args.output,
        progress: progress_display(args.progress),
    };
    let filter = server::views::events::Filter {
        outcome: args.outcome,
        endpoint: args.endpoint,
        platform: args.platform,
        snapshot: args.snapshot,
        ip: args.ip,
        from: args.from,
        to: args.to,
        q: args.q,
        cursor: None,
        limit: None,
        format: Some(args.format),
    };
    let written = cli::export::events(config, &filter, &target).await?;
    println!("{written} events written to {}", target.output.display());
    Ok(())
}

async fn export_posts(config: &Config, args: ExportPostsArgs) -> Result<(), Failure> {
    let target = cli::export::Target {
        output: args.output,
        progress: progress_display(args.progress),
    };
    let filter = app::types::PostFilter {
        snapshot: args.snapshot,
        platform: args.platform,
        author: args.author,
        from: args.from,
        to: args.to,
        q: args.q,
        delivery: args.delivery,
        cursor: None,
        limit: None,
        format: Some(args.format),
        bom: Some(args.bom.to_string()),
    };
    let written = cli::export::posts(config, &filter, &target).await?;
    println!("{written} posts written to {}", target.output.display());
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
