//! The `server` binary: `serve` (default) runs the service, `migrate` applies database migrations.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::config::Config;
use server::startup::Application;

// glibc's malloc showed as ~10% of the ingestion profile (many small, short-lived allocations
// across threads); mimalloc serves the same pattern with less work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "server",
    version,
    about = "Track-Futura webhook receiver and live monitor"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default). Configuration comes from the environment; see the README.
    Serve,
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(&config.logging);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
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
    let db = server::db::connect(&config.storage.database_url).await?;
    server::db::migrate(&db).await?;
    println!(
        "migrations applied to {}",
        config.storage.database_url.redacted()
    );
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
