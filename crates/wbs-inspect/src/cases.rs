//! `wbs-inspect cases` and `wbs-inspect stats`: the case book
//! (`wbs-casebook`) on the command line.
//!
//! `cases` lists every case of a folder written by `open`, with both legal
//! clocks, the most urgent first; `--json` prints the same as a JSON array
//! (its fields are documented in docs/INVESTIGATORS.md and kept stable).
//! `stats` writes `stats.csv` and `stats.html` for a period.
//!
//! Everything shown comes from case folders, that is from reporters and the
//! server: every string goes through `wbs_protocol::text` before it reaches
//! the terminal, and the JSON escapes every character a terminal could act
//! on.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde_json::{json, Value};
use wbs_casebook::stats::Stats;
use wbs_casebook::{load_policy, Case, CaseBook, ClockState, Clocks, Day, DayKind, Policy};
use wbs_protocol::text::{is_unsafe_char, terminal_line};

use crate::cli::{CasesArgs, StatsArgs};
use crate::error::{one_line, Error, Result};
use crate::fsutil::{ensure_dir, Placed, TempFile};

/// Prints one warning line on standard error, made safe for a terminal
/// (it names folders and problems found in case folders).
macro_rules! warn {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stderr(), "{}", one_line(&line));
    }};
}

/// The file names `stats` writes.
pub const STATS_CSV: &str = "stats.csv";
/// The printable page.
pub const STATS_HTML: &str = "stats.html";

/// Longest title shown in the list (characters).
const TITLE_WIDTH: usize = 50;

fn parse_day(s: &str, flag: &str) -> Result<Day> {
    Day::parse(s).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} {}: not a date; give YYYY-MM-DD",
            one_line(s)
        ))
    })
}

fn today(given: Option<&str>) -> Result<Day> {
    match given {
        Some(s) => parse_day(s, "--today"),
        None => Ok(Day::today()),
    }
}

fn load(dir: &Path, policy: Option<&Path>) -> Result<(CaseBook, Policy)> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a folder; give the folder `wbs-inspect open --out` wrote into",
            dir.display()
        )));
    }
    let (policy, _) = load_policy(dir, policy).map_err(|e| Error::Usage(e.to_string()))?;
    let book = CaseBook::load(dir).map_err(|e| Error::Usage(e.to_string()))?;
    for w in &book.warnings {
        warn!(
            "wbs-inspect: warning: {} left out: {}",
            w.folder.display(),
            w.message
        );
    }
    for case in &book.cases {
        for p in &case.problems {
            warn!("wbs-inspect: warning: case {}: {p}", case.id);
        }
    }
    Ok((book, policy))
}

/// One clock for people: `met 2026-01-08 (due 2026-01-12)`,
/// `overdue since 2026-01-12 (3 days)`, `due_soon 2026-01-12 (2 days left)`.
pub fn clock_text(state: &ClockState) -> String {
    match *state {
        ClockState::OnTime { due, days_left } | ClockState::DueSoon { due, days_left } => {
            let left = match days_left {
                0 => "today".to_string(),
                1 => "1 day left".to_string(),
                n => format!("{n} days left"),
            };
            format!("{} {due} ({left})", state.code())
        }
        ClockState::Overdue { due, days_over } => format!(
            "overdue {due} ({days_over} day{} over)",
            if days_over == 1 { "" } else { "s" }
        ),
        ClockState::Met { due, on, .. } => format!("{} {on} (due {due})", state.code()),
    }
}

/// One clock in `--json`: `state` (`on_time`, `due_soon`, `overdue`, `met`,
/// `met_late`), `due`, and `days_left`, `days_over` or `on`.
pub fn clock_json(state: &ClockState) -> Value {
    match *state {
        ClockState::OnTime { due, days_left } | ClockState::DueSoon { due, days_left } => {
            json!({"state": state.code(), "due": due, "days_left": days_left})
        }
        ClockState::Overdue { due, days_over } => {
            json!({"state": state.code(), "due": due, "days_over": days_over})
        }
        ClockState::Met { due, on, .. } => json!({"state": state.code(), "due": due, "on": on}),
    }
}

/// One case in `--json` (docs/INVESTIGATORS.md, "The case list as JSON").
pub fn case_json(case: &Case, clocks: &Clocks) -> Value {
    json!({
        "id": case.id,
        "status": case.status.as_str(),
        "received_on": case.received_on,
        "title": case.report.as_ref().map(|r| r.title.as_str()),
        "category": case.report.as_ref().map(|r| r.category.as_str()),
        "channel": case.channel(),
        "acknowledge": clock_json(&clocks.acknowledge),
        "feedback": clock_json(&clocks.feedback),
        "acknowledged_on": clocks.acknowledged_on,
        "closed_on": clocks.closed_on,
        "followups": case.followups.len(),
        "replies_sent": case.replies_sent.len(),
        "unverified": case.unverified,
        "problems": case.problems,
    })
}

