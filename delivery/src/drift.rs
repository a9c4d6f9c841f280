//! Scraper drift: a snapshot's field coverage judged against the platform's usual, the median of
//! the last N snapshots that were judged normal. A scraper that breaks rarely fails loudly: the
//! deliveries keep coming, but a field went empty, vanished, changed type, or a new one appeared.

use serde::{Deserialize, Serialize};

use crate::coverage::{FieldCoverage, PlatformCoverage, TYPES};

/// When a snapshot is judged and what counts as drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Earlier snapshots the baseline is made of; fewer, and nothing is flagged yet.
    pub baseline: usize,
    /// A platform's posts in a snapshot below this are too few to judge.
    pub min_records: u64,
    /// A field at or above this share in the baseline ...
    pub high: f64,
    /// ... that falls below this share has drifted; so has one at or above this share that falls
    /// to almost nothing ([`NEARLY_NONE`]). A field in none of the baseline snapshots that is in
    /// more than this share of the records is new.
    pub low: f64,
}

/// "Almost nothing": a field usually in most records (at least `low`) that falls below this share
/// has drifted, even when it was never in `high` of them (Instagram hides the like count of some
/// posts, so `likes` is usually in about three quarters of them).
pub const NEARLY_NONE: f64 = 0.05;

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            baseline: 5,
            min_records: 20,
            high: 0.9,
            low: 0.5,
        }
    }
}

/// Verdicts, per platform and for a snapshot (the worst of its platforms).
pub const NORMAL: &str = "normal";
pub const DRIFT: &str = "drift";
/// Judged, but the baseline has fewer than N snapshots: nothing is flagged yet.
pub const LEARNING: &str = "learning";
/// Too few records to judge.
pub const NOT_JUDGED: &str = "not_judged";

/// How a field drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Still there, but null or blank in most records.
    Emptied,
    /// Missing from most records.
    Vanished,
    /// Its values are now mostly of another JSON type.
    TypeChanged,
    /// In most records, and in none of the baseline snapshots.
    New,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Emptied => "emptied",
            Change::Vanished => "vanished",
            Change::TypeChanged => "type_changed",
            Change::New => "new",
        }
    }
}

/// One field of a platform's judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldJudgement {
    pub name: String,
    /// Share of the records where it is filled, 0..1.
    pub coverage: f64,
    /// The baseline's median of that share (none while there is no baseline).
    pub baseline: Option<f64>,
    /// Its values' type: one name, `mixed`, or empty when every value was null.
    pub kind: String,
    pub baseline_kind: Option<String>,
    pub change: Option<Change>,
    /// The change in words, e.g. `likes: filled in 0% of 40 records (usually 100%)`.
    pub note: Option<String>,
}

/// One platform's posts in a snapshot, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformJudgement {
    pub platform: String,
    pub records: u64,
    pub verdict: String,
    pub note: String,
    /// Snapshots the baseline was made of.
    pub baseline_snapshots: usize,
    /// Snapshot ids of that baseline, newest first.
    #[serde(default)]
    pub baseline_ids: Vec<String>,
    /// Fields that drifted first, then by name.
    pub fields: Vec<FieldJudgement>,
}

