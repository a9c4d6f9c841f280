//! Scraper drift as the product shows it: a snapshot's verdict and coverage table, the key fields'
//! coverage over recent snapshots per platform, and taking a drifted shape as the new normal.

use app::types::{
    CoverageHistoryView, CoveragePointView, DriftView, FieldCoverageView, PlatformCoverageView,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use delivery::drift::{NOT_JUDGED, PlatformJudgement};
use delivery::records::is_key_field;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::error::{ViewError, ViewResult};
use crate::log_file::LogFile;
use crate::store::Writer;
use crate::store::drift::{self, SnapshotFields};
use crate::store::entities::snapshots;

/// Snapshots per platform in the coverage history.
pub const HISTORY: usize = 20;

/// The verdict and the drifted fields.
pub fn drift_view(s: &snapshots::Model) -> DriftView {
    let fields = SnapshotFields::read(s)
        .map(|f| {
            f.platforms
                .iter()
                .flat_map(|p| {
                    p.fields
                        .iter()
                        .filter(|f| f.change.is_some())
                        .map(|f| format!("{}:{}", p.platform, f.name))
                })
                .collect()
        })
        .unwrap_or_default();
    DriftView {
        verdict: s.drift.clone().unwrap_or_else(|| "pending".into()),
        fields,
        checked_ms: s.drift_checked_ms,
    }
}

/// The coverage table of each platform, drifted fields first, then the key fields.
pub fn coverage_views(s: &snapshots::Model) -> Vec<PlatformCoverageView> {
    let Some(fields) = SnapshotFields::read(s) else {
        return Vec::new();
    };
    fields.platforms.into_iter().map(platform_view).collect()
}

fn platform_view(p: PlatformJudgement) -> PlatformCoverageView {
    let mut fields: Vec<FieldCoverageView> = p
        .fields
        .into_iter()
        .map(|f| FieldCoverageView {
            key: is_key_field(&f.name),
            field: f.name,
            coverage: f.coverage,
            baseline: f.baseline,
            kind: f.kind,
            baseline_kind: f.baseline_kind,
            change: f.change.map(|c| c.as_str().to_owned()),
            note: f.note,
        })
        .collect();
    fields.sort_by(|a, b| {
        (b.change.is_some(), b.key)
            .cmp(&(a.change.is_some(), a.key))
            .then_with(|| a.field.cmp(&b.field))
    });
    PlatformCoverageView {
        platform: p.platform,
        records: p.records as i64,
        verdict: p.verdict,
        note: p.note,
        baseline_snapshots: p.baseline_snapshots as i64,
        fields,
    }
}

/// A snapshot's point in a platform's history, with its key fields' coverage by name (put in the
/// history's field order once every field is known).
type Point = (CoveragePointView, HashMap<String, f64>);

/// Per platform, the key fields' coverage over its last [`HISTORY`] judged snapshots (those too
/// small to judge left out), oldest first.
pub async fn history(db: &DatabaseConnection) -> ViewResult<Vec<CoverageHistoryView>> {
    let rows = drift::latest_judged(db, 200)
        .await
        .map_err(|e| ViewError::internal("reading field coverage", e))?;
    // Per platform, newest first: the snapshot's point and its key fields' coverage by name.
    let mut seen: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for snapshot in rows {
        let Some(fields) = SnapshotFields::read(&snapshot) else {
            continue;
        };
        let accepted = snapshot.drift.as_deref() == Some(drift::ACCEPTED);
        for platform in fields.platforms {
            let points = seen.entry(platform.platform.clone()).or_default();
            if platform.verdict == NOT_JUDGED || points.len() >= HISTORY {
                continue;
            }
            let coverage = platform
                .fields
                .iter()
                .filter(|f| is_key_field(&f.name))
                .map(|f| (f.name.clone(), f.coverage))
                .collect();
            let point = CoveragePointView {
                snapshot_id: snapshot.id.clone(),
                created_ms: snapshot.created_ms,
                verdict: if accepted {
                    drift::ACCEPTED.to_owned()
                } else {
                    platform.verdict
                },
                coverage: Vec::new(),
            };
            points.push((point, coverage));
        }
    }
    Ok(seen
        .into_iter()
        .filter(|(_, points)| !points.is_empty())
        .map(|(platform, points)| {
            // The key fields any of these snapshots had filled.
            let fields: BTreeSet<String> = points
                .iter()
                .flat_map(|(_, c)| c.iter().filter(|(_, v)| **v > 0.0).map(|(k, _)| k.clone()))
                .collect();
            let fields: Vec<String> = fields.into_iter().collect();
            let snapshots = points
                .into_iter()
                .rev()
                .map(|(mut point, coverage)| {
                    point.coverage = fields
                        .iter()
                        .map(|f| coverage.get(f).copied().unwrap_or(0.0))
                        .collect();
                    point
                })
                .collect();
            CoverageHistoryView {
                platform,
                fields,
                snapshots,
            }
        })
        .collect())
}

/// Takes a drifted snapshot's shape as the new normal: its `scraper_drift` alerts resolve, and later
/// snapshots are judged against a baseline that starts from it (learning again until it has N).
pub async fn accept(
    db: &DatabaseConnection,
    writer: &Writer,
    log: &LogFile,
    id: &str,
) -> ViewResult<DriftView> {
    let fail = |e: &dyn std::fmt::Display| ViewError::internal("accepting a snapshot's fields", e);
    let snapshot = snapshots::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| ViewError::not_found(format!("no snapshot {id}")))?;
    let snapshot_id = id.to_owned();
    let accepted = writer
        .run(move |txn| Box::pin(async move { drift::accept(txn, &snapshot_id).await }))
        .await
        .map_err(|e| fail(&e))?;
    if !accepted {
        return Err(ViewError::conflict(
            "not_drifted",
            format!(
                "snapshot {id} is {}: only a drifted snapshot can be accepted as the new normal",
                snapshot.drift.as_deref().unwrap_or("not judged yet")
            ),
        ));
    }
    log.write(
        "snapshot_fields_accepted",
        serde_json::json!({"snapshot_id": id}),
    );
    Ok(drift_view(&snapshots::Model {
        drift: Some(drift::ACCEPTED.to_owned()),
        ..snapshot
    }))
}
