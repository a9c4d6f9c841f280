//! The `server` binary as a child process: its environment, waiting for it to listen, reaping it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `program` (the server, or a tracer in front of it) with a clean environment: loopback, an
/// ephemeral port, and data and logs under `dir`.
pub fn with_server_env(mut command: Command, dir: &std::path::Path) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATA_DIR", dir.join("data"))
        .env("LOG_DIR", dir.join("logs"))
        .env("LOG_FORMAT", "json");
    command
}

pub fn server(dir: &std::path::Path) -> Command {
    with_server_env(Command::new(env!("CARGO_BIN_EXE_server")), dir)
}

/// Kills and reaps the child if a test fails half-way, so no process outlives its test.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stdout until a JSON log line with `message == "listening"`, returning it and the text before.
pub fn wait_until_listening(child: &mut Child) -> (serde_json::Value, String) {
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut before = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "server did not start: {before}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("server exited before listening: {before}");
        }
        let json = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
        if json["message"] == "listening" {
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return (json, before);
        }
        before.push_str(&line);
    }
}
