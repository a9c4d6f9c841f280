//! Benchmarks of the release server over real HTTP on loopback. Prints rates and latencies; asserts
//! nothing (figures go to the README with the command that produced them).
//!
//!   cargo build --release -p server && cargo run --release -p bench -- ingest
//!   cargo run --release -p bench -- large --mb 100
//!   cargo run --release -p bench -- monitor --events 1000000
//!   cargo run --release -p bench -- store
//!   cargo run --release -p bench -- flood
//!   cargo run --release -p bench -- concurrent --deliveries 20 --mb 8
//!   cargo run --release -p bench -- bomb --members 1024
//!
//! Each run starts `target/release/server` with a fresh SQLite database in a temporary directory.

mod client;
mod dashboards;
mod extract;
mod flood;
mod generate;
mod memory;
mod monitor;
mod server;
mod store;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

// The server's allocator: `store` runs the server's writer in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Track-Futura webhook benchmarks")]
struct Cli {
    /// The server binary to start.
    #[arg(long, default_value = "target/release/server", global = true)]
    server: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signed ~1 KB deliveries from many concurrent connections: requests/s and latency percentiles.
    Ingest {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Distinct deliveries prepared per connection (cycled if the run outlasts them).
        #[arg(long, default_value_t = 3000)]
        per_connection: usize,
        /// Against the HTTP floor instead (`http-floor`, next to the server binary): the same
        /// requests and checks, nothing stored. What the machine allows before any storage.
        #[arg(long)]
        floor: bool,
        /// Dashboards connected to the live stream during the run (each receives every event).
        #[arg(long, default_value_t = 0)]
        dashboards: usize,
        /// On a PostgreSQL server instead of SQLite: a database created for the run and dropped
        /// after (e.g. postgres://postgres@127.0.0.1:5432).
        #[arg(long)]
        postgres: Option<String>,
        /// Server processes on that one database (PostgreSQL only); the connections are spread
        /// over them in turn, as a load balancer would.
        #[arg(long, default_value_t = 1)]
        instances: usize,
    },
    /// The monitor API over a large event table: metrics, health and events timings, CSV export.
    Monitor {
        /// Events to seed.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Timed calls per endpoint (after one untimed first call).
        #[arg(long, default_value_t = 31)]
        calls: usize,
    },
    /// The storage path alone, in this process (no HTTP, nothing parsed while timed): the server's
    /// writer storing the same ~1 KB deliveries, each with its event, from many concurrent tasks.
    /// What storage allows at most on this machine.
    Store {
        #[arg(long, default_value_t = 64)]
        tasks: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warmup: u64,
    },
    /// An authenticated sender's latency calm, then while another loopback address floods the
    /// webhook with wrong-token requests.
    Flood {
        /// The authenticated sender's connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// The flooding client's connections.
        #[arg(long, default_value_t = 32)]
        flood_connections: usize,
        /// Seconds of each phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Many large gzip deliveries sent at once: their answers and the server's peak memory.
    Concurrent {
        #[arg(long, default_value_t = 20)]
        deliveries: usize,
        /// Compressed size of each, in MiB (8 or less: stored inline).
        #[arg(long, default_value_t = 8)]
        mb: usize,
    },
    /// The extraction's parse alone, in this process: the `large` body decoded with and without the
    /// field coverage tally (scraper drift), alternating; the rates and the cost of the tally.
    Extract {
        /// Compressed size to generate, in MB.
        #[arg(long, default_value_t = 30)]
        mb: usize,
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        #[arg(long, value_enum, default_value = "both")]
        tally: extract::Tally,
        /// Also write the generated gzip body to this file.
        #[arg(long)]
        save: Option<std::path::PathBuf>,
    },
    /// A streamed gzip body of ~1 MiB members that each inflate to 1 GiB: the answer, extraction
    /// if it is accepted, and the server's peak memory.
    Bomb {
        #[arg(long, default_value_t = 1024)]
        members: usize,
        /// The server's `WEBHOOK_MAX_INFLATED_BYTES` (default as shipped).
        #[arg(long, default_value = "4GiB")]
        max_inflated: String,
    },
    /// One large gzip delivery of generated BrightData-shaped Instagram records: time to the 2xx,
    /// time until its posts are extracted, and the server's peak memory.
    Large {
        /// Compressed size to generate, in MB.
        #[arg(long, default_value_t = 100)]
        mb: usize,
        /// Run the server on PostgreSQL: a database is created on this server for the run and
        /// dropped after (e.g. postgres://postgres@127.0.0.1:5432). Results are read with `psql`.
        #[arg(long)]
        postgres: Option<String>,
        /// Run the server with `SCRAPER_DRIFT=off` (no field coverage tallied): the cost of the
        /// tally is this run's rate against one without the flag.
        #[arg(long)]
        no_drift: bool,
    },
}

// One thread drives all client connections: the load generator must not take the server's cores.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ingest {
            connections,
            seconds,
            warmup,
            per_connection,
            floor,
            dashboards,
            postgres,
            instances,
        } => {
            let binary = if floor {
                let path = std::path::Path::new(&cli.server).with_file_name("http-floor");
                path.display().to_string()
            } else {
                cli.server.clone()
            };
            let database = postgres
                .as_deref()
                .map(server::PgDatabase::create)
                .transpose()?;
            anyhow::ensure!(
                instances == 1 || database.is_some(),
                "--instances needs --postgres (an SQLite file has one process)"
            );
            ingest(
                &binary,
                IngestRun {
                    connections,
                    seconds,
                    warmup,
                    per_connection,
                    floor,
                    dashboards,
                    database: database.as_ref().map(|d| d.url.as_str()),
                    instances,
                },
            )
            .await
        }
        Command::Large {
            mb,
            postgres,
            no_drift,
        } => large(&cli.server, mb, postgres.as_deref(), no_drift).await,
        Command::Extract {
            mb,
            rounds,
            tally,
            save,
        } => extract::run(mb, rounds, tally, save.as_deref()),
        Command::Store {
            tasks,
            seconds,
            warmup,
        } => {
            store::run(store::Options {
                tasks,
                seconds,
                warmup,
            })
            .await
        }
        Command::Monitor { events, calls } => monitor::run(&cli.server, events, calls).await,
        Command::Concurrent { deliveries, mb } => {
            memory::concurrent(&cli.server, deliveries, mb).await
        }
        Command::Bomb {
            members,
            max_inflated,
        } => memory::bomb(&cli.server, members, &max_inflated).await,
        Command::Flood {
            connections,
            flood_connections,
            seconds,
        } => {
            flood::run(
                &cli.server,
                flood::Options {
                    connections,
                    flood_connections,
                    seconds,
                },
            )
            .await
        }
    }
}

