//! The figures for a period: what an inspectorate reports on its handling
//! of reports (ISO 37002 §9.1.2; EU Directive 2019/1937 art. 27).
//!
//! A case belongs to the period `[from, to]` (both days included) by the day
//! its report was **received**. For those cases:
//!
//! - reports received in total, per month, per category and per channel
//!   (the client that sent it: `web`, `cli`, or `unknown` for reports from
//!   older clients; anything else counts as `other`);
//! - the current status of each, and the outcomes among them
//!   (closed substantiated, closed unsubstantiated, rejected, forwarded);
//! - days to acknowledge (received → acknowledged) and days to close
//!   (received → first closing, rejecting or forwarding status), in
//!   calendar days whatever the policy counts deadlines in: the median and
//!   the 90th percentile, by the nearest-rank method (see [`percentile`]);
//! - the share acknowledged within the legal period and the share answered
//!   (feedback) within it, out of the cases whose clock has ended: met
//!   (on time or late) or overdue on `today`. A clock still running is in
//!   neither part of the share.
//!
//! **Publication mode** (`publish = true`) is for figures that leave the
//! inspectorate. Every count below the policy's `publish_threshold`
//! (default 3), zero included, is shown as `< 3`, so that no figure says
//! "one report about X in March". Beyond that:
//!
//! - when a breakdown (months, categories, channels, statuses) would hide
//!   exactly one count while its total is shown, the next smallest count is
//!   hidden too, or the hidden one could be worked out by subtraction;
//! - categories and channels with fewer reports than the threshold are
//!   merged into one row, "other": their names were chosen by reporters'
//!   clients and a rare name could itself point at somebody;
//! - a median, a percentile or a share computed from fewer cases than the
//!   threshold is not shown at all: a median of two cases *is* one of them.
//!
//! A share over at least the threshold of cases is shown even if the
//! number of cases late is small: it says how the inspectorate performed,
//! not who reported.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wbs_protocol::Status;

use crate::clocks::{clocks, CaseFacts, ClockState};
use crate::day::Day;
use crate::folders::{Case, UNKNOWN_CHANNEL};
use crate::policy::Policy;

/// What the statistics need of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsCase {
    /// The report's category ("" if the report was not opened).
    pub category: String,
    /// The report's channel.
    pub channel: String,
    /// The current status.
    pub status: Status,
    /// Received day, status history and replies.
    pub facts: CaseFacts,
}

impl From<&Case> for StatsCase {
    fn from(c: &Case) -> Self {
        StatsCase {
            category: c.category().to_string(),
            channel: c.channel().to_string(),
            status: c.status,
            facts: c.facts(),
        }
    }
}

/// The median and the 90th percentile of a number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// How many cases the figures are computed from.
    pub cases: u64,
    /// The median (nearest rank), `None` without cases.
    pub median: Option<i64>,
    /// The 90th percentile (nearest rank), `None` without cases.
    pub p90: Option<i64>,
}

/// A share: `within` of `of` cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Share {
    /// Cases whose clock was met on time.
    pub within: u64,
    /// Cases whose clock has ended (met, on time or late, or overdue).
    pub of: u64,
}

impl Share {
    /// The share in percent, `None` when `of` is 0.
    pub fn percent(&self) -> Option<f64> {
        (self.of > 0).then(|| self.within as f64 * 100.0 / self.of as f64)
    }
}

/// The statuses counted as outcomes.
pub const OUTCOMES: [Status; 4] = [
    Status::ClosedSubstantiated,
    Status::ClosedUnsubstantiated,
    Status::Rejected,
    Status::Forwarded,
];

/// The channels every table lists, even when no report came that way.
pub const KNOWN_CHANNELS: [&str; 3] = ["web", "cli", UNKNOWN_CHANNEL];

