//! Alerts: the list (active by default) and acknowledging one.

use app::types::{AlertFilter, AlertList, AlertView};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::error::{ViewError, ViewResult};
use super::paging::given;
use crate::live::LiveHub;
use crate::log_file::AuditLogs;
use crate::monitor::alerts::view;
use crate::store::Writer;
use crate::store::entities::alerts;

/// Alerts, most recently seen first.
pub async fn list(db: &DatabaseConnection, filter: &AlertFilter) -> ViewResult<AlertList> {
    let mut select = alerts::Entity::find();
    match filter
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => {
            select = select.filter(alerts::Column::Status.eq("active"));
        }
        Some("all") => {}
        Some(status @ ("active" | "resolved")) => {
            select = select.filter(alerts::Column::Status.eq(status));
        }
        Some(other) => {
            return Err(ViewError::invalid(
                "invalid_status",
                format!("status must be active, resolved or all, not {other:?}"),
            ));
        }
    }
    if let Some(severity) = given(&filter.severity) {
        if !matches!(severity, "warning" | "critical") {
            return Err(ViewError::invalid(
                "invalid_severity",
                "severity must be warning or critical",
            ));
        }
        select = select.filter(alerts::Column::Severity.eq(severity));
    }
    let rows = select
        .order_by_desc(alerts::Column::LastSeenMs)
        .limit(filter.limit.unwrap_or(200).clamp(1, 1000))
        .all(db)
        .await
        .map_err(|e| ViewError::internal("listing alerts", e))?;
    Ok(AlertList {
        alerts: rows.into_iter().map(view).collect(),
    })
}

/// Marks an alert acknowledged by `by` (trimmed, at most 128 characters; `admin` when empty), logs
/// it and publishes it on the live hub.
pub async fn acknowledge(
    writer: &Writer,
    logs: &AuditLogs,
    hub: &LiveHub,
    id: i64,
    by: Option<String>,
) -> ViewResult<AlertView> {
    let by: String = by
        .map(|b| b.trim().chars().take(128).collect::<String>())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "admin".to_owned());
    let now = chrono::Utc::now().timestamp_millis();
    let updated = writer
        .run(move |txn| {
            Box::pin(async move {
                let Some(alert) = alerts::Entity::find_by_id(id).one(txn).await? else {
                    return Ok(None);
                };
                let mut update: alerts::ActiveModel = alert.into();
                update.acknowledged_by = Set(Some(by));
                update.acknowledged_ms = Set(Some(now));
                update.update(txn).await.map(Some)
            })
        })
        .await
        .map_err(|e| ViewError::internal("acknowledging an alert", e))?
        .ok_or_else(|| ViewError::not_found(format!("no alert {id}")))?;
    let alert = view(updated);
    logs.monitor.write(
        "alert_acknowledged",
        json!({"id": alert.id, "rule": alert.rule, "by": alert.acknowledged_by}),
    );
    hub.publish(app::types::LiveMessage::Alert(alert.clone()));
    Ok(alert)
}