/// JSON text with every character a terminal could act on escaped
/// (serde_json already escapes C0 controls; C1, bidirectional controls and
/// line separators it leaves as they are). Such characters can only be
/// inside strings, where `\uXXXX` means the same.
pub fn terminal_safe_json(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // A raw line break is pretty-printing, between tokens.
        if c != '\n' && is_unsafe_char(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Runs `cases` and returns what to print (several lines).
pub fn run_cases(args: &CasesArgs) -> Result<String> {
    let today = today(args.today.as_deref())?;
    let (book, policy) = load(&args.dir, args.policy.as_deref())?;
    let list = book.by_urgency(&policy, today);
    if args.json {
        let array: Vec<Value> = list.iter().map(|(c, k)| case_json(c, k)).collect();
        return Ok(terminal_safe_json(&Value::Array(array)));
    }
    warn_provisional(&policy, &list);

    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|(c, k)| {
            let title = match &c.report {
                Some(r) => shorten(&terminal_line(&r.title), TITLE_WIDTH),
                None => "(report not opened yet)".to_string(),
            };
            let mut status = c.status.as_str().to_string();
            if c.unverified > 0 {
                status.push_str(" [!unverified]");
            }
            [
                terminal_line(&c.id),
                status,
                c.received_on.to_string(),
                clock_text(&k.acknowledge),
                clock_text(&k.feedback),
                title,
            ]
        })
        .collect();
    let header = [
        "CASE",
        "STATUS",
        "RECEIVED",
        "ACKNOWLEDGE BY",
        "FEEDBACK BY",
        "TITLE",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 6]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 5 {
                l.push_str(cell);
            } else {
                l.push_str(&pad(cell, widths[i]));
                l.push_str("  ");
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&mut out, header);
    for r in &rows {
        line(&mut out, r.each_ref().map(String::as_str));
    }
    let overdue = list.iter().filter(|(_, k)| k.is_overdue()).count();
    let soon = list.iter().filter(|(_, k)| k.is_due_soon()).count();
    let days = match policy.day_kind {
        DayKind::Calendar => "calendar days",
        DayKind::Working => "working days",
    };
    let _ = write!(
        out,
        "{} case{} on {today}: {overdue} overdue, {soon} due within {} days (periods in {days})",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        policy.due_soon_days
    );
    Ok(out)
}

/// Working-day deadlines that count a holiday whose date the government
/// has not confirmed yet deserve a warning.
fn warn_provisional(policy: &Policy, list: &[(&Case, Clocks)]) {
    if policy.day_kind != DayKind::Working {
        return;
    }
    let mut used: Vec<String> = Vec::new();
    for h in policy.provisional_holidays() {
        let counts = list.iter().any(|(c, k)| {
            [k.acknowledge, k.feedback].iter().any(|s| {
                !matches!(s, ClockState::Met { .. }) && c.received_on <= h.date && h.date <= s.due()
            })
        });
        if counts {
            used.push(h.date.to_string());
        }
    }
    if !used.is_empty() {
        warn!(
            "wbs-inspect: warning: some deadlines count provisional holidays ({}); check them \
             against the government's decree and update the holiday list",
            used.join(", ")
        );
    }
}

/// Runs `stats` and returns the summary line.
pub fn run_stats(args: &StatsArgs) -> Result<String> {
    let from = parse_day(&args.from, "--from")?;
    let to = parse_day(&args.to, "--to")?;
    if from > to {
        return Err(Error::Usage(format!("--from {from} is after --to {to}")));
    }
    let today = today(args.today.as_deref())?;
    let csv_path = args.out.join(STATS_CSV);
    let html_path = args.out.join(STATS_HTML);
    // Nothing is overwritten: refuse before reading anything.
    for p in [&csv_path, &html_path] {
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(Error::Usage(format!(
                "{} already exists; refusing to overwrite it (choose another --out folder)",
                p.display()
            )));
        }
    }
    let (book, policy) = load(&args.dir, args.policy.as_deref())?;
    let stats = Stats::of_cases(&book.cases, &policy, from, to, today);
    let figures = stats.figures(args.publish);
    let csv = figures.to_csv(&stats);
    let html = figures.to_html(&stats, &policy);

    ensure_dir(&args.out)?;
    write_new(&csv_path, csv.as_bytes())?;
    write_new(&html_path, html.as_bytes())?;
    Ok(format!(
        "{} report{} received from {from} to {to}; wrote {} and {}{}",
        stats.received,
        if stats.received == 1 { "" } else { "s" },
        csv_path.display(),
        html_path.display(),
        if args.publish {
            " for publication (counts below the threshold hidden)"
        } else {
            " for internal use (small counts NOT hidden: do not publish)"
        }
    ))
}

