//! Analytics over a range: a time series (minute, hour or day buckets by range) with totals and
//! latency percentiles from the rollups, top error types, top client addresses and errors (from the
//! events still kept), per platform, and records per snapshot.

use std::collections::BTreeMap;

use app::types::{AnalyticsBucket, AnalyticsView, ClientIpView, Ranked, SnapshotRecordsView};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder, QuerySelect};

use super::metrics;
use crate::store::entities::snapshots;
use crate::store::rollups::{self, Granularity, Rollup};

const TOP: u64 = 10;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A range's time series from the rollups: minute buckets up to 6 h, hours up to 7 d, days beyond.
pub struct Series {
    /// `minute`, `hour` or `day`.
    pub bucket: &'static str,
    pub buckets: Vec<AnalyticsBucket>,
    /// Refusal outcomes, most frequent first.
    pub error_types: Vec<Ranked>,
    /// The rollup rows read (for totals over the whole range).
    pub rows: Vec<Rollup>,
}

pub async fn series(db: &impl ConnectionTrait, range_ms: i64, now: i64) -> Result<Series, DbErr> {
    let from = now - range_ms;
    let (bucket, granularity, span_ms) = if range_ms <= 6 * HOUR_MS {
        ("minute", Granularity::Minute, Granularity::Minute.span_ms())
    } else if range_ms <= 7 * DAY_MS {
        ("hour", Granularity::Hour, Granularity::Hour.span_ms())
    } else {
        ("day", Granularity::Hour, DAY_MS)
    };
    let rows = rollups::read_range(db, granularity, granularity.floor(from), now + 1).await?;

    // Per bucket: totals, accepted, rejected, authenticated, authenticated and failed.
    let mut series: BTreeMap<i64, (Rollup, i64, i64, i64, i64)> = BTreeMap::new();
    let mut error_types: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        let at = row.key.bucket_ms - row.key.bucket_ms.rem_euclid(span_ms);
        let entry = series
            .entry(at)
            .or_insert_with(|| (Rollup::total(), 0, 0, 0, 0));
        entry.0.merge(row);
        let succeeded = matches!(row.key.outcome.as_str(), "accepted" | "duplicate");
        if succeeded {
            entry.1 += row.requests;
        } else {
            entry.2 += row.requests;
            *error_types.entry(row.key.outcome.clone()).or_default() += row.requests;
        }
        if metrics::is_authenticated(&row.key.outcome) {
            entry.3 += row.requests;
            if !succeeded {
                entry.4 += row.requests;
            }
        }
    }
    let mut error_types: Vec<Ranked> = error_types
        .into_iter()
        .map(|(key, count)| Ranked { key, count })
        .collect();
    error_types.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    let buckets = series
        .into_iter()
        .map(
            |(at_ms, (total, accepted, rejected, authenticated, authenticated_failed))| {
                let latency = metrics::latency(&total);
                AnalyticsBucket {
                    at_ms,
                    span_ms,
                    requests: total.requests,
                    accepted,
                    rejected,
                    authenticated,
                    authenticated_failed,
                    records: total.records,
                    p50_ms: latency.p50_ms,
                    p95_ms: latency.p95_ms,
                    p99_ms: latency.p99_ms,
                }
            },
        )
        .collect();
    Ok(Series {
        bucket,
        buckets,
        error_types,
        rows,
    })
}

pub async fn compute(
    db: &impl ConnectionTrait,
    range: &str,
    range_ms: i64,
    now: i64,
) -> Result<AnalyticsView, DbErr> {
    let from = now - range_ms;
    let series = series(db, range_ms, now).await?;
    let summary = metrics::summarise(range, from, now, &series.rows);
    Ok(AnalyticsView {
        range: range.to_owned(),
        from_ms: from,
        to_ms: now,
        bucket: series.bucket.to_owned(),
        buckets: series.buckets,
        top_error_types: series.error_types,
        top_errors: top_errors(db, from).await?,
        top_client_ips: top_client_ips(db, from).await?,
        per_platform: summary.by_platform,
        records_per_snapshot: snapshots::Entity::find()
            .order_by_desc(snapshots::Column::UpdatedMs)
            .limit(50)
            .all(db)
            .await?
            .into_iter()
            .map(|s| SnapshotRecordsView {
                snapshot_id: s.id,
                status: s.status,
                platform: s.platform,
                records: s.posts,
                input_errors: s.input_errors,
                deliveries: s.deliveries,
                updated_ms: s.updated_ms,
            })
            .collect(),
    })
}

async fn top_errors(db: &impl ConnectionTrait, from: i64) -> Result<Vec<Ranked>, DbErr> {
    let mut query = Query::select();
    query
        .column(Alias::new("error"))
        .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
        .from(Alias::new("events"))
        .and_where(Expr::col(Alias::new("at_ms")).gte(from))
        .and_where(Expr::col(Alias::new("error")).is_not_null())
        .group_by_col(Alias::new("error"))
        .order_by(Alias::new("n"), Order::Desc)
        .limit(TOP);
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Ranked {
                key: row.try_get("", "error")?,
                count: row.try_get("", "n")?,
            })
        })
        .collect()
}

async fn top_client_ips(db: &impl ConnectionTrait, from: i64) -> Result<Vec<ClientIpView>, DbErr> {
    let refused = Expr::case(
        Expr::col(Alias::new("outcome")).is_in(["accepted", "duplicate"]),
        0,
    )
    .finally(1);
    let mut query = Query::select();
    query
        .column(Alias::new("client_ip"))
        .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
        // SUM is NUMERIC on PostgreSQL: cast so both backends answer a BIGINT.
        .expr_as(
            Func::cast_as(Func::sum(refused), Alias::new("BIGINT")),
            Alias::new("refused"),
        )
        .from(Alias::new("events"))
        .and_where(Expr::col(Alias::new("at_ms")).gte(from))
        .and_where(Expr::col(Alias::new("client_ip")).is_not_null())
        .group_by_col(Alias::new("client_ip"))
        .order_by(Alias::new("n"), Order::Desc)
        .limit(TOP);
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ClientIpView {
                ip: row.try_get("", "client_ip")?,
                requests: row.try_get("", "n")?,
                rejected: row.try_get("", "refused")?,
            })
        })
        .collect()
}
