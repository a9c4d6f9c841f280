//! Time windows as the API takes them: `5m`, `1h`, `24h`, `7d` (any whole number of minutes, hours or
//! days up to 90 days).

use std::time::Duration;

pub const DEFAULT: &str = "1h";
const LONGEST: Duration = Duration::from_secs(90 * 24 * 3600);

pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds)).filter(|d| *d <= LONGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse("7d"), Some(Duration::from_secs(604_800)));
        for bad in ["", "h", "0m", "5s", "1y", "91d", "-1h", "1.5h"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
