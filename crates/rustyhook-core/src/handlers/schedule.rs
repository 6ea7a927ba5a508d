//! Cron schedules: 5 fields (minute first), 6 (seconds first) or 7 (seconds first, year last),
//! and the `@daily`-style nicknames, evaluated in a time zone (UTC unless one is named).

use std::fmt;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Deserializer};

/// A parsed cron expression. `0 2 * * *` fires at 02:00 every day; `*/5 * * * * *` every five
/// seconds; `0 0 12 1 1 * 2030` at noon on 1 January 2030 only.
#[derive(Clone)]
pub struct CronSchedule {
    text: String,
    cron: Cron,
    /// The seventh field, when given: which years fire.
    years: Option<Vec<YearRange>>,
}

#[derive(Clone, Copy, Debug)]
struct YearRange {
    from: i32,
    to: i32,
    step: i32,
}

impl CronSchedule {
    /// Parses an expression; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let (pattern, years) = match fields.len() {
            1 if trimmed.starts_with('@') => (trimmed.to_owned(), None),
            5 | 6 => (fields.join(" "), None),
            7 => (fields[..6].join(" "), Some(parse_years(fields[6])?)),
            n => {
                return Err(format!(
                    "cron expression {text:?} has {n} fields; expected 5 (minute hour day month weekday), \
                     6 (seconds first), 7 (seconds first, year last) or a nickname like @daily"
                ));
            }
        };
        let cron = Cron::new(&pattern)
            .with_seconds_optional()
            .parse()
            .map_err(|e| format!("cron expression {text:?} is not valid: {e}"))?;
        Ok(Self {
            text: trimmed.to_owned(),
            cron,
            years,
        })
    }

    /// The first firing strictly after `after`, in zone `tz`; `None` if it never fires again.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let mut from = after.with_timezone(&tz);
        // A year field can skip whole years; bound the search rather than loop forever.
        for _ in 0..10_000 {
            let next = self.cron.find_next_occurrence(&from, false).ok()?;
            match &self.years {
                None => return Some(next.with_timezone(&Utc)),
                Some(years) => {
                    let year = next.year();
                    if years.iter().any(|r| r.contains(year)) {
                        return Some(next.with_timezone(&Utc));
                    }
                    let later = years.iter().filter_map(|r| r.first_from(year + 1)).min()?;
                    from = tz
                        .with_ymd_and_hms(later, 1, 1, 0, 0, 0)
                        .earliest()?
                        .checked_sub_signed(chrono::Duration::seconds(1))?;
                }
            }
        }
        None
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl YearRange {
    fn contains(&self, year: i32) -> bool {
        year >= self.from && year <= self.to && (year - self.from) % self.step == 0
    }

    fn first_from(&self, year: i32) -> Option<i32> {
        let start = year.max(self.from);
        let offset = (start - self.from) % self.step;
        let y = if offset == 0 {
            start
        } else {
            start + self.step - offset
        };
        (y <= self.to).then_some(y)
    }
}

fn parse_years(field: &str) -> Result<Vec<YearRange>, String> {
    let bad = || format!("the year field {field:?} is not like 2030, 2025-2030, */2 or 2025,2027");
    let year = |s: &str| -> Result<i32, String> {
        s.parse::<i32>()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .ok_or_else(bad)
    };
    field
        .split(',')
        .map(|part| {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, s.parse::<i32>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
                None => (part, 1),
            };
            let (from, to) = match range {
                "*" => (1970, 9999),
                r => match r.split_once('-') {
                    Some((a, b)) => (year(a)?, year(b)?),
                    None if step > 1 => (year(r)?, 9999),
                    None => (year(r)?, year(r)?),
                },
            };
            if from > to {
                return Err(bad());
            }
            Ok(YearRange { from, to, step })
        })
        .collect()
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A time zone named as in the tz database (`Europe/Paris`, `UTC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZoneName(pub Tz);

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Tz>().map(Self).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a time zone name like UTC or Europe/Paris"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn five_fields_start_with_the_minute() {
        let s = CronSchedule::parse("0 2 * * *").expect("valid");
        assert_eq!(
            s.next_after(at("2026-03-01T10:00:00Z"), Tz::UTC),
            Some(at("2026-03-02T02:00:00Z"))
        );
    }

    #[test]
    fn six_fields_start_with_seconds() {
        let s = CronSchedule::parse("0 0 2 * * *").expect("valid");
        assert_eq!(
            s.next_after(at("2026-03-01T10:00:00Z"), Tz::UTC),
            Some(at("2026-03-02T02:00:00Z"))
        );
        let every = CronSchedule::parse("*/5 * * * * *").expect("valid");
        assert_eq!(
            every.next_after(at("2026-03-01T10:00:02Z"), Tz::UTC),
            Some(at("2026-03-01T10:00:05Z"))
        );
    }

    #[test]
    fn a_year_field_limits_the_years() {
        let s = CronSchedule::parse("0 0 12 1 1 * 2030").expect("valid");
        assert_eq!(
            s.next_after(at("2026-03-01T10:00:00Z"), Tz::UTC),
            Some(at("2030-01-01T12:00:00Z"))
        );
        let past = CronSchedule::parse("0 0 12 1 1 * 2020").expect("valid");
        assert_eq!(past.next_after(at("2026-03-01T10:00:00Z"), Tz::UTC), None);
    }

    #[test]
    fn nicknames_and_time_zones_work() {
        let s = CronSchedule::parse("@daily").expect("valid");
        let paris: Tz = "Europe/Paris".parse().expect("known zone");
        // Midnight in Paris in winter is 23:00 UTC.
        assert_eq!(
            s.next_after(at("2026-01-10T12:00:00Z"), paris),
            Some(at("2026-01-10T23:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = CronSchedule::parse("* * *").expect_err("three fields");
        assert!(e.contains("3 fields"), "{e}");
        assert!(CronSchedule::parse("61 * * * *").is_err());
        assert!(CronSchedule::parse("0 0 0 * * * 20x0").is_err());
    }
}
