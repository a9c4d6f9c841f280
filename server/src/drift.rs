//! Scraper drift. Once a snapshot has settled (like the completeness check: BrightData said
//! `ready` a while ago, or no file came for a while, and none is still being extracted), the field
//! coverage its deliveries tallied is added up and judged against the platform's usual: the median
//! of the last N normal snapshots of the same platform and dataset (`delivery::drift`). A drifted
//! field opens a `scraper_drift` alert (see `monitor::alerts`) that resolves when a later snapshot
//! of that platform is back to normal. A snapshot that gets another file later is judged again.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use tokio::task::JoinHandle;

use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::schedule::Rounds;
use crate::store::Writer;
use crate::store::drift::{self, SnapshotFields};
use crate::store::entities::snapshots;
use delivery::drift::{Thresholds, judge, overall};

pub struct Judge {
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub log: LogFile,
    /// Told which snapshots were judged, so their open pages reload.
    pub hub: LiveHub,
    pub thresholds: Thresholds,
    pub settle: Duration,
}

impl Judge {
    /// One round: every snapshot due a judgement; the (snapshot, verdict) pairs judged.
    pub async fn run_once(&self, now: i64) -> Result<Vec<(String, &'static str)>, DbErr> {
        let mut judged = Vec::new();
        for snapshot in drift::due(&self.db, now, self.settle.as_millis() as i64).await? {
            let Some(coverage) = drift::coverage(&self.db, &snapshot.id).await? else {
                continue; // a file is still being extracted
            };
            let mut platforms = Vec::new();
            for current in &coverage {
                let baseline = drift::baseline(
                    &self.db,
                    &snapshot,
                    &current.platform,
                    self.thresholds.baseline,
                )
                .await?;
                let refs: Vec<_> = baseline.iter().map(|(id, c)| (id.as_str(), c)).collect();
                platforms.push(judge(current, &refs, &self.thresholds));
            }
            let verdict = overall(&platforms);
            let fields = SnapshotFields {
                coverage,
                platforms,
            };
            let id = snapshot.id.clone();
            let saved = fields.clone();
            self.writer
                .run(move |txn| {
                    Box::pin(async move { drift::save(txn, &id, verdict, &saved, now).await })
                })
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            self.log(&snapshot, verdict, &fields);
            judged.push((snapshot.id, verdict));
        }
        let ids: Vec<String> = judged.iter().map(|(id, _)| id.clone()).collect();
        self.hub.snapshots_judged(&ids);
        Ok(judged)
    }

    fn log(&self, snapshot: &snapshots::Model, verdict: &str, fields: &SnapshotFields) {
        let drifted: Vec<&str> = fields
            .platforms
            .iter()
            .flat_map(|p| p.fields.iter().filter_map(|f| f.note.as_deref()))
            .collect();
        tracing::info!(snapshot = %snapshot.id, verdict, ?drifted, "judged field coverage");
        self.log.write(
            "snapshot_fields_judged",
            serde_json::json!({
                "snapshot_id": snapshot.id,
                "verdict": verdict,
                "platforms": fields.platforms.iter().map(|p| serde_json::json!({
                    "platform": p.platform,
                    "records": p.records,
                    "verdict": p.verdict,
                    "note": p.note,
                })).collect::<Vec<_>>(),
                "drifted": drifted,
            }),
        );
    }

    pub fn spawn(self, mut rounds: Rounds) -> JoinHandle<()> {
        tokio::spawn(async move {
            while rounds.next().await {
                let now = chrono::Utc::now().timestamp_millis();
                if let Err(error) = self.run_once(now).await {
                    tracing::error!(%error, "judging snapshots' field coverage");
                }
            }
        })
    }
}
