//! The time modifiers (modifiers appendix, "Time Modifiers"): a part of
//! an ISO 8601 timestamp such as CloudTrail's `eventTime`
//! (`2026-11-30T09:15:00Z`), read as written (no time zone conversion,
//! as the appendix warns).

use crate::state::{civil_from_days, days_from_civil};

/// Which part of the timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimePart {
    /// The part of `text`, when it is a timestamp (`YYYY-MM-DD`, then
    /// optionally `THH:MM`...).
    pub(crate) fn of(self, text: &str) -> Option<f64> {
        let b = text.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let s = text.get(r)?;
            s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let clock = |r: std::ops::Range<usize>| -> Option<i64> {
            if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
                return None;
            }
            num(r)
        };
        let v = match self {
            TimePart::Year => y,
            TimePart::Month => mo,
            TimePart::Day => d,
            TimePart::Week => iso_week(y, mo, d),
            TimePart::Hour => clock(11..13).filter(|h| *h < 24)?,
            TimePart::Minute => clock(14..16).filter(|m| *m < 60)?,
        };
        Some(v as f64)
    }
}

/// The ISO 8601 week number (1 to 53) of a date.
fn iso_week(y: i64, m: i64, d: i64) -> i64 {
    let days = days_from_civil(y, m, d);
    // 1970-01-01 was a Thursday; ISO weekdays run Monday = 1 to Sunday = 7.
    let weekday = (days + 3).rem_euclid(7) + 1;
    // The week belongs to the year of its Thursday.
    let thursday = days - weekday + 4;
    let year_of_thursday = civil_year(thursday);
    (thursday - days_from_civil(year_of_thursday, 1, 1)) / 7 + 1
}

fn civil_year(days: i64) -> i64 {
    civil_from_days(days).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        assert_eq!(iso_week(2026, 1, 1), 1); // a Thursday
        assert_eq!(iso_week(2021, 1, 3), 53); // a Sunday, week 53 of 2020
        assert_eq!(iso_week(2024, 12, 30), 1); // a Monday, week 1 of 2025
        assert_eq!(TimePart::Hour.of("2026-11-30T09:15:00Z"), Some(9.0));
        assert_eq!(TimePart::Minute.of("2026-11-30T09:15:00Z"), Some(15.0));
        assert_eq!(TimePart::Hour.of("2026-11-30"), None);
    }
}
