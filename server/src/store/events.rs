//! Event rows: one per request to an ingestion endpoint, inserted in batches by the writer.

use sea_orm::{ActiveValue::Set, DatabaseTransaction, DbErr, EntityTrait};

use super::entities::events;
use super::ids::IdAllocator;

/// Rows per multi-row INSERT: well under SQLite's bound-parameter limit with 15 columns.
const ROWS_PER_INSERT: usize = 500;

/// An event before it is stored (the writer gives it its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at_ms: i64,
    pub endpoint: &'static str,
    pub outcome: &'static str,
    pub status: u16,
    pub latency_us: i64,
    pub bytes: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub snapshot_id: Option<String>,
    pub platform: Option<String>,
    pub records: Option<i64>,
    pub delivery_id: Option<i64>,
    pub error: Option<String>,
    /// Request headers as JSON, secrets redacted.
    pub headers: Option<String>,
}

pub async fn insert_events(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    new: &[NewEvent],
) -> Result<Vec<events::Model>, DbErr> {
    let ids = ids.take(txn, "events", new.len()).await?;
    let models: Vec<events::Model> = new
        .iter()
        .zip(ids)
        .map(|(event, id)| events::Model {
            id,
            at_ms: event.at_ms,
            endpoint: event.endpoint.to_owned(),
            outcome: event.outcome.to_owned(),
            status: event.status as i16,
            latency_us: event.latency_us,
            bytes: event.bytes,
            client_ip: event.client_ip.clone(),
            user_agent: event.user_agent.clone(),
            snapshot_id: event.snapshot_id.clone(),
            platform: event.platform.clone(),
            records: event.records,
            delivery_id: event.delivery_id,
            error: event.error.clone(),
            headers: event.headers.clone(),
        })
        .collect();
    for rows in models.chunks(ROWS_PER_INSERT) {
        let active = rows.iter().map(|m| events::ActiveModel {
            id: Set(m.id),
            at_ms: Set(m.at_ms),
            endpoint: Set(m.endpoint.clone()),
            outcome: Set(m.outcome.clone()),
            status: Set(m.status),
            latency_us: Set(m.latency_us),
            bytes: Set(m.bytes),
            client_ip: Set(m.client_ip.clone()),
            user_agent: Set(m.user_agent.clone()),
            snapshot_id: Set(m.snapshot_id.clone()),
            platform: Set(m.platform.clone()),
            records: Set(m.records),
            delivery_id: Set(m.delivery_id),
            error: Set(m.error.clone()),
            headers: Set(m.headers.clone()),
        });
        events::Entity::insert_many(active)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(models)
}
