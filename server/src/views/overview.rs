//! The overview: the window's metrics beside the previous window's, the series for the charts,
//! health, and the latest events and open alerts.

use app::types::OverviewView;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::error::{ViewError, ViewResult};
use super::monitor::{Service, health, window_ms};
use crate::monitor::{analytics, metrics, now_ms};
use crate::store::entities::alerts;

/// Events and alerts the overview lists.
const LATEST: u64 = 10;

pub async fn overview(
    db: &DatabaseConnection,
    service: &Service<'_>,
    window_name: &str,
) -> ViewResult<OverviewView> {
    let window_ms = window_ms("window", window_name)?;
    let now = now_ms();
    // Independent reads, run at once on the pool's connections: the page waits for the slowest of
    // them, not for their sum.
    let (metrics, previous, series, open_alerts, alert_list, latest_events, health) = tokio::join!(
        metrics::compute(db, window_name, window_ms, now),
        metrics::compute(db, window_name, window_ms, now - window_ms),
        analytics::series(db, window_ms, now),
        alerts::Entity::find()
            .filter(alerts::Column::Status.eq("active"))
            .count(db),
        alerts::Entity::find()
            .filter(alerts::Column::Status.eq("active"))
            .order_by_desc(alerts::Column::LastSeenMs)
            .limit(LATEST)
            .all(db),
        super::events::page(db, Condition::all(), None, LATEST),
        health(db, service),
    );
    let fail = |context| move |e| ViewError::internal(context, e);
    let metrics = metrics.map_err(fail("overview: metrics"))?;
    let previous = previous.map_err(fail("overview: previous metrics"))?;
    let series = series.map_err(fail("overview: series"))?;
    let open_alerts = open_alerts.map_err(fail("overview: open alerts"))?;
    let alert_list = alert_list.map_err(fail("overview: alerts"))?;
    let latest_events = latest_events.map_err(fail("overview: latest events"))?;
    Ok(OverviewView {
        window: window_name.to_owned(),
        metrics,
        previous,
        health,
        open_alerts: open_alerts as i64,
        error_threshold: service.thresholds.error_rate,
        bucket: series.bucket.to_owned(),
        buckets: series.buckets,
        latest_events: latest_events.into_iter().map(crate::events::view).collect(),
        alerts: alert_list
            .into_iter()
            .map(crate::monitor::alerts::view)
            .collect(),
    })
}
