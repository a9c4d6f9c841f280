//! The `server` binary itself: configuration errors, first-run banner, migrate, graceful shutdown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{Reaped, server, wait_until_listening};

#[test]
fn a_malformed_variable_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, hint) in [
        ("WEBHOOK_RATE_LIMIT", "abc", "requests per minute"),
        ("WEBHOOK_ALLOWED_IPS", "10.0.0.0/33", "CIDR"),
        ("WEBHOOK_ERROR_THRESHOLD", "2", "between 0 and 1"),
    ] {
        let output = server(dir.path()).env(var, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var) && stderr.contains(hint), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    // Nothing was created: the service never started.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_bad_token_value_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path())
        .env("BRIGHTDATA_WEBHOOK_TOKEN", "Bearer topsecret-value")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("BRIGHTDATA_WEBHOOK_TOKEN"));
    assert!(!stderr.contains("topsecret"));
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path()).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(dir.path().join("data/track-futura.db").exists());
}

#[test]
fn first_start_prints_where_the_tokens_are_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Reaped(
        server(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (listening, banner) = wait_until_listening(&mut child.0);
    let address = listening["address"].as_str().unwrap().to_owned();

    let webhook_token = std::fs::read_to_string(dir.path().join("data/webhook_token")).unwrap();
    let admin_token = std::fs::read_to_string(dir.path().join("data/admin_token")).unwrap();
    assert!(banner.contains("First start"), "{banner}");
    assert!(banner.contains("data/webhook_token") && banner.contains("data/admin_token"));
    assert!(
        banner.contains("/api/brightdata/webhook/") && banner.contains("/api/brightdata/notify/")
    );
    assert!(!banner.contains(webhook_token.trim()) && !banner.contains(admin_token.trim()));

    let health = std::net::TcpStream::connect(&address).map(|mut stream| {
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /api/health/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    });
    assert!(health.unwrap().starts_with("HTTP/1.1 200"));

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");

    // A second start reuses the tokens and prints no banner.
    let mut child = Reaped(
        server(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (_, before) = wait_until_listening(&mut child.0);
    assert!(!before.contains("First start"));
}
