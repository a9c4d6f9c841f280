//! Snapshots: the list (most recently active first) and one snapshot with its deliveries,
//! notifications, input errors and a sample of its posts.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entities::{deliveries, input_errors, notifications, posts, snapshots};

#[derive(Deserialize)]
pub struct SnapshotFilter {
    status: Option<String>,
    platform: Option<String>,
    /// `<updated_ms>:<id>` from the previous page.
    cursor: Option<String>,
    limit: Option<u64>,
}

fn snapshot_json(s: snapshots::Model) -> Value {
    json!({
        "id": s.id,
        "dataset_id": s.dataset_id,
        "platform": s.platform,
        "status": s.status,
        "error": s.error,
        "records": s.posts,
        "input_errors": s.input_errors,
        "deliveries": s.deliveries,
        "created_ms": s.created_ms,
        "updated_ms": s.updated_ms,
        "notified_ms": s.notified_ms,
        "ready_ms": s.ready_ms,
        "delivered_ms": s.delivered_ms,
        "finished_ms": s.finished_ms,
    })
}

/// `GET snapshots/?status=&platform=&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<SnapshotFilter>,
) -> Result<Response, ApiError> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let mut select = snapshots::Entity::find();
    if let Some(status) = &filter.status {
        select = select.filter(snapshots::Column::Status.eq(status.as_str()));
    }
    if let Some(platform) = &filter.platform {
        select = select.filter(snapshots::Column::Platform.eq(platform.as_str()));
    }
    if let Some(cursor) = &filter.cursor {
        let (at, id) = cursor
            .split_once(':')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
            .ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "invalid cursor")
            })?;
        select = select.filter(
            Condition::any()
                .add(snapshots::Column::UpdatedMs.lt(at))
                .add(
                    Condition::all()
                        .add(snapshots::Column::UpdatedMs.eq(at))
                        .add(snapshots::Column::Id.lt(id)),
                ),
        );
    }
    let mut rows = select
        .order_by_desc(snapshots::Column::UpdatedMs)
        .order_by_desc(snapshots::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await
        .map_err(|e| ApiError::internal("listing snapshots", e))?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|s| format!("{}:{}", s.updated_ms, s.id)))
        .flatten();
    Ok(Json(json!({
        "snapshots": rows.into_iter().map(snapshot_json).collect::<Vec<_>>(),
        "next_cursor": next,
    }))
    .into_response())
}

/// `GET snapshots/{id}/`
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = &state.db;
    let fail = |e: sea_orm::DbErr| ApiError::internal("reading a snapshot", e);
    let snapshot = snapshots::Entity::find_by_id(id.clone())
        .one(db)
        .await
        .map_err(fail)?
        .ok_or_else(|| ApiError::not_found(format!("no snapshot {id}")))?;
    let delivery_rows = deliveries::Entity::find()
        .filter(deliveries::Column::SnapshotId.eq(id.as_str()))
        .order_by_desc(deliveries::Column::Id)
        .limit(100)
        .all(db)
        .await
        .map_err(fail)?;
    let notification_rows = notifications::Entity::find()
        .filter(notifications::Column::SnapshotId.eq(id.as_str()))
        .order_by_desc(notifications::Column::Id)
        .limit(100)
        .all(db)
        .await
        .map_err(fail)?;
    let error_rows = input_errors::Entity::find()
        .filter(input_errors::Column::SnapshotId.eq(id.as_str()))
        .order_by_desc(input_errors::Column::Id)
        .limit(100)
        .all(db)
        .await
        .map_err(fail)?;
    let stored_posts = posts::Entity::find()
        .filter(posts::Column::SnapshotId.eq(id.as_str()))
        .count(db)
        .await
        .map_err(fail)?;
    let sample = posts::Entity::find()
        .filter(posts::Column::SnapshotId.eq(id.as_str()))
        .order_by_desc(posts::Column::Id)
        .limit(20)
        .all(db)
        .await
        .map_err(fail)?;
    Ok(Json(json!({
        "snapshot": snapshot_json(snapshot),
        "stored_posts": stored_posts,
        "deliveries": delivery_rows.into_iter().map(|d| json!({
            "id": d.id, "filename": d.filename, "state": d.state, "format": d.format,
            "compressed": d.compressed, "wire_bytes": d.wire_bytes, "records": d.posts,
            "input_errors": d.input_errors, "malformed": d.malformed, "duplicates": d.duplicates,
            "received_ms": d.received_ms, "processed_ms": d.processed_ms, "error": d.error,
        })).collect::<Vec<_>>(),
        "notifications": notification_rows.into_iter().map(|n| json!({
            "id": n.id, "status": n.status, "notified_status": n.status_raw, "error": n.error,
            "received_ms": n.received_ms,
        })).collect::<Vec<_>>(),
        "input_errors": error_rows.into_iter().map(|e| json!({
            "id": e.id, "delivery_id": e.delivery_id, "kind": e.kind, "code": e.code,
            "message": e.message, "input_url": e.input_url, "at_ms": e.at_ms,
        })).collect::<Vec<_>>(),
        "posts": sample.into_iter().map(|p| json!({
            "platform": p.platform, "post_id": p.post_id, "url": p.url, "author": p.author,
            "posted_ms": p.posted_ms, "likes": p.likes, "comments": p.comments,
            "shares": p.shares, "views": p.views, "times_delivered": p.times_delivered,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}
