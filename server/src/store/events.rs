//! Event rows: one per request to an ingestion endpoint, inserted in batches by the writer.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use super::entities::events;
use super::ids::IdAllocator;
use super::multirow;

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
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "events",
        &[
            "id",
            "at_ms",
            "endpoint",
            "outcome",
            "status",
            "latency_us",
            "bytes",
            "client_ip",
            "user_agent",
            "snapshot_id",
            "platform",
            "records",
            "delivery_id",
            "error",
            "headers",
        ],
        "",
        &models,
        |m, values| {
            values.extend([
                m.id.into(),
                m.at_ms.into(),
                m.endpoint.as_str().into(),
                m.outcome.as_str().into(),
                m.status.into(),
                m.latency_us.into(),
                m.bytes.into(),
                m.client_ip.clone().into(),
                m.user_agent.clone().into(),
                m.snapshot_id.clone().into(),
                m.platform.clone().into(),
                m.records.into(),
                m.delivery_id.into(),
                m.error.clone().into(),
                m.headers.clone().into(),
            ]);
        },
    );
    multirow::execute_all(txn, statements).await?;
    Ok(models)
}
