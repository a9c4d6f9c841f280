//! Storage: how much room each kind of data takes and what arrived in the last day (the Setup
//! view, `GET storage/`), and which table to blame when the disk runs low (the health check).

use std::time::Duration;

use app::types::{StorageView, TableSizeView};
use sea_orm::DatabaseConnection;

use super::error::{ViewError, ViewResult};
use crate::store::storage;

pub async fn usage(
    db: &DatabaseConnection,
    body_retention: Option<Duration>,
) -> ViewResult<StorageView> {
    let day_ago = chrono::Utc::now().timestamp_millis() - 24 * 3600 * 1000;
    let arrived = storage::arrived_since(db, day_ago)
        .await
        .map_err(|e| ViewError::internal("reading what arrived", e))?;
    let (tables, note) = match storage::table_bytes(db).await {
        Ok(tables) => (tables, None),
        Err(error) => {
            tracing::warn!(%error, "table sizes");
            (
                Vec::new(),
                Some("the database does not report table sizes".to_owned()),
            )
        }
    };
    Ok(StorageView {
        total_bytes: tables.iter().map(|(_, bytes)| bytes).sum(),
        tables: tables
            .into_iter()
            .map(|(name, bytes)| TableSizeView {
                holds: storage::holds(&name).to_owned(),
                name,
                bytes,
            })
            .collect(),
        events_24h: arrived.events,
        deliveries_24h: arrived.deliveries,
        posts_24h: arrived.posts,
        body_bytes_24h: arrived.body_bytes,
        body_retention_s: body_retention.map(|d| d.as_secs()),
        note,
    })
}
