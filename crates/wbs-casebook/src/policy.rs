//! The deadline policy: how long the inspectorate has to acknowledge a
//! report and to give feedback, in calendar or working days, and which days
//! are holidays.
//!
//! The defaults are those of EU Directive 2019/1937, art. 9(1)(b) and (f):
//! acknowledge within 7 days, give feedback within 3 months. A policy file
//! (TOML) changes them:
//!
//! ```toml
//! acknowledge_days = 7        # counted in `day_kind` days
//! feedback_months = 3         # calendar months; or set feedback_days
//! # feedback_days = 60        # instead of months, counted in `day_kind` days
//! day_kind = "working"        # "calendar" (default) or "working"
//! due_soon_days = 3           # "due soon" when this many days or fewer are left
//! publish_threshold = 3       # published counts below this show as "< 3"
//!
//! [[holiday]]                 # on top of the shipped national holidays
//! date = "2026-04-20"
//! name = "Hari jadi kota"
//! ```
//!
//! Working days skip Saturdays, Sundays and the holidays; the shipped list
//! is Indonesia's (`data/holidays-id.toml`, with its sources).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::day::{Day, Weekday};

/// Indonesia's national holidays and collective leave days, as shipped.
pub const SHIPPED_HOLIDAYS: &str = include_str!("../data/holidays-id.toml");

/// How periods are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Every day counts.
    Calendar,
    /// Monday to Friday, except holidays.
    Working,
}

/// A day off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The day.
    pub date: Day,
    /// What it is.
    pub name: String,
    /// An expected date not yet confirmed by the government's decree.
    #[serde(default)]
    pub provisional: bool,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML, or a field of the wrong type or unknown.
    #[error("the policy is not valid: {0}")]
    Invalid(String),
    /// A value out of range.
    #[error("the policy is not valid: {0}")]
    Range(&'static str),
}

/// The deadline policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days to acknowledge a report, counted in `day_kind` days.
    pub acknowledge_days: u32,
    /// Calendar months to give feedback (used unless `feedback_days`).
    pub feedback_months: u32,
    /// Days to give feedback, counted in `day_kind` days, instead of months.
    pub feedback_days: Option<u32>,
    /// Calendar or working days.
    pub day_kind: DayKind,
    /// A clock is "due soon" with this many calendar days or fewer left.
    pub due_soon_days: u32,
    /// Counts below this are published as "< N".
    pub publish_threshold: u64,
    /// Days off, by date.
    pub holidays: BTreeMap<Day, Holiday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    acknowledge_days: Option<u32>,
    feedback_months: Option<u32>,
    feedback_days: Option<u32>,
    day_kind: Option<DayKind>,
    due_soon_days: Option<u32>,
    publish_threshold: Option<u64>,
    /// Leave out the shipped national holidays (a deployment outside
    /// Indonesia lists its own).
    #[serde(default)]
    replace_shipped_holidays: bool,
    #[serde(default)]
    holiday: Vec<Holiday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    #[serde(default)]
    holiday: Vec<Holiday>,
}

impl Default for Policy {
    /// The directive's periods in calendar days, with the shipped holidays.
    fn default() -> Self {
        let shipped: HolidayFile =
            toml::from_str(SHIPPED_HOLIDAYS).expect("the shipped holiday list parses");
        Policy {
            acknowledge_days: 7,
            feedback_months: 3,
            feedback_days: None,
            day_kind: DayKind::Calendar,
            due_soon_days: 3,
            publish_threshold: 3,
            holidays: shipped.holiday.into_iter().map(|h| (h.date, h)).collect(),
        }
    }
}

