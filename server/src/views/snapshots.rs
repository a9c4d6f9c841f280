//! Snapshots: the list (most recently active first) and one snapshot with its deliveries,
//! notifications, input errors and a sample of its posts; asking BrightData to deliver one again.

use app::types::{
    CompletenessView, InputErrorView, NotificationView, RedeliveryView, SnapshotDetailView,
    SnapshotFilter, SnapshotPage, SnapshotView,
};
use delivery::lifecycle::DeliveryState;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::drift::{coverage_views, drift_view};
use super::error::{ViewError, ViewResult};
use super::events::{delivery_view, post_view};
use super::paging::given;
use crate::brightdata_api::{BrightDataApi, Unavailable};
use crate::log_file::LogFile;
use crate::store::Writer;
use crate::store::completeness;
use crate::store::entities::{deliveries, input_errors, notifications, posts, snapshots};

const DETAIL_ROWS: u64 = 100;
const DETAIL_POSTS: u64 = 20;

fn snapshot_view(s: snapshots::Model) -> SnapshotView {
    let completeness = completeness_view(&s);
    let drift = drift_view(&s);
    SnapshotView {
        id: s.id,
        dataset_id: s.dataset_id,
        platform: s.platform,
        status: s.status,
        error: s.error,
        records: s.posts,
        input_errors: s.input_errors,
        deliveries: s.deliveries,
        created_ms: s.created_ms,
        updated_ms: s.updated_ms,
        notified_ms: s.notified_ms,
        ready_ms: s.ready_ms,
        delivered_ms: s.delivered_ms,
        finished_ms: s.finished_ms,
        completeness,
        drift,
    }
}

/// The verdict, or why there is none yet.
fn completeness_view(s: &snapshots::Model) -> CompletenessView {
    let note = match (&s.completeness_note, s.ready_ms) {
        (Some(note), _) => note.clone(),
        (None, Some(_)) => "checked once its deliveries settle after BrightData's ready".into(),
        (None, None) => "judged once BrightData says the snapshot is ready".into(),
    };
    CompletenessView {
        verdict: s.completeness.clone().unwrap_or_else(|| "pending".into()),
        expected_records: s.expected_records,
        expected_errors: s.expected_errors,
        received_records: s.received_records,
        missing: (s.completeness.as_deref() == Some(completeness::INCOMPLETE))
            .then(|| s.expected_records.zip(s.received_records))
            .flatten()
            .map(|(expected, received)| expected - received),
        note,
        checked_ms: s.checked_ms,
        redelivery_ms: s.redelivery_ms,
    }
}

/// One page of snapshots. Empty filter values are unset.
pub async fn list(db: &DatabaseConnection, filter: &SnapshotFilter) -> ViewResult<SnapshotPage> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let mut select = snapshots::Entity::find();
    if let Some(status) = given(&filter.status) {
        select = select.filter(snapshots::Column::Status.eq(status));
    }
    if let Some(platform) = given(&filter.platform) {
        select = select.filter(snapshots::Column::Platform.eq(platform));
    }
    if let Some(cursor) = given(&filter.cursor) {
        let (at, id) = cursor
            .split_once(':')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
            .ok_or_else(|| ViewError::invalid("invalid_cursor", "invalid cursor"))?;
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
        .all(db)
        .await
        .map_err(|e| ViewError::internal("listing snapshots", e))?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|s| format!("{}:{}", s.updated_ms, s.id)))
        .flatten();
    Ok(SnapshotPage {
        snapshots: rows.into_iter().map(snapshot_view).collect(),
        next_cursor,
    })
}