/// The figures for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// First day of the period.
    pub from: Day,
    /// Last day of the period (included).
    pub to: Day,
    /// The day the clocks were read.
    pub today: Day,
    /// Counts below this are hidden in publication mode.
    pub threshold: u64,
    /// Reports received in the period.
    pub received: u64,
    /// Per month (`YYYY-MM`), every month of the period, zeros included.
    pub per_month: Vec<(String, u64)>,
    /// Per category, by name.
    pub per_category: Vec<(String, u64)>,
    /// Per channel: `web`, `cli`, `unknown`, then `other` if any.
    pub per_channel: Vec<(String, u64)>,
    /// Current status, every status in workflow order.
    pub status_now: Vec<(Status, u64)>,
    /// Days from received to acknowledged.
    pub days_to_acknowledge: Summary,
    /// Days from received to closed (closed, rejected or forwarded).
    pub days_to_close: Summary,
    /// Acknowledged within the period set by the policy.
    pub acknowledged_in_time: Share,
    /// Feedback given within the period set by the policy.
    pub answered_in_time: Share,
}

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending) by the
/// nearest-rank method: the smallest value with at least `p`% of the
/// values at or below it, i.e. the value at rank ⌈p·n/100⌉ (1-based). It is
/// always one of the values (a whole number of days); the median is the
/// 50th percentile, so for an even count it is the lower of the two middle
/// values. `None` for no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).clamp(1, n);
    Some(sorted[(rank - 1) as usize])
}

fn summary(mut days: Vec<i64>) -> Summary {
    days.sort_unstable();
    Summary {
        cases: days.len() as u64,
        median: percentile(&days, 50),
        p90: percentile(&days, 90),
    }
}

fn channel_bucket(channel: &str) -> &str {
    if KNOWN_CHANNELS.contains(&channel) {
        channel
    } else if channel.is_empty() {
        UNKNOWN_CHANNEL
    } else {
        "other"
    }
}

fn add_share(share: &mut Share, state: &ClockState) {
    match state {
        ClockState::Met { late, .. } => {
            share.of += 1;
            if !late {
                share.within += 1;
            }
        }
        ClockState::Overdue { .. } => share.of += 1,
        ClockState::OnTime { .. } | ClockState::DueSoon { .. } => {}
    }
}

impl Stats {
    /// The figures for the cases received from `from` to `to` (both
    /// included), with their clocks as they stand on `today`.
    pub fn compute(cases: &[StatsCase], policy: &Policy, from: Day, to: Day, today: Day) -> Stats {
        let mut months: BTreeMap<String, u64> = BTreeMap::new();
        if from <= to {
            let mut m = from;
            while m.month_key() <= to.month_key() {
                months.insert(m.month_key(), 0);
                m = m.plus_months(1);
            }
        }
        let mut categories: BTreeMap<String, u64> = BTreeMap::new();
        let mut channels: BTreeMap<String, u64> = BTreeMap::new();
        let mut statuses: BTreeMap<&str, u64> = BTreeMap::new();
        let mut to_ack = Vec::new();
        let mut to_close = Vec::new();
        let mut acknowledged_in_time = Share::default();
        let mut answered_in_time = Share::default();
        let mut received = 0;
        for case in cases {
            let on = case.facts.received_on;
            if on < from || on > to {
                continue;
            }
            received += 1;
            *months.entry(on.month_key()).or_default() += 1;
            *categories.entry(case.category.clone()).or_default() += 1;
            *channels
                .entry(channel_bucket(&case.channel).to_string())
                .or_default() += 1;
            *statuses.entry(case.status.as_str()).or_default() += 1;
            let c = clocks(&case.facts, policy, today);
            if let Some(ack) = c.acknowledged_on {
                to_ack.push(on.days_until(ack).max(0));
            }
            if let Some(closed) = c.closed_on {
                to_close.push(on.days_until(closed).max(0));
            }
            add_share(&mut acknowledged_in_time, &c.acknowledge);
            add_share(&mut answered_in_time, &c.feedback);
        }
        let mut per_channel: Vec<(String, u64)> = KNOWN_CHANNELS
            .iter()
            .map(|c| (c.to_string(), channels.get(*c).copied().unwrap_or(0)))
            .collect();
        if let Some(n) = channels.get("other") {
            per_channel.push(("other".into(), *n));
        }
        Stats {
            from,
            to,
            today,
            threshold: policy.publish_threshold,
            received,
            per_month: months.into_iter().collect(),
            per_category: categories.into_iter().collect(),
            per_channel,
            status_now: Status::ALL
                .iter()
                .map(|s| (*s, statuses.get(s.as_str()).copied().unwrap_or(0)))
                .collect(),
            days_to_acknowledge: summary(to_ack),
            days_to_close: summary(to_close),
            acknowledged_in_time,
            answered_in_time,
        }
    }

    /// The figures of a case book.
    pub fn of_cases(cases: &[Case], policy: &Policy, from: Day, to: Day, today: Day) -> Stats {
        let list: Vec<StatsCase> = cases.iter().map(StatsCase::from).collect();
        Stats::compute(&list, policy, from, to, today)
    }