impl Policy {
    /// Reads a policy file's text; what it leaves out keeps its default.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Invalid(e.message().to_string()))?;
        let mut p = Policy::default();
        if file.replace_shipped_holidays {
            p.holidays.clear();
        }
        if let Some(v) = file.acknowledge_days {
            p.acknowledge_days = v;
        }
        if let Some(v) = file.feedback_months {
            p.feedback_months = v;
        }
        p.feedback_days = file.feedback_days;
        if let Some(v) = file.day_kind {
            p.day_kind = v;
        }
        if let Some(v) = file.due_soon_days {
            p.due_soon_days = v;
        }
        if let Some(v) = file.publish_threshold {
            p.publish_threshold = v;
        }
        for h in file.holiday {
            p.holidays.insert(h.date, h);
        }
        if !(1..=365).contains(&p.acknowledge_days) {
            return Err(PolicyError::Range("acknowledge_days must be 1 to 365"));
        }
        if p.feedback_days.is_none() && !(1..=24).contains(&p.feedback_months) {
            return Err(PolicyError::Range("feedback_months must be 1 to 24"));
        }
        if p.feedback_days.is_some_and(|d| !(1..=730).contains(&d)) {
            return Err(PolicyError::Range("feedback_days must be 1 to 730"));
        }
        if p.due_soon_days > 60 {
            return Err(PolicyError::Range("due_soon_days must be 0 to 60"));
        }
        if p.publish_threshold > 1000 {
            return Err(PolicyError::Range("publish_threshold must be 0 to 1000"));
        }
        Ok(p)
    }

    /// Whether `day` is a working day: not a weekend, not a holiday.
    pub fn is_working_day(&self, day: Day) -> bool {
        !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.holidays.contains_key(&day)
    }

    /// `n` days after `start`, in this policy's kind of day. In working
    /// days, the first day counted is the first working day after `start`.
    pub fn plus(&self, start: Day, n: u32) -> Day {
        match self.day_kind {
            DayKind::Calendar => start.plus_days(i64::from(n)),
            DayKind::Working => {
                let mut day = start;
                let mut left = n;
                while left > 0 {
                    day = day.plus_days(1);
                    if self.is_working_day(day) {
                        left -= 1;
                    }
                }
                day
            }
        }
    }

    /// The last day to acknowledge a report received on `received`.
    pub fn acknowledge_by(&self, received: Day) -> Day {
        self.plus(received, self.acknowledge_days)
    }

    /// The last day to give feedback, counted from `from` (the day of
    /// acknowledgement, or the end of the acknowledgement period).
    pub fn feedback_by(&self, from: Day) -> Day {
        match self.feedback_days {
            Some(n) => self.plus(from, n),
            None => {
                let mut day = from.plus_months(self.feedback_months);
                // A deadline in working days never falls on a day off.
                if self.day_kind == DayKind::Working {
                    while !self.is_working_day(day) {
                        day = day.plus_days(1);
                    }
                }
                day
            }
        }
    }

    /// Holidays marked provisional, for a warning where they matter.
    pub fn provisional_holidays(&self) -> impl Iterator<Item = &Holiday> {
        self.holidays.values().filter(|h| h.provisional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn the_shipped_list_holds_both_years() {
        let p = Policy::default();
        assert!(p.holidays.contains_key(&d("2026-08-17")));
        assert!(p.holidays.contains_key(&d("2027-08-17")));
        assert_eq!(
            p.holidays
                .keys()
                .filter(|k| k.month_key().starts_with("2026"))
                .count(),
            25,
            "17 national holidays and 8 days of cuti bersama in 2026"
        );
        assert!(p.provisional_holidays().count() > 0);
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let p = Policy::from_toml("day_kind = \"working\"").unwrap();
        // Friday 2026-03-13 + 7 working days: 16, 17 (Mon, Tue), then
        // 18–24 March are Nyepi, Idulfitri and cuti bersama, then 25, 26,
        // 27, 30, 31.
        assert_eq!(p.acknowledge_by(d("2026-03-13")), d("2026-03-31"));
        // In calendar days the same report is due a week later.
        let c = Policy::default();
        assert_eq!(c.acknowledge_by(d("2026-03-13")), d("2026-03-20"));
    }

    #[test]
    fn feedback_by_months_lands_on_a_working_day() {
        let p = Policy::from_toml("day_kind = \"working\"").unwrap();
        // 2026-05-17 + 3 months = 2026-08-17, Independence Day: next
        // working day.
        assert_eq!(p.feedback_by(d("2026-05-17")), d("2026-08-18"));
        assert_eq!(
            Policy::default().feedback_by(d("2026-05-17")),
            d("2026-08-17")
        );
        let days = Policy::from_toml("feedback_days = 30").unwrap();
        assert_eq!(days.feedback_by(d("2026-01-01")), d("2026-01-31"));
    }

    #[test]
    fn bad_policies_are_refused_with_a_reason() {
        assert!(Policy::from_toml("acknowledge_days = 0").is_err());
        assert!(Policy::from_toml("ack_days = 7").is_err());
        assert!(Policy::from_toml("day_kind = \"lunar\"").is_err());
        let e = Policy::from_toml("[[holiday]]\ndate = \"2026-02-30\"\nname = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a date"), "{e}");
        let own = Policy::from_toml(
            "replace_shipped_holidays = true\n[[holiday]]\ndate = \"2026-04-20\"\nname = \"Hari jadi\"",
        )
        .unwrap();
        assert_eq!(own.holidays.len(), 1);
    }
}
