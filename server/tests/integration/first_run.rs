use std::os::unix::fs::PermissionsExt;

use crate::helpers::{spawn, spawn_in, suite_on_postgresql};

fn read_token(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

#[tokio::test]
async fn without_tokens_the_first_start_generates_them_and_later_starts_reuse_them() {
    let app = spawn()
        .without("BRIGHTDATA_WEBHOOK_TOKEN")
        .without("WEBHOOK_ADMIN_TOKEN")
        .start()
        .await;
    let webhook_file = app.data_dir().join("webhook_token");
    let admin_file = app.data_dir().join("admin_token");
    let webhook = read_token(&webhook_file);
    let admin = read_token(&admin_file);
    assert!(webhook.len() >= 43, "a 256-bit token");
    assert_ne!(webhook, admin);
    for file in [&webhook_file, &admin_file] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert_eq!(app.state.credentials.webhook_tokens[0].expose(), webhook);
    assert_eq!(app.state.credentials.admin_token.expose(), admin);
    let dir = app.stop().await;

    // The security log records the generation (where, not what).
    let security = std::fs::read_to_string(dir.path().join("logs/webhook_security.log")).unwrap();
    assert_eq!(security.matches("token_generated").count(), 2);
    assert!(!security.contains(&webhook) && !security.contains(&admin));

    let again = spawn_in(dir)
        .without("BRIGHTDATA_WEBHOOK_TOKEN")
        .without("WEBHOOK_ADMIN_TOKEN")
        .start()
        .await;
    assert_eq!(again.state.credentials.webhook_tokens[0].expose(), webhook);
    assert_eq!(again.state.credentials.admin_token.expose(), admin);
    let dir = again.stop().await;
    let security = std::fs::read_to_string(dir.path().join("logs/webhook_security.log")).unwrap();
    assert_eq!(
        security.matches("token_generated").count(),
        2,
        "no new tokens"
    );
}

#[tokio::test]
async fn configured_tokens_leave_the_data_dir_without_token_files() {
    let app = spawn().start().await;
    assert!(!app.data_dir().join("webhook_token").exists());
    assert!(!app.data_dir().join("admin_token").exists());
    app.stop().await;
}

#[tokio::test]
async fn start_and_stop_are_recorded_in_the_monitor_log() {
    let app = spawn().start().await;
    assert!(app.log_dir().join("webhook_monitor.log").exists());
    let dir = app.stop().await;
    let monitor = std::fs::read_to_string(dir.path().join("logs/webhook_monitor.log")).unwrap();
    let events: Vec<String> = monitor
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    // On PostgreSQL the instance also takes the lead of the service, once, if it got to it
    // before it stopped (on SQLite it is the only one, and leads without a word).
    let (leadership, service): (Vec<String>, Vec<String>) = events
        .into_iter()
        .partition(|e| e == "\"leadership_taken\"");
    assert_eq!(service, ["\"service_started\"", "\"service_stopped\""]);
    assert!(leadership.len() <= usize::from(suite_on_postgresql()));
}

/// `LOG_FORMAT=text` written to a pipe (a file, a platform's log collector) carries no colour
/// escape codes: colour is for terminals only.
#[tokio::test]
async fn text_logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::process::server(dir.path());
    command
        .env("LOG_FORMAT", "text")
        .env("BRIGHTDATA_WEBHOOK_TOKEN", crate::helpers::WEBHOOK_TOKEN)
        .env("WEBHOOK_ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = crate::process::Reaped(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let listening = line.contains("listening");
            lines.push(line);
            if listening {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO") && l.contains("listening")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a piped log: {lines:?}"
    );
}
