//! Scraper drift: field coverage per snapshot, and when a field counts as drifted.

use delivery::drift::Thresholds;

use super::ConfigError;
use super::vars::{BOOL, Vars, parse_bool};

#[derive(Debug, Clone)]
pub struct DriftConfig {
    /// `SCRAPER_DRIFT` (default on): tally each delivery's field coverage and judge each snapshot
    /// against the platform's usual. Off, neither runs (the measured cost is in the README).
    pub enabled: bool,
    /// `SCRAPER_DRIFT_BASELINE` (default 5): earlier normal snapshots of the same platform and
    /// dataset whose median is the baseline; until there are this many, nothing is flagged.
    /// `SCRAPER_DRIFT_MIN_RECORDS` (default 20): a snapshot with fewer posts is not judged.
    /// `SCRAPER_DRIFT_HIGH` (default 0.9) and `SCRAPER_DRIFT_LOW` (default 0.5): a field filled
    /// in at least HIGH of the baseline's records that falls below LOW has drifted.
    pub thresholds: Thresholds,
}

impl DriftConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let defaults = Thresholds::default();
        let share = |value: &str| {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
        };
        const SHARE: &str = "a fraction from 0 to 1, e.g. 0.9";
        let thresholds = Thresholds {
            baseline: vars.parse(
                "SCRAPER_DRIFT_BASELINE",
                "a whole number of snapshots from 1 to 50",
                defaults.baseline,
                |v| v.parse().ok().filter(|n| (1..=50).contains(n)),
            )?,
            min_records: vars.parse(
                "SCRAPER_DRIFT_MIN_RECORDS",
                "a whole number of records, at least 1",
                defaults.min_records,
                |v| v.parse().ok().filter(|n| *n >= 1),
            )?,
            high: vars.parse("SCRAPER_DRIFT_HIGH", SHARE, defaults.high, share)?,
            low: vars.parse("SCRAPER_DRIFT_LOW", SHARE, defaults.low, share)?,
        };
        if thresholds.low >= thresholds.high {
            return Err(ConfigError {
                var: "SCRAPER_DRIFT_LOW",
                value: Some(thresholds.low.to_string()),
                expected: "a fraction below SCRAPER_DRIFT_HIGH",
            });
        }
        Ok(Self {
            enabled: vars.parse("SCRAPER_DRIFT", BOOL, true, parse_bool)?,
            thresholds,
        })
    }
}
