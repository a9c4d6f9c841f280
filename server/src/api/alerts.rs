//! Alerts: list (active by default) and acknowledge.

use app::types::{AlertFilter, AlertList, AlertView};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Deserialize;
use serde_json::json;

use super::events::given;
use crate::error::ApiError;
use crate::monitor::alerts::view;
use crate::state::AppState;
use crate::store::entities::alerts;

/// Alerts, most recently seen first, for the API and the dashboard alike.
pub async fn list_alerts(
    db: &DatabaseConnection,
    filter: &AlertFilter,
) -> Result<AlertList, ApiError> {
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
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_status",
                format!("status must be active, resolved or all, not {other:?}"),
            ));
        }
    }
    if let Some(severity) = given(&filter.severity) {
        if !matches!(severity, "warning" | "critical") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
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
        .map_err(|e| ApiError::internal("listing alerts", e))?;
    Ok(AlertList {
        alerts: rows.into_iter().map(view).collect(),
    })
}

/// `GET alerts/?status=active|resolved|all&severity=warning|critical`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<AlertFilter>,
) -> Result<Response, ApiError> {
    Ok(Json(list_alerts(&state.db, &filter).await?).into_response())
}

#[derive(Deserialize, Default)]
pub struct Ack {
    /// Who acknowledges (free text; defaults to `admin`).
    by: Option<String>,
}

/// Marks an alert acknowledged by `by` (trimmed, at most 128 characters; `admin` when empty), logs
/// it and publishes it on the live hub, for the API and the dashboard alike.
pub async fn acknowledge_alert(
    state: &AppState,
    id: i64,
    by: Option<String>,
) -> Result<AlertView, ApiError> {
    let by: String = by
        .map(|b| b.trim().chars().take(128).collect::<String>())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "admin".to_owned());
    let now = chrono::Utc::now().timestamp_millis();
    let updated = state
        .writer
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
        .map_err(|e| ApiError::internal("acknowledging an alert", e))?
        .ok_or_else(|| ApiError::not_found(format!("no alert {id}")))?;
    let alert = view(updated);
    state.logs.monitor.write(
        "alert_acknowledged",
        json!({"id": alert.id, "rule": alert.rule, "by": alert.acknowledged_by}),
    );
    state
        .hub
        .publish(app::types::LiveMessage::Alert(alert.clone()));
    Ok(alert)
}

/// `POST alerts/{id}/ack/` with an optional `{"by": "name"}`.
pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Ack>>,
) -> Result<Response, ApiError> {
    let by = body.and_then(|Json(ack)| ack.by);
    Ok(Json(acknowledge_alert(&state, id, by).await?).into_response())
}