const SECRET: &str = "bench-signing-secret";
const TOKEN: &str = "bench-webhook-token-0123456789";

/// What `ingest` runs (see its command's options).
struct IngestRun<'a> {
    connections: usize,
    seconds: u64,
    warmup: u64,
    per_connection: usize,
    floor: bool,
    dashboards: usize,
    database: Option<&'a str>,
    instances: usize,
}

async fn ingest(binary: &str, run: IngestRun<'_>) -> anyhow::Result<()> {
    let IngestRun {
        connections,
        seconds,
        warmup,
        per_connection,
        floor,
        dashboards,
        database,
        instances,
    } = run;
    let prepared = Instant::now();
    let requests: Vec<Vec<Vec<u8>>> = (0..connections)
        .map(|worker| client::prepare_signed_requests(worker, per_connection, TOKEN, SECRET))
        .collect();
    let size = requests[0][0].len();
    println!(
        "prepared {} signed requests of ~{size} bytes (body ~{} bytes) in {:.1} s",
        connections * per_connection,
        generate::small_delivery(0, 0).len(),
        prepared.elapsed().as_secs_f64()
    );
    // One after the other: the first migrates the database.
    let servers = (0..instances)
        .map(|_| signed_server(binary, database))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let server = &servers[0];
    let pushed = dashboards::connect(server.port, dashboards).await?;
    println!(
        "ingest{}: {connections} connections, signed ~1 KB deliveries, {seconds} s after {warmup} s warm-up, {dashboards} dashboards connected, {}",
        if floor {
            " (HTTP floor, nothing stored)"
        } else {
            ""
        },
        match database {
            Some(url) => format!("{instances} instance(s) on PostgreSQL ({url})"),
            None => "SQLite".to_owned(),
        }
    );
    let warm_until = Instant::now() + Duration::from_secs(warmup);
    let stop_at = warm_until + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (worker, own) in requests.into_iter().enumerate() {
        tasks.push(tokio::spawn(client::send_requests(
            servers[worker % servers.len()].port,
            own,
            warm_until,
            stop_at,
        )));
    }
    // CPU per thread over the measured seconds only (after warm-up, before the end), summed over
    // the instances.
    let cpu = || -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
        let mut sum = std::collections::BTreeMap::new();
        for server in &servers {
            for (thread, ticks) in server.cpu_ticks_by_thread()? {
                *sum.entry(thread).or_insert(0) += ticks;
            }
        }
        Ok(sum)
    };
    let switches = || -> anyhow::Result<(u64, u64)> {
        let mut sum = (0, 0);
        for server in &servers {
            let (voluntary, involuntary) = server.context_switches()?;
            sum = (sum.0 + voluntary, sum.1 + involuntary);
        }
        Ok(sum)
    };
    tokio::time::sleep_until(warm_until.into()).await;
    let cpu_before = cpu()?;
    let client_before = own_cpu_ticks()?;
    let switches_before = switches()?;
    tokio::time::sleep_until((stop_at - Duration::from_millis(200)).into()).await;
    let cpu_after = cpu()?;
    let client_after = own_cpu_ticks()?;
    let switches_after = switches()?;
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (mut own, failed) = task.await??;
        latencies.append(&mut own);
        failures += failed;
    }
    latencies.sort_unstable();
    let n = latencies.len();
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
    println!("requests: {n} in {seconds} s, non-2xx: {failures}");
    println!("rate: {:.0} req/s", n as f64 / seconds as f64);
    println!(
        "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(latencies[n - 1])
    );
    // Requests answered in the CPU window (it ends 0.2 s early), assuming an even rate.
    let window_requests = n as f64 * (seconds as f64 - 0.2) / seconds as f64;
    let (total, parts) = cpu_per_item(&cpu_before, &cpu_after, window_requests);
    println!(
        "CPU per request: server {total:.0} µs ({parts}), load generator {:.0} µs",
        ticks_per_item_us(client_after - client_before, window_requests)
    );
    println!(
        "context switches per request (server): {:.2} voluntary, {:.2} involuntary",
        (switches_after.0 - switches_before.0) as f64 / window_requests,
        (switches_after.1 - switches_before.1) as f64 / window_requests
    );
    if !floor {
        let stored = server.count("SELECT count(*) FROM deliveries")?;
        println!("deliveries stored (incl. warm-up): {stored}");
    }
    if dashboards > 0 {
        let bytes = pushed.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "pushed to {dashboards} dashboards: {:.1} MB ({:.0} bytes per request per dashboard)",
            bytes as f64 / 1e6,
            bytes as f64 / n as f64 / dashboards as f64
        );
    }
    for server in &servers {
        println!("server peak RSS: {} MB", server.peak_rss_kb()? / 1024);
    }
    Ok(())
}

