//! Compression of the answers that are worth it.

use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};

/// Compression (brotli or gzip, as the client accepts) for the monitor API's and the dashboard's
/// answers: JSON, HTML and exports. Never the ingestion endpoints (their answers are small and
/// their latency is what BrightData sees), never a websocket's upgrade.
pub fn layer() -> CompressionLayer<impl Predicate> {
    let not_an_upgrade = |status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions| {
        status != StatusCode::SWITCHING_PROTOCOLS
    };
    // Parquet exports are Snappy-compressed already: gzip saved 6% of a 150 MB export and
    // took it from ~4.5 s to 7.9 s (`bench large`'s snapshot, 2026-12-04).
    let not_parquet = NotForContentType::const_new("application/vnd.apache.parquet");
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(not_an_upgrade).and(not_parquet))
}
