//! The HTTP floor: what this machine allows for the `ingest` benchmark before any storage. Same
//! stack as the real server (tokio, hyper via axum, mimalloc) and the same per-request checks that
//! cannot be skipped (bearer token, HMAC of the body, JSON parse), but nothing is stored, recorded
//! or waited for. `bench ingest --floor` runs against it; the real server's rate over this one says
//! how much of the machine storage and monitoring take.
//!
//! Environment as the real server: HOST, PORT (0 = any), BRIGHTDATA_WEBHOOK_TOKEN,
//! WEBHOOK_SIGNING_SECRET. Prints the same JSON "listening" line on stdout.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Keys {
    token: String,
    secret: Vec<u8>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let keys = Arc::new(Keys {
        token: var("BRIGHTDATA_WEBHOOK_TOKEN"),
        secret: var("WEBHOOK_SIGNING_SECRET").into_bytes(),
    });
    let address = format!("{}:{}", var("HOST"), var("PORT"));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!(
        "{}",
        serde_json::json!({"message": "listening", "address": listener.local_addr()?.to_string()})
    );
    let app = Router::new()
        .route("/api/brightdata/webhook/", post(receive))
        .with_state(keys);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(State(keys): State<Arc<Keys>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let token = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(keys.token.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let signature = header("x-brightdata-signature")
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|v| hex::decode(v).ok());
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.secret).expect("any key length");
    mac.update(&body);
    if signature.is_none_or(|s| mac.verify_slice(&s).is_err()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(records) = serde_json::from_slice::<Vec<serde_json::Value>>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    axum::Json(serde_json::json!({"status": "ok", "records": records.len()})).into_response()
}
