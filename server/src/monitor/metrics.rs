//! Metrics over a window, from the rollups (never a scan of the events).

use std::collections::BTreeMap;

use app::types::{BucketCount, LatencyView, MetricsView, PlatformView, SnapshotCountView};
use sea_orm::{ConnectionTrait, DbErr};

use crate::store::outcome::Outcome;
use crate::store::rollups::{self, Rollup};

/// Snapshots listed at most.
const TOP_SNAPSHOTS: usize = 50;

fn is_success(outcome: &str) -> bool {
    matches!(outcome, "accepted" | "duplicate")
}

/// Outcomes only a caller holding the webhook token can reach.
pub fn is_authenticated(outcome: &str) -> bool {
    Outcome::parse(outcome).is_some_and(|o| !o.is_before_authentication())
}

pub async fn compute(
    db: &impl ConnectionTrait,
    window: &str,
    window_ms: i64,
    now_ms: i64,
) -> Result<MetricsView, DbErr> {
    let from_ms = now_ms - window_ms;
    let rows = rollups::read_window(db, from_ms, now_ms + 1).await?;
    let mut view = summarise(window, from_ms, now_ms, &rows);
    view.by_snapshot = rollups::snapshot_totals(db, from_ms, now_ms + 1, TOP_SNAPSHOTS)
        .await?
        .into_iter()
        .map(|s| SnapshotCountView {
            snapshot_id: s.snapshot_id,
            requests: s.requests,
            records: s.records,
        })
        .collect();
    Ok(view)
}

/// Everything the metrics say from rollup rows (the per-snapshot list comes from its own rollups).
pub fn summarise(window: &str, from_ms: i64, to_ms: i64, rows: &[Rollup]) -> MetricsView {
    let mut total = Rollup::total();
    let mut by_outcome: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_platform: BTreeMap<&str, (Rollup, i64)> = BTreeMap::new();
    let mut series: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for row in rows {
        total.merge(row);
        *by_outcome.entry(row.key.outcome.clone()).or_default() += row.requests;
        if !row.key.platform.is_empty() {
            let entry = by_platform
                .entry(&row.key.platform)
                .or_insert_with(|| (Rollup::total(), 0));
            entry.0.merge(row);
            if row.key.outcome == "accepted" {
                entry.1 += row.requests;
            }
        }
        *series
            .entry((row.key.bucket_ms, row.granularity.span_ms()))
            .or_default() += row.requests;
    }

    let requests = total.requests;
    let accepted = by_outcome.get("accepted").copied().unwrap_or(0);
    let duplicates = by_outcome.get("duplicate").copied().unwrap_or(0);
    let rejected: i64 = by_outcome
        .iter()
        .filter(|(outcome, _)| !is_success(outcome))
        .map(|(_, n)| n)
        .sum();
    let authenticated: i64 = by_outcome
        .iter()
        .filter(|(outcome, _)| is_authenticated(outcome))
        .map(|(_, n)| n)
        .sum();
    let authenticated_failed = authenticated - accepted - duplicates;
    let minutes = ((to_ms - from_ms) as f64 / 60_000.0).max(1.0 / 60.0);
    let peak = series
        .iter()
        .map(|((_, span), n)| *n as f64 / (*span as f64 / 60_000.0))
        .fold(0.0, f64::max);

    MetricsView {
        window: window.to_owned(),
        from_ms,
        to_ms,
        requests,
        accepted,
        duplicates,
        rejected,
        by_outcome,
        success_rate: if requests == 0 {
            1.0
        } else {
            (accepted + duplicates) as f64 / requests as f64
        },
        error_rate: if requests == 0 {
            0.0
        } else {
            rejected as f64 / requests as f64
        },
        authenticated,
        authenticated_error_rate: if authenticated == 0 {
            0.0
        } else {
            authenticated_failed as f64 / authenticated as f64
        },
        latency: latency(&total),
        throughput: app::types::ThroughputView {
            per_minute_mean: requests as f64 / minutes,
            per_minute_peak: peak,
            series: series
                .into_iter()
                .map(|((at_ms, span_ms), requests)| BucketCount {
                    at_ms,
                    span_ms,
                    requests,
                })
                .collect(),
        },
        bytes: total.bytes,
        records: total.records,
        by_platform: by_platform
            .into_iter()
            .map(|(platform, (r, accepted))| PlatformView {
                platform: platform.to_owned(),
                requests: r.requests,
                accepted,
                records: r.records,
                bytes: r.bytes,
            })
            .collect(),
        by_snapshot: Vec::new(),
    }
}

pub fn latency(rollup: &Rollup) -> LatencyView {
    LatencyView {
        p50_ms: rollup.latency.percentile_ms(50.0),
        p95_ms: rollup.latency.percentile_ms(95.0),
        p99_ms: rollup.latency.percentile_ms(99.0),
        max_ms: rollup.latency_max_us as f64 / 1000.0,
        mean_ms: if rollup.requests == 0 {
            0.0
        } else {
            rollup.latency_sum_us as f64 / rollup.requests as f64 / 1000.0
        },
    }
}
