//! Building and running the service: `Application::build(config)`, then `port()`, then
//! `run_until_stopped()`. Tests build it on port 0 with a fresh database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::brightdata_api::BrightDataApi;
use crate::completeness::Checker;
use crate::config::Config;
use crate::credentials::{Credentials, TokenSource};
use crate::drift::Judge;
use crate::events::EventRecorder;
use crate::extractor::{Processor, ProcessorHandle};
use crate::ingest::client_ip::ClientIpResolver;
use crate::ingest::rate_limit::RateLimit;
use crate::ingest::{Ingest, Limits};
use crate::leadership::{Instance, Leadership};
use crate::live::{LiveHub, Outbox};
use crate::live_feed::LiveFeed;
use crate::log_file::AuditLogs;
use crate::monitor::alerts::Evaluator;
use crate::monitor::{Thresholds, retention};
use crate::schedule::Rounds;
use crate::sessions::Sessions;
use crate::state::AppState;
use crate::store::{Writer, checkpoint};
use crate::{db, http_server, public_url, routes};
use delivery::platforms::DatasetPlatforms;
use delivery::verify::Verifier;

/// The name cargo-leptos gives the site's JS, WASM and CSS (`[[workspace.metadata.leptos]] name`).
const SITE_OUTPUT_NAME: &str = "track-futura";

pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    log_writers: Vec<JoinHandle<()>>,
    /// Stops the log writers once the last line is written (after the server stopped).
    log_stop: CancellationToken,
    /// Stops background work (extraction, clean-up) once the server stopped.
    background_stop: CancellationToken,
    background: Vec<JoinHandle<()>>,
    /// Stops the database writer last, after it has written everything queued.
    writer_stop: CancellationToken,
    writer_task: JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let log_stop = CancellationToken::new();
        let (logs, log_writers) = AuditLogs::open(&config.logging, log_stop.clone())
            .await
            .with_context(|| format!("opening log files in {}", config.logging.dir.display()))?;

        let credentials = Credentials::resolve(&config.security, &config.storage.data_dir)
            .with_context(|| {
                format!("preparing tokens in {}", config.storage.data_dir.display())
            })?;

        let database = config.storage.database_url.redacted();
        let (url, pool) = (&config.storage.database_url, &config.storage.pool);
        let db = db::connect_patiently(url, "connecting", || db::connect(url, pool))
            .await
            .with_context(|| format!("connecting to the database {database}"))?;
        db::migrate(&db)
            .await
            .with_context(|| format!("migrating the database {database}"))?;

        let listener = TcpListener::bind(config.http.bind_address())
            .await
            .with_context(|| format!("binding {}", config.http.bind_address()))?;
        let local = listener.local_addr()?;
        let public = Arc::new(public_url::in_effect(&config, local.port()).await);

        let leptos_options = LeptosOptions::builder()
            .output_name(SITE_OUTPUT_NAME)
            .site_root(config.http.site_root.display().to_string())
            .site_addr(local)
            .build();

        let (writer_db, durability) = db::connect_patiently(url, "connecting the writer", || {
            db::connect_writer(url, pool)
        })
        .await
        .with_context(|| format!("connecting the writer to the database {database}"))?;
        let writer_stop = CancellationToken::new();
        let sole = config.storage.database_url.is_sqlite();
        // With several instances, what this one's hub counts is told to the others.
        let outbox = Arc::new(Outbox::default());
        let hub = if sole {
            LiveHub::default()
        } else {
            LiveHub::relayed(outbox.clone())
        };
        let (writer, writer_task) = Writer::start(
            writer_db,
            durability,
            crate::events::publisher(hub.clone()),
            writer_stop.clone(),
        );
        let events = EventRecorder::new(writer.clone(), logs.security.clone());
        let platforms = DatasetPlatforms::new(&config.ingest.dataset_platforms);
        let processor = ProcessorHandle::default();
        let ingest = Arc::new(Ingest {
            verifier: Verifier::new(
                credentials.webhook_tokens.clone(),
                config.security.signing_secrets.clone(),
                config.security.require_signature,
                config.security.max_timestamp_age,
            ),
            client_ip: ClientIpResolver::new(
                config.security.trusted_proxies.clone(),
                config.security.proxy_header,
            ),
            allowed_ips: config.security.allowed_ips.clone(),
            limits: Limits {
                max_body_bytes: config.ingest.max_body_bytes,
                max_inflated_bytes: config.ingest.max_inflated_bytes,
                max_stored_body_bytes: config.ingest.max_stored_body_bytes,
                inline_memory_bytes: config.ingest.inline_memory_bytes as u32,
            },
            platforms: platforms.clone(),
            db: db.clone(),
            writer: writer.clone(),
            events: events.clone(),
            processor: processor.clone(),
            field_coverage: config.drift.enabled,
            inline_memory: tokio::sync::Semaphore::new(config.ingest.inline_memory_bytes as usize),
        });
        let rate_limit = RateLimit::new(
            config.security.rate_limit_per_minute,
            config.security.rate_burst,
        );

        let background_stop = CancellationToken::new();
        let instance = Instance::new(config.storage.lease);
        let leadership = if sole {
            Leadership::sole(instance.clone(), logs.monitor.clone())
        } else {
            Leadership::leased(instance.clone(), db.clone(), logs.monitor.clone())
        };
        // Known before the first request: an instance that loses the database right after
        // starting still knows whether it leads (and so whether it alerts on the outage).
        leadership.confirm().await;
        let rounds = |every| Rounds::every(every, background_stop.clone(), leadership.clone());
        let thresholds = Thresholds {
            error_rate: config.monitor.error_threshold,
            response_time: config.monitor.response_time_threshold,
            min_sample: config.monitor.alert_min_sample as i64,
            window: config.monitor.alert_window,
            security_spike_per_minute: config.monitor.security_spike_per_minute as i64,
            snapshot_stall_after: config.monitor.snapshot_stall_after,
            delivery_stale_after: config.monitor.delivery_stale_after,
        };
        let background = vec![
            Processor {
                db: db.clone(),
                writer: writer.clone(),
                platforms,
                max_inflated_bytes: config.ingest.max_inflated_bytes,
                max_stored_body_bytes: config.ingest.max_stored_body_bytes,
                field_coverage: config.drift.enabled,
                instance: instance.clone(),
                sole,
            }
            .spawn(processor, background_stop.clone()),
            leadership.spawn(background_stop.clone()),
            rate_limit.spawn_cleanup(background_stop.clone()),
            events.spawn_refusal_counts(background_stop.clone()),
            checkpoint::spawn(db.clone(), writer.wal_frames(), background_stop.clone()),
            Evaluator::new(
                db.clone(),
                writer.clone(),
                thresholds.clone(),
                hub.clone(),
                logs.monitor.clone(),
            )
            .spawn(rounds(config.monitor.alert_interval)),
            retention::spawn(
                db.clone(),
                writer.clone(),
                retention::Policy {
                    max_events: config.monitor.max_events,
                    event_age: config.monitor.metrics_retention,
                    body_age: config.monitor.body_retention,
                },
                rounds(config.monitor.retention_interval),
            ),
        ];
        let sessions = Arc::new(Sessions::new(
            &credentials.admin_token,
            config.monitor.session_ttl,
            public.is_https(),
        ));
        // Logouts recorded before this start (here or on another instance) hold from the first
        // request on.
        sessions
            .sync(&db)
            .await
            .context("reading revoked dashboard sessions")?;
        let brightdata = Arc::new(BrightDataApi::new(
            &config,
            credentials.secrets(&config.security),
        ));
        let mut background = background;
        background.push(
            Checker {
                db: db.clone(),
                writer: writer.clone(),
                api: brightdata.as_ref().clone(),
                log: logs.monitor.clone(),
                hub: hub.clone(),
                settle: config.brightdata.verify_settle,
            }
            .spawn(rounds(config.brightdata.verify_interval)),
        );
        if config.drift.enabled {
            background.push(
                Judge {
                    db: db.clone(),
                    writer: writer.clone(),
                    log: logs.monitor.clone(),
                    hub: hub.clone(),
                    thresholds: config.drift.thresholds,
                    settle: config.brightdata.verify_settle,
                }
                .spawn(rounds(config.brightdata.verify_interval)),
            );
        }
        background.push(
            sessions
                .clone()
                .spawn_sync(db.clone(), background_stop.clone()),
        );
        if !sole {
            background.push(
                LiveFeed {
                    url: config.storage.database_url.clone(),
                    db: db.clone(),
                    hub: hub.clone(),
                    outbox,
                    instance: instance.clone(),
                    sessions: sessions.clone(),
                }
                .spawn(background_stop.clone()),
            );
        }

        let state = AppState {
            config: Arc::new(config),
            public,
            db,
            credentials: Arc::new(credentials),
            logs,
            leptos_options,
            started_at: Instant::now(),
            writer,
            hub,
            events,
            ingest,
            rate_limit,
            sessions,
            thresholds,
            connections: Default::default(),
            brightdata,
            instance,
            leadership,
        };

        let app = Self {
            listener,
            state,
            shutdown: CancellationToken::new(),
            log_writers,
            log_stop,
            background_stop,
            background,
            writer_stop,
            writer_task,
        };
        app.announce();
        Ok(app)
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The URL BrightData should call (see `public_url`).
    pub fn public_url(&self) -> String {
        self.state.public.url.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancelling this token stops the server gracefully (in-flight requests finish).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            shutdown,
            log_writers,
            log_stop,
            background_stop,
            background,
            writer_stop,
            writer_task,
        } = self;
        let logs = state.logs.clone();
        let db = state.db.clone();
        let limits = state.config.http.limits;
        // Every client comes through a trusted proxy: it is not limited per peer.
        let exempt = state.config.security.trusted_proxies.clone();
        let connections = state.connections.clone();
        let leadership = state.leadership.clone();
        let router = routes::router(state);
        http_server::serve(listener, router, limits, exempt, connections, shutdown).await;

        background_stop.cancel();
        for task in background {
            let _ = task.await;
        }
        // Its rounds are over: another instance may lead at once.
        leadership.release().await;
        writer_stop.cancel();
        let _ = writer_task.await;

        logs.monitor.write("service_stopped", serde_json::json!({}));
        log_stop.cancel();
        if let Err(error) = db.close().await {
            tracing::warn!(%error, "closing the database");
        }
        for writer in log_writers {
            let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// Logs where the service listens; on the start that generated tokens, first prints once where
    /// they are.
    fn announce(&self) {
        let base = self.public_url();
        let webhook_url = format!("{base}/api/brightdata/webhook/");
        let notify_url = format!("{base}/api/brightdata/notify/");
        let dashboard_url = format!("{base}{}", crate::paths::DASHBOARD_PATH);
        let credentials = &self.state.credentials;
        if credentials.generated_any() {
            let mut banner = String::from(
                "\nFirst start: generated credentials (owner-only files; the tokens are never printed):\n",
            );
            for (what, source, use_for) in [
                (
                    "webhook token",
                    &credentials.webhook_source,
                    "BrightData auth_header: \"Bearer <token>\"",
                ),
                (
                    "admin token",
                    &credentials.admin_source,
                    "dashboard login and monitor API",
                ),
            ] {
                if let TokenSource::Generated(path) = source {
                    banner.push_str(&format!("  {what:<14} {}   ({use_for})\n", path.display()));
                    self.state.logs.security.write(
                        "token_generated",
                        serde_json::json!({"token": what, "file": path.display().to_string()}),
                    );
                }
            }
            banner.push_str(&format!(
                "  data endpoint  {webhook_url}\n  notify         {notify_url}\n  dashboard      {dashboard_url}\n"
            ));
            println!("{banner}");
        }
        let public = &self.state.public;
        for warning in &public.warnings {
            tracing::warn!("public URL: {warning}");
        }
        if !public.reachable() {
            tracing::warn!(
                public_url = %base,
                "BrightData cannot reach this address: set BRIGHTDATA_BASE_URL, deploy to a platform, or use `server ngrok start` with NGROK_ENABLED=true"
            );
        }
        tracing::info!(
            address = %self.local_addr(),
            public_url = %base,
            found_by = %public.describe(),
            dashboard = %dashboard_url,
            webhook = %webhook_url,
            notify = %notify_url,
            database = %self.state.config.storage.database_url.redacted(),
            instance = %self.state.instance.id,
            "listening"
        );
        self.state.logs.monitor.write(
            "service_started",
            serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "address": self.local_addr().to_string(),
                "webhook_tokens": credentials.webhook_tokens.len(),
            }),
        );
    }
}