/// One snapshot with what arrived for it; `can_redeliver`: whether BrightData's API can be asked.
pub async fn detail(
    db: &DatabaseConnection,
    id: &str,
    can_redeliver: bool,
) -> ViewResult<SnapshotDetailView> {
    let fail = |e: sea_orm::DbErr| ViewError::internal("reading a snapshot", e);
    let snapshot = snapshots::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .map_err(fail)?
        .ok_or_else(|| ViewError::not_found(format!("no snapshot {id}")))?;
    let delivery_rows = deliveries::Entity::find()
        .filter(deliveries::Column::SnapshotId.eq(id))
        // Still arriving: not acknowledged, and for a signed body not yet verified.
        .filter(deliveries::Column::State.ne(DeliveryState::Receiving.as_str()))
        .order_by_desc(deliveries::Column::Id)
        .limit(DETAIL_ROWS)
        .all(db)
        .await
        .map_err(fail)?;
    let notification_rows = notifications::Entity::find()
        .filter(notifications::Column::SnapshotId.eq(id))
        .order_by_desc(notifications::Column::Id)
        .limit(DETAIL_ROWS)
        .all(db)
        .await
        .map_err(fail)?;
    let error_rows = input_errors::Entity::find()
        .filter(input_errors::Column::SnapshotId.eq(id))
        .order_by_desc(input_errors::Column::Id)
        .limit(DETAIL_ROWS)
        .all(db)
        .await
        .map_err(fail)?;
    let stored_posts = posts::Entity::find()
        .filter(posts::Column::SnapshotId.eq(id))
        .count(db)
        .await
        .map_err(fail)?;
    let sample = posts::Entity::find()
        .filter(posts::Column::SnapshotId.eq(id))
        .order_by_desc(posts::Column::Id)
        .limit(DETAIL_POSTS)
        .all(db)
        .await
        .map_err(fail)?;
    let coverage = coverage_views(&snapshot);
    Ok(SnapshotDetailView {
        coverage,
        snapshot: snapshot_view(snapshot),
        stored_posts,
        deliveries: delivery_rows.into_iter().map(delivery_view).collect(),
        notifications: notification_rows
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                status: n.status,
                notified_status: n.status_raw,
                error: n.error,
                received_ms: n.received_ms,
            })
            .collect(),
        input_errors: error_rows
            .into_iter()
            .map(|e| InputErrorView {
                id: e.id,
                delivery_id: e.delivery_id,
                kind: e.kind,
                code: e.code,
                message: e.message,
                input_url: e.input_url,
                at_ms: e.at_ms,
            })
            .collect(),
        posts: sample.into_iter().map(post_view).collect(),
        can_redeliver,
    })
}

/// Where a redelivery goes: the data and notify URLs and the `Authorization` value BrightData
/// sends with the files.
pub struct Destination {
    pub endpoint: String,
    pub notify: String,
    pub auth_header: String,
}

/// Asks BrightData to deliver a snapshot again. Only a snapshot BrightData said was ready can be
/// delivered; the files that come are deduplicated as usual, and the next completeness check
/// counts them.
pub async fn redeliver(
    db: &DatabaseConnection,
    writer: &Writer,
    log: &LogFile,
    api: Result<&BrightDataApi, &Unavailable>,
    to: &Destination,
    id: &str,
) -> ViewResult<RedeliveryView> {
    let snapshot = snapshots::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .map_err(|e| ViewError::internal("reading a snapshot", e))?
        .ok_or_else(|| ViewError::not_found(format!("no snapshot {id}")))?;
    if snapshot.ready_ms.is_none() {
        return Err(ViewError::conflict(
            "not_ready",
            format!(
                "snapshot {id} is {}: BrightData can deliver it once it is ready",
                snapshot.status
            ),
        ));
    }
    let api = api.map_err(|why| ViewError::conflict("no_api_key", why.to_string()))?;
    let answer = api
        .deliver(id, &to.endpoint, &to.auth_header, &to.notify)
        .await
        .map_err(ViewError::Upstream)?;
    let now = chrono::Utc::now().timestamp_millis();
    let snapshot_id = id.to_owned();
    writer
        .run(move |txn| {
            Box::pin(async move { completeness::redelivery_asked(txn, &snapshot_id, now).await })
        })
        .await
        .map_err(|e| ViewError::internal("recording a redelivery", e))?;
    let asked = RedeliveryView {
        snapshot_id: id.to_owned(),
        delivery_id: answer
            .get("delivery_id")
            .or_else(|| answer.get("id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        asked_ms: now,
    };
    log.write(
        "redelivery_requested",
        serde_json::json!({"snapshot_id": asked.snapshot_id, "delivery_id": asked.delivery_id}),
    );
    Ok(asked)
}