/// Judges a platform's coverage in a snapshot against earlier snapshots' (newest first; the caller
/// passes at most N, already chosen).
pub fn judge(
    current: &PlatformCoverage,
    baseline: &[(&str, &PlatformCoverage)],
    t: &Thresholds,
) -> PlatformJudgement {
    let records = current.records;
    let learning = baseline.len() < t.baseline;
    let judged = records >= t.min_records;
    let mut names: Vec<&str> = current.fields.iter().map(|f| f.name.as_str()).collect();
    for (_, earlier) in baseline {
        names.extend(earlier.fields.iter().map(|f| f.name.as_str()));
    }
    names.sort_unstable();
    names.dedup();

    let mut fields: Vec<FieldJudgement> = names
        .into_iter()
        .map(|name| {
            let now = current.field(name);
            let coverage = share(now.map_or(0, |f| f.filled), records);
            let seen = share(now.map_or(0, |f| f.seen), records);
            let kind = now.map(kind_of).unwrap_or_default();
            let (base, base_seen, base_kind, ever) = if baseline.is_empty() {
                (None, None, None, false)
            } else {
                let of = |pick: fn(&FieldCoverage) -> u64| {
                    median(
                        baseline
                            .iter()
                            .map(|(_, b)| share(b.field(name).map_or(0, pick), b.records)),
                    )
                };
                let kinds: Vec<String> = baseline
                    .iter()
                    .filter_map(|(_, b)| b.field(name).map(kind_of))
                    .filter(|k| !k.is_empty())
                    .collect();
                (
                    Some(of(|f| f.filled)),
                    Some(of(|f| f.seen)),
                    most_common(&kinds),
                    baseline.iter().any(|(_, b)| b.field(name).is_some()),
                )
            };
            let change = if !judged || learning {
                None
            } else {
                let (base, base_seen) = (base.unwrap_or(0.0), base_seen.unwrap_or(0.0));
                let fell = |usual: f64, now: f64| {
                    (usual >= t.high && now < t.low) || (usual >= t.low && now < NEARLY_NONE)
                };
                if fell(base_seen, seen) {
                    Some(Change::Vanished)
                } else if fell(base, coverage) {
                    Some(Change::Emptied)
                } else if !ever && seen > t.low {
                    Some(Change::New)
                } else if let Some(usual) = &base_kind
                    && !kind.is_empty()
                    && kind != "mixed"
                    && usual != "mixed"
                    && *usual != kind
                    && coverage >= t.low
                {
                    Some(Change::TypeChanged)
                } else {
                    None
                }
            };
            let note = change.map(|change| {
                let usual = |v: Option<f64>| pct(v.unwrap_or(0.0));
                match change {
                    Change::Vanished => format!(
                        "{name}: in {} of {records} records (usually {})",
                        pct(seen),
                        usual(base_seen)
                    ),
                    Change::Emptied => format!(
                        "{name}: filled in {} of {records} records (usually {})",
                        pct(coverage),
                        usual(base)
                    ),
                    Change::New => format!(
                        "{name}: new field, in {} of {records} records (in none of the last {} snapshots)",
                        pct(seen),
                        baseline.len()
                    ),
                    Change::TypeChanged => format!(
                        "{name}: values are now {kind} (usually {})",
                        base_kind.as_deref().unwrap_or("?")
                    ),
                }
            });
            FieldJudgement {
                name: name.to_owned(),
                coverage,
                baseline: base,
                kind,
                baseline_kind: base_kind,
                change,
                note,
            }
        })
        .collect();
    fields.sort_by(|a, b| {
        b.change
            .is_some()
            .cmp(&a.change.is_some())
            .then_with(|| a.name.cmp(&b.name))
    });
    let drifted = fields.iter().filter(|f| f.change.is_some()).count();
    let (verdict, note) = if !judged {
        (
            NOT_JUDGED,
            format!(
                "{records} records: too few to judge (at least {})",
                t.min_records
            ),
        )
    } else if learning {
        (
            LEARNING,
            format!(
                "learning: {} of {} earlier snapshots for a baseline",
                baseline.len(),
                t.baseline
            ),
        )
    } else if drifted > 0 {
        (
            DRIFT,
            format!(
                "{drifted} field{} drifted from the last {} snapshots",
                if drifted == 1 { "" } else { "s" },
                baseline.len()
            ),
        )
    } else {
        (
            NORMAL,
            format!("as usual over the last {} snapshots", baseline.len()),
        )
    };
    PlatformJudgement {
        platform: current.platform.clone(),
        records,
        verdict: verdict.to_owned(),
        note,
        baseline_snapshots: baseline.len(),
        baseline_ids: baseline.iter().map(|(id, _)| (*id).to_owned()).collect(),
        fields,
    }
}

/// The snapshot's verdict: drift if any platform drifted, else normal if any was judged normal,
/// else learning, else not judged.
pub fn overall(platforms: &[PlatformJudgement]) -> &'static str {
    [DRIFT, NORMAL, LEARNING]
        .into_iter()
        .find(|v| platforms.iter().any(|p| p.verdict == *v))
        .unwrap_or(NOT_JUDGED)
}

fn share(count: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (count as f64 / of as f64).min(1.0)
    }
}

/// The median (the lower middle of an even count: one odd snapshot of two does not move it up).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

/// The type most of a field's values have (more than half), `mixed`, or empty when all were null.
fn kind_of(field: &FieldCoverage) -> String {
    let total: u64 = field.types.iter().sum();
    if total == 0 {
        return String::new();
    }
    match field.types.iter().position(|n| n * 2 > total) {
        Some(i) => TYPES[i].to_owned(),
        None => "mixed".to_owned(),
    }
}