    /// The count of cases whose current status is `status`.
    pub fn status_count(&self, status: Status) -> u64 {
        self.status_now
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// Every figure, as published (`publish`) or for the inspectorate's
    /// own use: what both the CSV and the printable page show.
    pub fn figures(&self, publish: bool) -> Figures {
        let t = if publish { self.threshold } else { 0 };
        let total = shown_count(self.received, t);
        let total_shown = !matches!(total, Shown::Hidden(_));
        let breakdown = |rows: Vec<(String, u64)>, merge_small: bool| -> Vec<Row> {
            let rows = if merge_small && t > 0 {
                merge_rare(rows, t)
            } else {
                rows
            };
            protect(rows, t, total_shown)
        };
        let statuses: Vec<(String, u64)> = self
            .status_now
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), *n))
            .collect();
        let status_rows = breakdown(statuses, false);
        let outcomes = status_rows
            .iter()
            .filter(|r| OUTCOMES.iter().any(|s| s.as_str() == r.key))
            .cloned()
            .collect();
        Figures {
            publish,
            threshold: self.threshold,
            received: total,
            per_month: breakdown(self.per_month.clone(), false),
            per_category: breakdown(self.per_category.clone(), true),
            per_channel: breakdown(self.per_channel.clone(), true),
            status_now: status_rows,
            outcomes,
            days_to_acknowledge: derived_summary(&self.days_to_acknowledge, t),
            days_to_close: derived_summary(&self.days_to_close, t),
            acknowledged_in_time: derived_share(&self.acknowledged_in_time, t),
            answered_in_time: derived_share(&self.answered_in_time, t),
        }
    }
}

/// A figure as shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shown {
    /// A count.
    Count(u64),
    /// A whole number of days.
    Days(i64),
    /// A percentage.
    Percent(f64),
    /// A count below the threshold, shown as `< threshold`.
    Hidden(u64),
    /// A figure computed from fewer cases than the threshold: not shown.
    Suppressed,
    /// Nothing to compute it from (no case).
    None,
}

impl Shown {
    /// The text shown: `12`, `87.5`, `< 3`; empty for a figure not shown.
    pub fn text(&self, publish: bool) -> String {
        match *self {
            Shown::Count(n) => n.to_string(),
            Shown::Days(n) => n.to_string(),
            // Whole percent for publication: one decimal would say more
            // about small numbers than is meant.
            Shown::Percent(p) if publish => format!("{p:.0}"),
            Shown::Percent(p) => format!("{p:.1}"),
            Shown::Hidden(t) => format!("< {t}"),
            Shown::Suppressed | Shown::None => String::new(),
        }
    }
}

/// One line of a breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The month, category, channel or status (wire name); `other` for the
    /// merged rare categories or channels.
    pub key: String,
    /// The count as shown.
    pub value: Shown,
    /// The count itself (for bar lengths; never drawn when hidden).
    pub count: u64,
}

/// A median and percentile as shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryShown {
    /// How many cases, as shown.
    pub cases: Shown,
    /// The median.
    pub median: Shown,
    /// The 90th percentile.
    pub p90: Shown,
}

/// A share as shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareShown {
    /// Cases met on time, as shown.
    pub within: Shown,
    /// Cases whose clock has ended, as shown.
    pub of: Shown,
    /// The percentage.
    pub percent: Shown,
}

/// Every figure as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Publication mode.
    pub publish: bool,
    /// The threshold.
    pub threshold: u64,
    /// Reports received.
    pub received: Shown,
    /// Per month.
    pub per_month: Vec<Row>,
    /// Per category.
    pub per_category: Vec<Row>,
    /// Per channel.
    pub per_channel: Vec<Row>,
    /// Current status.
    pub status_now: Vec<Row>,
    /// Outcomes (the same counts as in `status_now`).
    pub outcomes: Vec<Row>,
    /// Days to acknowledge.
    pub days_to_acknowledge: SummaryShown,
    /// Days to close.
    pub days_to_close: SummaryShown,
    /// Acknowledged within the period.
    pub acknowledged_in_time: ShareShown,
    /// Feedback within the period.
    pub answered_in_time: ShareShown,
}

fn shown_count(n: u64, t: u64) -> Shown {
    if n < t {
        Shown::Hidden(t)
    } else {
        Shown::Count(n)
    }
}

