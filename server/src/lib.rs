//! The Track-Futura webhook service: receives BrightData deliveries, stores them durably, monitors
//! itself and serves the live dashboard.

pub mod api;
pub mod brightdata_api;
pub mod cli;
pub mod completeness;
pub mod compression;
pub mod config;
pub mod credentials;
pub mod dashboard;
pub mod db;
pub mod drift;
pub mod error;
pub mod events;
pub mod extractor;
pub mod http_server;
pub mod ingest;
pub mod leadership;
pub mod live;
pub mod live_feed;
pub mod log_file;
pub mod monitor;
pub mod ngrok;
pub mod outbound;
pub mod paths;
pub mod public_url;
pub mod rate_key;
pub mod refusals;
pub mod routes;
pub mod schedule;
pub mod sessions;
pub mod sqlite_memory;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod views;