/// The server as `ingest` and `flood` run it: signatures required, no rate limit in the way; on
/// `database` if given (PostgreSQL), else its own SQLite file.
fn signed_server(binary: &str, database: Option<&str>) -> anyhow::Result<server::Server> {
    let mut vars = vec![
        ("BRIGHTDATA_WEBHOOK_TOKEN", TOKEN),
        ("WEBHOOK_SIGNING_SECRET", SECRET),
        ("WEBHOOK_REQUIRE_SIGNATURE", "true"),
        // Loopback clients; the flood is refused for its token, not for its rate.
        ("WEBHOOK_RATE_LIMIT", "100000000"),
    ];
    if let Some(url) = database {
        vars.push(("DATABASE_URL", url));
    }
    server::Server::start(binary, &vars)
}

async fn large(
    binary: &str,
    mb: usize,
    postgres: Option<&str>,
    no_drift: bool,
) -> anyhow::Result<()> {
    let database = postgres.map(server::PgDatabase::create).transpose()?;
    let started = Instant::now();
    let (body, records, inflated) = generate::large_gzip_delivery(mb << 20);
    println!(
        "large: generated {records} records, {:.1} MB JSON -> {:.1} MB gzip in {:.1} s",
        inflated as f64 / 1e6,
        body.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut vars = vec![
        ("BRIGHTDATA_WEBHOOK_TOKEN", TOKEN),
        ("WEBHOOK_MAX_STORED_BODY_BYTES", "1GiB"),
    ];
    if let Some(database) = &database {
        vars.push(("DATABASE_URL", database.url.as_str()));
        println!("on PostgreSQL ({})", database.url);
    }
    if no_drift {
        vars.push(("SCRAPER_DRIFT", "off"));
        println!("field coverage off (SCRAPER_DRIFT=off)");
    }
    let server = server::Server::start(binary, &vars)?;
    let rss_before = server.rss_kb()?;
    let sent = Instant::now();
    let status = client::post_large(server.port, TOKEN, &body).await?;
    let to_answer = sent.elapsed();
    let rss_at_answer = server.peak_rss_kb()?;
    println!("answer: {status} after {:.2} s", to_answer.as_secs_f64());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if server.count("SELECT count(*) FROM deliveries WHERE state = 'stored'")? == 1 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "extraction did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let extracted = sent.elapsed();
    let posts = server.count("SELECT count(*) FROM posts")?;
    println!(
        "extracted: {posts} posts stored {:.1} s after sending ({:.0} posts/s after the answer)",
        extracted.as_secs_f64(),
        posts as f64 / (extracted - to_answer).as_secs_f64()
    );
    println!(
        "server RSS: {} MB idle, peak {} MB by the answer, peak {} MB after extraction",
        rss_before / 1024,
        rss_at_answer / 1024,
        server.peak_rss_kb()? / 1024
    );
    // Every stored post out, in each format, through the API (uncompressed on the wire); the
    // server's peak RSS is reset before each export, so it is the export's own.
    for format in ["csv", "ndjson", "parquet"] {
        server.reset_peak_rss()?;
        let rss_idle = server.rss_kb()?;
        let started = Instant::now();
        let (status, size) = client::get_to_end(
            server.port,
            &format!(
                "/api/brightdata/webhook/export-posts/?format={format}&snapshot=s_bench_large"
            ),
            server::ADMIN_TOKEN,
        )
        .await?;
        let took = started.elapsed().as_secs_f64();
        anyhow::ensure!(status == 200, "export {format}: status {status}");
        println!(
            "export {format}: {posts} posts, {:.1} MB in {took:.2} s = {:.0} rows/s; server RSS {} MB before, peak {} MB during",
            size as f64 / 1e6,
            posts as f64 / took,
            rss_idle / 1024,
            server.peak_rss_kb()? / 1024
        );
    }
    Ok(())
}

/// CPU time (user + system, clock ticks) this process has used.
/// CPU µs per item between two `cpu_ticks_by_thread` readings: the total, and each thread's.
fn cpu_per_item(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    items: f64,
) -> (f64, String) {
    let mut total = 0;
    let mut parts = Vec::new();
    for (name, ticks) in after {
        let used = ticks - before.get(name).copied().unwrap_or(0);
        total += used;
        if used > 0 {
            parts.push(format!("{name} {:.0}", ticks_per_item_us(used, items)));
        }
    }
    (ticks_per_item_us(total, items), parts.join(", "))
}

fn ticks_per_item_us(ticks: u64, items: f64) -> f64 {
    ticks as f64 * 1e6 / CLOCK_TICKS_PER_SECOND / items
}

fn own_cpu_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    server::name_and_cpu_ticks(&stat)
        .map(|(_, ticks)| ticks)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/self/stat: {stat}"))
}

/// Linux reports thread CPU times in USER_HZ ticks, 100 per second on every Linux architecture.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
