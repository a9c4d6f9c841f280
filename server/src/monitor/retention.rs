//! Retention: the database does not grow without bound. Every `WEBHOOK_RETENTION_INTERVAL` the oldest
//! events beyond `WEBHOOK_MAX_EVENTS`, and those older than `WEBHOOK_METRICS_RETENTION`, are deleted in
//! batches (through the writer, so ingestion never waits long); minute rollups go after two days, hour
//! rollups after 400 days (long-range charts outlive the events); replay keys after a week (BrightData
//! retries within minutes; the contract is at least 72 h); resolved alerts after 30 days; raw
//! delivery bodies after `WEBHOOK_BODY_RETENTION` (they serve replay only: the posts stay).

use std::time::Duration;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use tokio::task::JoinHandle;

use super::now_ms;
use crate::schedule::Rounds;
use crate::store::Writer;
use crate::store::entities::{deliveries, delivery_chunks, events};
use crate::store::rollups::{self, Granularity};
use delivery::lifecycle::DeliveryState;

/// Rows deleted per statement.
pub const BATCH: u64 = 5000;
const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_events: u64,
    pub event_age: Duration,
    /// How long raw bodies are kept (`None`: for ever).
    pub body_age: Option<Duration>,
}

/// Deliveries whose bodies go per statement (a body can be up to the stored-body limit).
pub const BODY_BATCH: u64 = 200;

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub events: u64,
    pub rollups: u64,
    pub replay_keys: u64,
    pub alerts: u64,
    /// Deliveries whose raw body went.
    pub bodies: u64,
}

/// One pass over everything; returns what went.
pub async fn run_once(
    db: &DatabaseConnection,
    writer: &Writer,
    policy: Policy,
) -> Result<Deleted, DbErr> {
    let now = now_ms();
    let mut deleted = Deleted::default();

    // The id at which the newest `max_events` begin: everything below goes.
    let keep_from: Option<i64> = events::Entity::find()
        .select_only()
        .column(events::Column::Id)
        .order_by_desc(events::Column::Id)
        .offset(policy.max_events.saturating_sub(1))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let too_old = now - policy.event_age.as_millis() as i64;
    loop {
        let batch = writer
            .run(move |txn| Box::pin(delete_events(txn, keep_from, too_old)))
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        deleted.events += batch;
        if batch < BATCH {
            break;
        }
    }

    deleted.rollups = writer
        .run(move |txn| {
            Box::pin(async move {
                Ok(
                    rollups::delete_before(txn, Granularity::Minute, now - 2 * DAY_MS).await?
                        + rollups::delete_before(txn, Granularity::Hour, now - 400 * DAY_MS)
                            .await?,
                )
            })
        })
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    deleted.replay_keys =
        delete_where(writer, "replay_keys", "seen_ms", now - 7 * DAY_MS, None).await?;
    deleted.alerts = delete_where(
        writer,
        "alerts",
        "resolved_ms",
        now - 30 * DAY_MS,
        Some(("status", "resolved")),
    )
    .await?;
    if let Some(age) = policy.body_age {
        let before = now - age.as_millis() as i64;
        loop {
            let batch = writer
                .run(move |txn| Box::pin(drop_bodies(txn, before)))
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            deleted.bodies += batch;
            if batch < BODY_BATCH {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Drops the raw bodies of up to [`BODY_BATCH`] deliveries received before `before` whose
/// records are extracted (stored or failed: a body still to be extracted is never dropped). The
/// delivery's row stays, marked as no longer holding its body (a replay then says so).
async fn drop_bodies(txn: &DatabaseTransaction, before: i64) -> Result<u64, DbErr> {
    let done = [DeliveryState::Stored, DeliveryState::Failed].map(DeliveryState::as_str);
    let ids: Vec<i64> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::BodyKept.eq(true))
        .filter(deliveries::Column::ReceivedMs.lt(before))
        .filter(deliveries::Column::State.is_in(done))
        .order_by_asc(deliveries::Column::Id)
        .limit(BODY_BATCH)
        .into_tuple()
        .all(txn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    delivery_chunks::Entity::delete_many()
        .filter(delivery_chunks::Column::DeliveryId.is_in(ids.clone()))
        .exec(txn)
        .await?;
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::BodyKept, Expr::value(false))
        .filter(deliveries::Column::Id.is_in(ids.clone()))
        .exec(txn)
        .await?;
    Ok(ids.len() as u64)
}

/// Deletes up to `BATCH` events that are older than `too_old` or below `keep_from`.
async fn delete_events(
    txn: &DatabaseTransaction,
    keep_from: Option<i64>,
    too_old: i64,
) -> Result<u64, DbErr> {
    let mut condition = Expr::col(Alias::new("at_ms")).lt(too_old);
    if let Some(keep_from) = keep_from {
        condition = condition.or(Expr::col(Alias::new("id")).lt(keep_from));
    }
    let mut chosen = Query::select();
    chosen
        .column(Alias::new("id"))
        .from(Alias::new("events"))
        .and_where(condition)
        .order_by(Alias::new("id"), sea_orm::Order::Asc)
        .limit(BATCH);
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new("events"))
        .and_where(Expr::col(Alias::new("id")).in_subquery(chosen));
    Ok(txn
        .execute_raw(txn.get_database_backend().build(&delete))
        .await?
        .rows_affected())
}

async fn delete_where(
    writer: &Writer,
    table: &'static str,
    column: &'static str,
    before: i64,
    also: Option<(&'static str, &'static str)>,
) -> Result<u64, DbErr> {
    writer
        .run(move |txn| {
            Box::pin(async move {
                let mut delete = Query::delete();
                delete
                    .from_table(Alias::new(table))
                    .and_where(Expr::col(Alias::new(column)).lt(before));
                if let Some((column, value)) = also {
                    delete.and_where(Expr::col(Alias::new(column)).eq(value));
                }
                Ok(txn
                    .execute_raw(txn.get_database_backend().build(&delete))
                    .await?
                    .rows_affected())
            })
        })
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))
}

pub fn spawn(
    db: DatabaseConnection,
    writer: Writer,
    policy: Policy,
    mut rounds: Rounds,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while rounds.next().await {
            match run_once(&db, &writer, policy).await {
                Ok(deleted) if deleted != Deleted::default() => {
                    tracing::info!(?deleted, "retention");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "retention pass failed"),
            }
        }
    })
}
