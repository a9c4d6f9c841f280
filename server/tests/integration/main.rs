//! Integration tests: the real server on 127.0.0.1:0 with a fresh database, spoken to over HTTP.
//! One test binary (modules below) keeps link time down.

mod cli;
mod cluster;
mod completeness;
mod connections;
mod dashboard;
mod deliveries;
mod deploy_files;
mod drift;
mod durability;
mod export_memory;
mod first_run;
mod health;
mod helpers;
mod monitor;
mod notify;
mod payloads;
mod postgres;
mod posts;
mod process;
mod replay;
mod security;
mod sessions;
mod storage;
mod streaming;
mod tools;