/// Rows below `t` merged into one row `other` (kept in place of the rows
/// it replaces, at the end).
fn merge_rare(rows: Vec<(String, u64)>, t: u64) -> Vec<(String, u64)> {
    let mut kept = Vec::new();
    let mut other = 0;
    let mut merged = false;
    for (key, n) in rows {
        if n < t || key == "other" {
            other += n;
            merged = true;
        } else {
            kept.push((key, n));
        }
    }
    if merged {
        kept.push(("other".to_string(), other));
    }
    kept
}

/// Hides counts below `t`; if exactly one is hidden and the total is
/// shown, hides the next smallest too (see the module documentation).
fn protect(rows: Vec<(String, u64)>, t: u64, total_shown: bool) -> Vec<Row> {
    let mut out: Vec<Row> = rows
        .into_iter()
        .map(|(key, count)| Row {
            value: shown_count(count, t),
            key,
            count,
        })
        .collect();
    let hidden = out
        .iter()
        .filter(|r| matches!(r.value, Shown::Hidden(_)))
        .count();
    if t > 0 && total_shown && hidden == 1 {
        if let Some(next) = out
            .iter_mut()
            .filter(|r| !matches!(r.value, Shown::Hidden(_)))
            .min_by_key(|r| r.count)
        {
            next.value = Shown::Hidden(t);
        }
    }
    out
}

fn derived_summary(s: &Summary, t: u64) -> SummaryShown {
    let enough = s.cases >= t.max(1);
    let days = |v: Option<i64>| match v {
        _ if s.cases == 0 => Shown::None,
        Some(d) if enough => Shown::Days(d),
        _ => Shown::Suppressed,
    };
    SummaryShown {
        cases: shown_count(s.cases, t),
        median: days(s.median),
        p90: days(s.p90),
    }
}

fn derived_share(s: &Share, t: u64) -> ShareShown {
    let percent = match s.percent() {
        None => Shown::None,
        Some(_) if s.of < t => Shown::Suppressed,
        Some(p) => Shown::Percent(p),
    };
    ShareShown {
        within: shown_count(s.within, t),
        of: shown_count(s.of, t),
        percent,
    }
}

/// One CSV field: quoted when needed; a field that a spreadsheet would take
/// for a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a
/// leading `'`, since category names come from reporters' clients.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

impl Figures {
    /// `stats.csv`: UTF-8, comma-separated, one header line
    /// `section,item,value,cases`, then one line per figure (see
    /// docs/INVESTIGATORS.md for every section). `value` is a number, `< N`
    /// for a hidden count, or empty for a figure not shown; `cases` is how
    /// many cases a derived figure (median, percentile, share) is computed
    /// from.
    pub fn to_csv(&self, stats: &Stats) -> String {
        let p = self.publish;
        let mut out = String::from("section,item,value,cases\n");
        let mut line = |section: &str, item: &str, value: String, cases: String| {
            let _ = writeln!(
                out,
                "{},{},{},{}",
                csv_field(section),
                csv_field(item),
                csv_field(&value),
                csv_field(&cases)
            );
        };
        line("period", "from", stats.from.to_string(), String::new());
        line("period", "to", stats.to.to_string(), String::new());
        line("period", "today", stats.today.to_string(), String::new());
        line(
            "period",
            "mode",
            if p { "publication" } else { "internal" }.into(),
            String::new(),
        );
        line(
            "period",
            "threshold",
            self.threshold.to_string(),
            String::new(),
        );
        line("received", "total", self.received.text(p), String::new());
        for (section, rows) in [
            ("received_per_month", &self.per_month),
            ("received_per_category", &self.per_category),
            ("received_per_channel", &self.per_channel),
            ("status_now", &self.status_now),
            ("outcome", &self.outcomes),
        ] {
            for r in rows {
                line(section, &r.key, r.value.text(p), String::new());
            }
        }
        for (section, s) in [
            ("days_to_acknowledge", &self.days_to_acknowledge),
            ("days_to_close", &self.days_to_close),
        ] {
            line(section, "median", s.median.text(p), s.cases.text(p));
            line(section, "p90", s.p90.text(p), s.cases.text(p));
        }
        for (section, s) in [
            ("acknowledged_in_time", &self.acknowledged_in_time),
            ("answered_in_time", &self.answered_in_time),
        ] {
            line(section, "within", s.within.text(p), s.of.text(p));
            line(section, "percent", s.percent.text(p), s.of.text(p));
        }
        out
    }

    /// The printable page (see [`crate::stats::html`]).
    pub fn to_html(&self, stats: &Stats, policy: &Policy) -> String {
        html::page(self, stats, policy)
    }
}

pub mod html;

#[cfg(test)]
mod tests;
