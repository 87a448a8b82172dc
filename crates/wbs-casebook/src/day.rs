//! Calendar dates, as WBS stores them: `YYYY-MM-DD`, never an hour.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wbs_protocol::date::{date_from_unix_days, unix_days_from_date};

/// A calendar date, as a count of days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Day {
    /// Parses `YYYY-MM-DD`; `None` for anything else (or a date that does
    /// not exist, such as `2026-02-30`).
    pub fn parse(s: &str) -> Option<Day> {
        unix_days_from_date(s).map(Day)
    }

    /// From a count of days since 1970-01-01.
    pub fn from_unix_days(days: i64) -> Day {
        Day(days)
    }

    /// Days since 1970-01-01.
    pub fn unix_days(self) -> i64 {
        self.0
    }

    /// Today, in UTC.
    pub fn today() -> Day {
        Day(wbs_protocol::date::today_days())
    }

    /// `n` calendar days later (earlier if negative).
    pub fn plus_days(self, n: i64) -> Day {
        Day(self.0 + n)
    }

    /// Calendar days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        later.0 - self.0
    }

    /// Year, month (1–12) and day (1–31).
    pub fn ymd(self) -> (i64, u32, u32) {
        let s = date_from_unix_days(self.0);
        let y = s[..s.len() - 6].parse().expect("formatted year");
        let m = s[s.len() - 5..s.len() - 3]
            .parse()
            .expect("formatted month");
        let d = s[s.len() - 2..].parse().expect("formatted day");
        (y, m, d)
    }

    /// The same day of the month `n` calendar months later; a day the
    /// target month lacks becomes its last day (31 January + 1 month =
    /// 28 or 29 February).
    pub fn plus_months(self, n: u32) -> Day {
        let (y, m, d) = self.ymd();
        let months = y * 12 + i64::from(m - 1) + i64::from(n);
        let (ty, tm) = (months.div_euclid(12), (months.rem_euclid(12) + 1) as u32);
        let last = days_in_month(ty, tm);
        let s = format!("{ty:04}-{tm:02}-{:02}", d.min(last));
        Day::parse(&s).expect("a valid date")
    }

    /// The day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        match self.0.rem_euclid(7) {
            0 => Weekday::Thursday,
            1 => Weekday::Friday,
            2 => Weekday::Saturday,
            3 => Weekday::Sunday,
            4 => Weekday::Monday,
            5 => Weekday::Tuesday,
            _ => Weekday::Wednesday,
        }
    }

    /// `YYYY-MM`, for monthly figures.
    pub fn month_key(self) -> String {
        let (y, m, _) = self.ymd();
        format!("{y:04}-{m:02}")
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&date_from_unix_days(self.0))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a date: {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(d("2026-01-31").plus_months(1), d("2026-02-28"));
        assert_eq!(d("2028-01-31").plus_months(1), d("2028-02-29"));
        assert_eq!(d("2026-11-30").plus_months(3), d("2027-02-28"));
        assert_eq!(d("2026-03-15").plus_months(3), d("2026-06-15"));
        assert_eq!(d("2026-10-01").plus_months(3), d("2027-01-01"));
    }

    #[test]
    fn weekdays_and_parsing() {
        assert_eq!(d("2026-11-30").weekday(), Weekday::Monday);
        assert_eq!(d("2026-12-05").weekday(), Weekday::Saturday);
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thursday);
        assert!(Day::parse("2026-02-30").is_none());
        assert!(Day::parse("2026-1-5").is_none());
        assert_eq!(d("2026-03-01").month_key(), "2026-03");
        assert_eq!(d("2026-01-01").days_until(d("2026-03-01")), 59);
    }
}