fn most_common(kinds: &[String]) -> Option<String> {
    let mut best: Option<(&String, usize)> = None;
    for kind in kinds {
        let n = kinds.iter().filter(|k| *k == kind).count();
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((kind, n));
        }
    }
    best.map(|(k, _)| k.clone())
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::{FieldTally, Shape};
    use serde_json::{Value, json};

    fn snapshot(records: &[Value]) -> PlatformCoverage {
        let mut tally = FieldTally::default();
        for record in records {
            for (key, value) in record.as_object().unwrap() {
                tally.see(key, Shape::of_value(value));
            }
            tally.commit("instagram");
        }
        tally.finish().remove(0)
    }

    fn normal(n: usize) -> PlatformCoverage {
        snapshot(
            &(0..n)
                .map(|i| json!({"id": i.to_string(), "likes": i, "date_posted": "2026-12-01T00:00:00Z", "caption": if i % 5 == 0 { Value::Null } else { json!("x") }}))
                .collect::<Vec<_>>(),
        )
    }

    fn judged(current: &PlatformCoverage, earlier: usize) -> PlatformJudgement {
        let base: Vec<PlatformCoverage> = (0..earlier).map(|_| normal(40)).collect();
        let refs: Vec<(&str, &PlatformCoverage)> = base.iter().map(|b| ("s", b)).collect();
        judge(current, &refs, &Thresholds::default())
    }

    fn changes(j: &PlatformJudgement) -> Vec<(&str, Change)> {
        j.fields
            .iter()
            .filter_map(|f| f.change.map(|c| (f.name.as_str(), c)))
            .collect()
    }

    #[test]
    fn a_normal_snapshot_is_normal_and_a_field_gone_empty_drifts() {
        let ok = judged(&normal(40), 5);
        assert_eq!(ok.verdict, NORMAL);
        assert!(changes(&ok).is_empty(), "{:?}", changes(&ok));
        let empty = snapshot(
            &(0..40)
                .map(|i| json!({"id": i.to_string(), "likes": null, "date_posted": "2026-12-01T00:00:00Z", "caption": "x"}))
                .collect::<Vec<_>>(),
        );
        let j = judged(&empty, 5);
        assert_eq!(j.verdict, DRIFT);
        assert_eq!(changes(&j), [("likes", Change::Emptied)]);
        assert_eq!(
            j.fields[0].note.as_deref(),
            Some("likes: filled in 0% of 40 records (usually 100%)")
        );
    }

    #[test]
    fn a_type_change_and_a_renamed_field_are_found() {
        let strings = snapshot(
            &(0..40)
                .map(|i| json!({"id": i.to_string(), "likes": i.to_string(), "date_posted": "2026-12-01T00:00:00Z", "caption": "x"}))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            changes(&judged(&strings, 5)),
            [("likes", Change::TypeChanged)]
        );
        let renamed = snapshot(
            &(0..40)
                .map(|i| json!({"id": i.to_string(), "likes": i, "posted_at": "2026-12-01T00:00:00Z", "caption": "x"}))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            changes(&judged(&renamed, 5)),
            [
                ("date_posted", Change::Vanished),
                ("posted_at", Change::New)
            ]
        );
    }

    #[test]
    fn too_few_records_or_too_short_a_baseline_flag_nothing() {
        let empty = snapshot(
            &(0..5)
                .map(|i| json!({"id": i.to_string(), "likes": null}))
                .collect::<Vec<_>>(),
        );
        let small = judged(&empty, 5);
        assert_eq!(small.verdict, NOT_JUDGED);
        assert!(changes(&small).is_empty());
        let mut big = normal(40);
        big.fields.retain(|f| f.name != "likes");
        let early = judged(&big, 4);
        assert_eq!(early.verdict, LEARNING);
        assert!(changes(&early).is_empty());
        assert_eq!(judged(&big, 5).verdict, DRIFT);
    }

    #[test]
    fn a_field_usually_in_most_records_that_goes_to_nothing_drifts() {
        // `caption` is filled in 80% of the normal records: below `high`, at or above `low`.
        let some = snapshot(
            &(0..40)
                .map(|i| json!({"id": i.to_string(), "likes": i, "date_posted": "2026-12-01T00:00:00Z", "caption": if i % 3 == 0 { json!("x") } else { Value::Null }}))
                .collect::<Vec<_>>(),
        );
        assert!(
            changes(&judged(&some, 5)).is_empty(),
            "down to a third is not drift"
        );
        let none = snapshot(
            &(0..40)
                .map(|i| json!({"id": i.to_string(), "likes": i, "date_posted": "2026-12-01T00:00:00Z", "caption": null}))
                .collect::<Vec<_>>(),
        );
        assert_eq!(changes(&judged(&none, 5)), [("caption", Change::Emptied)]);
    }

    #[test]
    fn the_median_ignores_one_odd_snapshot() {
        assert_eq!(median([1.0, 0.0, 1.0, 1.0, 1.0].into_iter()), 1.0);
        assert_eq!(median([1.0, 0.0].into_iter()), 0.0);
        assert_eq!(overall(&[]), NOT_JUDGED);
    }
}
