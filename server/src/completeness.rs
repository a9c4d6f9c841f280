//! Whether each snapshot arrived whole. Once BrightData says a snapshot is `ready` (and its
//! deliveries have settled), the service asks BrightData's progress API how many records it
//! produced, and compares that with what arrived: the posts and input errors of its delivery files,
//! each file once. The verdict is `complete`, `incomplete` (an alert opens: see
//! `monitor::alerts`), or `unverified` with the reason (no API key, the API does not give a count,
//! the collection failed, the API could not be reached). An incomplete snapshot is recounted every
//! round, so a redelivery that brings the missing file completes it.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use tokio::task::JoinHandle;

use crate::brightdata_api::{BrightDataApi, Progress, Unavailable};
use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::schedule::Rounds;
use crate::store::Writer;
use crate::store::completeness::{self, COMPLETE, INCOMPLETE, Received, UNVERIFIED, Verdict};
use crate::store::entities::snapshots;

/// What BrightData said about a snapshot's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// The records (and errors) it produced.
    Counts { records: i64, errors: Option<i64> },
    /// Still collecting, as far as the API says: judged later.
    NotYet(String),
    /// It cannot be judged: why.
    Unverified(String),
}

/// Reads BrightData's progress answer.
pub fn asked(progress: &Progress) -> Asked {
    match progress.status.as_str() {
        "ready" => match progress.records {
            Some(records) => Asked::Counts {
                records,
                errors: progress.errors,
            },
            None => Asked::Unverified(
                "BrightData's progress answer gives no record count for this snapshot".into(),
            ),
        },
        "failed" => Asked::Unverified(format!(
            "BrightData reports the collection failed{}",
            progress
                .error_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        "" => Asked::Unverified("BrightData's progress answer has no status".into()),
        other => Asked::NotYet(format!("BrightData still reports the snapshot {other}")),
    }
}

/// The verdict from what BrightData said and what arrived. A snapshot is complete when its files
/// hold at least as many records (posts and input errors) as BrightData counted.
pub fn judge(asked: Asked, received: Received) -> Verdict {
    let got = received.records;
    let unreadable = if received.malformed > 0 {
        format!(
            "; {} more could not be read (see the deliveries)",
            received.malformed
        )
    } else {
        String::new()
    };
    let (completeness, expected_records, expected_errors, note) = match asked {
        Asked::Counts { records, errors } if got >= records => (
            Some(COMPLETE),
            Some(records),
            errors,
            format!("{got} records received of {records} BrightData counted{unreadable}"),
        ),
        Asked::Counts { records, errors } => (
            Some(INCOMPLETE),
            Some(records),
            errors,
            format!(
                "{} of {records} records missing ({got} received){unreadable}",
                records - got
            ),
        ),
        Asked::NotYet(note) => (None, None, None, note),
        Asked::Unverified(note) => (Some(UNVERIFIED), None, None, note),
    };
    Verdict {
        completeness,
        expected_records,
        expected_errors,
        received_records: got,
        note,
    }
}

pub struct Checker {
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub api: Result<BrightDataApi, Unavailable>,
    pub log: LogFile,
    /// Told which snapshots' verdicts changed, so their open pages reload.
    pub hub: LiveHub,
    pub settle: Duration,
}

impl Checker {
    /// One round: every snapshot due a check; the verdicts that changed.
    pub async fn run_once(&self, now: i64) -> Result<Vec<(String, Verdict)>, DbErr> {
        let mut changed = Vec::new();
        let due = completeness::due(&self.db, now, self.settle.as_millis() as i64).await?;
        for snapshot in due {
            let received = completeness::received(&self.db, &snapshot.id).await?;
            if received.pending > 0 {
                // Files still being extracted: the count would be too low.
                continue;
            }
            let asked = match snapshot.expected_records {
                Some(records) => Asked::Counts {
                    records,
                    errors: snapshot.expected_errors,
                },
                None => self.ask(&snapshot.id).await,
            };
            let verdict = judge(asked, received);
            let before = (
                snapshot.completeness.as_deref(),
                snapshot.completeness_note.as_deref(),
            );
            let is_new = before != (verdict.completeness, Some(verdict.note.as_str()));
            let id = snapshot.id.clone();
            let saved = verdict.clone();
            self.writer
                .run(move |txn| {
                    Box::pin(async move { completeness::save(txn, &id, &saved, now).await })
                })
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            if is_new {
                self.log(&snapshot, &verdict);
                changed.push((snapshot.id, verdict));
            }
        }
        let ids: Vec<String> = changed.iter().map(|(id, _)| id.clone()).collect();
        self.hub.snapshots_judged(&ids);
        Ok(changed)
    }

    async fn ask(&self, snapshot_id: &str) -> Asked {
        match &self.api {
            Err(Unavailable::NoKey) => Asked::Unverified(
                "BRIGHTDATA_API_TOKEN is not set, so BrightData cannot be asked how many records the snapshot has".into(),
            ),
            Err(why) => Asked::Unverified(why.to_string()),
            Ok(api) => match api.progress(snapshot_id).await {
                Ok(answer) => asked(&Progress::read(&answer)),
                Err(error) => Asked::Unverified(format!("asking BrightData: {error}")),
            },
        }
    }

    fn log(&self, snapshot: &snapshots::Model, verdict: &Verdict) {
        let verdict_name = verdict.completeness.unwrap_or("pending");
        tracing::info!(snapshot = %snapshot.id, verdict = verdict_name, "{}", verdict.note);
        self.log.write(
            "snapshot_checked",
            serde_json::json!({
                "snapshot_id": snapshot.id,
                "completeness": verdict_name,
                "expected_records": verdict.expected_records,
                "expected_errors": verdict.expected_errors,
                "received_records": verdict.received_records,
                "note": verdict.note,
            }),
        );
    }

    pub fn spawn(self, mut rounds: Rounds) -> JoinHandle<()> {
        tokio::spawn(async move {
            while rounds.next().await {
                let now = chrono::Utc::now().timestamp_millis();
                if let Err(error) = self.run_once(now).await {
                    tracing::error!(%error, "checking snapshots for completeness");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(records: i64) -> Received {
        Received {
            records,
            malformed: 0,
            pending: 0,
        }
    }

    #[test]
    fn a_snapshot_is_complete_when_its_files_hold_what_brightdata_counted() {
        let counts = Asked::Counts {
            records: 10,
            errors: Some(2),
        };
        let whole = judge(counts.clone(), received(10));
        assert_eq!(whole.completeness, Some(COMPLETE));
        assert_eq!(whole.expected_errors, Some(2));
        let short = judge(counts, received(7));
        assert_eq!(short.completeness, Some(INCOMPLETE));
        assert_eq!(short.note, "3 of 10 records missing (7 received)");
        let unread = judge(
            Asked::Counts {
                records: 10,
                errors: None,
            },
            Received {
                records: 9,
                malformed: 1,
                pending: 0,
            },
        );
        assert_eq!(unread.completeness, Some(INCOMPLETE));
        assert!(unread.note.contains("1 more could not be read"));
    }

    #[test]
    fn what_brightdata_says_decides_whether_and_how_a_snapshot_is_judged() {
        let progress = |status: &str, records: Option<i64>| Progress {
            status: status.into(),
            records,
            errors: None,
            error_message: None,
        };
        assert_eq!(
            asked(&progress("ready", Some(5))),
            Asked::Counts {
                records: 5,
                errors: None
            }
        );
        assert!(matches!(
            asked(&progress("ready", None)),
            Asked::Unverified(why) if why.contains("no record count")
        ));
        assert!(matches!(
            asked(&progress("running", None)),
            Asked::NotYet(_)
        ));
        let failed = Progress {
            error_message: Some("quota".into()),
            ..progress("failed", None)
        };
        assert!(matches!(asked(&failed), Asked::Unverified(why) if why.ends_with("failed: quota")));
        assert!(matches!(asked(&progress("", None)), Asked::Unverified(_)));
        let pending = judge(asked(&progress("running", None)), received(3));
        assert_eq!(pending.completeness, None);
    }
}
