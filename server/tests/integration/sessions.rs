//! Dashboard sessions: a logout holds after a restart (revocations are in the database), and the
//! live stream ends when its session expires or is ended, instead of running forever.

use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::helpers::{TestApp, open_live, session_cookie, spawn, spawn_in};

/// The status of an admin API call made with the cookie alone.
async fn with_cookie(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/api/brightdata/webhook/health/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn log_out(app: &TestApp, cookie: &str) {
    let answer = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// Whether the server closes the socket within `patience` (whatever it sends before).
async fn closed_within(stream: &mut tokio::net::TcpStream, patience: Duration) -> bool {
    tokio::time::timeout(patience, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_logged_out_cookie_stays_refused_after_a_restart() {
    let app = spawn().start().await;
    let cookie = session_cookie(&app).await;
    let other = session_cookie(&app).await;
    assert_eq!(with_cookie(&app, &cookie).await, 200);
    log_out(&app, &cookie).await;
    assert_eq!(with_cookie(&app, &cookie).await, 401);
    let dir = app.stop().await;

    // Same data, same admin token: the cookie's signature is still good; only the recorded
    // logout stands between it and the API.
    let again = spawn_in(dir).start().await;
    assert_eq!(
        with_cookie(&again, &cookie).await,
        401,
        "revived by a restart"
    );
    assert_eq!(
        with_cookie(&again, &other).await,
        200,
        "other sessions go on"
    );
    assert_eq!(
        again.number("SELECT count(*) FROM revoked_sessions").await,
        1
    );
    again.stop().await;
}

#[tokio::test]
async fn the_live_stream_ends_when_its_session_is_logged_out() {
    let app = spawn().start().await;
    let cookie = session_cookie(&app).await;
    let mut live = open_live(&app, &cookie).await;
    log_out(&app, &cookie).await;
    // Checked at each heartbeat (5 s).
    assert!(
        closed_within(&mut live, Duration::from_secs(12)).await,
        "the stream outlived its session"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_live_stream_ends_when_its_session_expires() {
    let app = spawn().var("WEBHOOK_SESSION_TTL", "2").start().await;
    let cookie = session_cookie(&app).await;
    let mut live = open_live(&app, &cookie).await;
    assert!(
        closed_within(&mut live, Duration::from_secs(12)).await,
        "the stream outlived its session"
    );
    app.stop().await;
}