fn write_new(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = TempFile::new_for(dest)?;
    tmp.write_all(bytes)
        .map_err(|e| Error::write(tmp.path(), e))?;
    match tmp.persist_new()? {
        Placed::Written => Ok(()),
        Placed::AlreadyThere => Err(Error::Exists(dest.to_path_buf())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_never_carries_what_a_terminal_acts_on() {
        let v = json!({"title": "a\u{1b}]52;c;x\u{7}\u{9b}2J\u{202e}exe.pdf\u{2028}"});
        let text = terminal_safe_json(&v);
        assert!(
            !text.chars().any(|c| c != '\n' && is_unsafe_char(c)),
            "{text}"
        );
        assert!(text.contains("\\u009b") && text.contains("\\u202e") && text.contains("\\u2028"));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v, "the same data");
    }

    /// A case folder as `open` writes it, with a hostile title.
    fn hostile_book(dir: &Path) {
        let case = dir.join("c1");
        std::fs::create_dir_all(case.join("unverified")).unwrap();
        std::fs::write(
            case.join("case.json"),
            r#"{"id": "c1", "received_on": "2026-01-05", "status": "received",
                "history": [{"status": "received", "on": "2026-01-05"}],
                "reply_recipient": "age1x", "objects": []}"#,
        )
        .unwrap();
        let report = json!({
            "format": "wbs-report/1", "category": "x\u{1b}[2J", "body": "b",
            "title": "Tagihan\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{9b}31m\u{202e}fdp.exe",
            "reply_recipient": "age1x", "channel": "web\u{1b}[1m"
        });
        std::fs::write(case.join("report.json"), report.to_string()).unwrap();
        std::fs::write(case.join("unverified/2026-01-06-followup-001.md"), "x").unwrap();
    }

    fn args(dir: &Path, json: bool) -> CasesArgs {
        CasesArgs {
            dir: dir.to_path_buf(),
            today: Some("2026-01-20".into()),
            json,
            policy: None,
        }
    }

    #[test]
    fn the_list_shows_hostile_text_harmlessly() {
        let tmp = tempfile::tempdir().unwrap();
        hostile_book(tmp.path());
        let table = run_cases(&args(tmp.path(), false)).unwrap();
        assert!(
            !table.chars().any(|c| c != '\n' && is_unsafe_char(c)),
            "{table:?}"
        );
        assert!(table.contains("Tagihan"), "{table}");
        assert!(
            table.contains("overdue 2026-01-12 (8 days over)"),
            "{table}"
        );
        assert!(table.contains("[!unverified]"), "{table}");
        let text = run_cases(&args(tmp.path(), true)).unwrap();
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe_char(c)));
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list[0]["unverified"], 1);
        assert_eq!(list[0]["acknowledge"]["state"], "overdue");
        assert_eq!(list[0]["channel"], "web\u{1b}[1m", "the data, escaped");
    }

    #[test]
    fn stats_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        hostile_book(tmp.path());
        let out = tmp.path().join("figures");
        let stats_args = |publish| StatsArgs {
            dir: tmp.path().to_path_buf(),
            from: "2026-01-01".into(),
            to: "2026-12-31".into(),
            out: out.clone(),
            publish,
            today: Some("2026-02-01".into()),
            policy: None,
        };
        let line = run_stats(&stats_args(false)).unwrap();
        assert!(line.contains("1 report received"), "{line}");
        assert!(line.contains("do not publish"), "{line}");
        let csv = std::fs::read_to_string(out.join(STATS_CSV)).unwrap();
        assert!(csv.contains("received,total,1,"));
        // An existing stats.html alone is enough to refuse; nothing changes.
        std::fs::remove_file(out.join(STATS_CSV)).unwrap();
        let e = run_stats(&stats_args(true)).unwrap_err();
        assert!(e.to_string().contains("refusing to overwrite"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(!out.join(STATS_CSV).exists());
        // Bad periods are refused before anything is read.
        let mut bad = stats_args(true);
        bad.from = "2026-13-01".into();
        assert!(run_stats(&bad).unwrap_err().to_string().contains("--from"));
        let mut bad = stats_args(true);
        bad.from = "2027-01-01".into();
        assert!(run_stats(&bad).unwrap_err().to_string().contains("after"));
    }

    #[test]
    fn clocks_read_well() {
        let d = |s| Day::parse(s).unwrap();
        assert_eq!(
            clock_text(&ClockState::Overdue {
                due: d("2026-01-12"),
                days_over: 3
            }),
            "overdue 2026-01-12 (3 days over)"
        );
        assert_eq!(
            clock_text(&ClockState::DueSoon {
                due: d("2026-01-12"),
                days_left: 0
            }),
            "due_soon 2026-01-12 (today)"
        );
        assert_eq!(
            clock_text(&ClockState::Met {
                due: d("2026-01-12"),
                on: d("2026-01-20"),
                late: true
            }),
            "met_late 2026-01-20 (due 2026-01-12)"
        );
        assert_eq!(
            clock_json(&ClockState::Met {
                due: d("2026-01-12"),
                on: d("2026-01-10"),
                late: false
            }),
            json!({"state": "met", "due": "2026-01-12", "on": "2026-01-10"})
        );
    }
}
