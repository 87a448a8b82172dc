//! What the desk pages show: the case overview with its deadline clocks
//! and counts, and the audit log of the last 90 days (docs/PROTOCOL.md
//! §7.1).
//!
//! The clocks are [`wbs_casebook`]'s, the same rules as the air-gapped
//! workbench, over what the server knows of a case: the day it arrived,
//! its status history and the days replies were pushed. The workbench,
//! which also reads the decrypted text, may know more (a reply written but
//! not pushed yet); the server never claims to.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use wbs_casebook::{clocks, CaseFacts, ClockState, Day, Policy};
use wbs_protocol::Status;
use wbs_store::{AuditEntry, CaseRecord, Store};

use super::desk::{logged, Investigator};
use crate::error::ApiError;
use crate::state::SharedState;

/// How far back the audit view reaches, in days.
pub const AUDIT_DAYS: i64 = 90;
/// The most audit entries one answer holds (newest first).
pub const AUDIT_MAX_ENTRIES: usize = 2000;

/// The case overview.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// The organization's name, for the page's header.
    pub organization: String,
    /// The day the clocks were computed for (UTC).
    pub today: Day,
    /// The cursor of the last pull (export) by anyone: "new" is what came
    /// after it. `0` before the first.
    pub last_pull: String,
    /// The counts at the top.
    pub counts: Counts,
    /// Every status, in order, for the status menu.
    pub statuses: Vec<Status>,
    /// Every case, most urgent first.
    pub cases: Vec<OverviewCase>,
}

/// The counts at the top of the overview.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Cases.
    pub total: u32,
    /// Cases with something from the reporter since the last pull.
    pub new: u32,
    /// Cases with a clock past its last day.
    pub overdue: u32,
    /// Cases with a clock due soon, none overdue.
    pub due_soon: u32,
}

/// One case of the overview.
#[derive(Debug, Serialize)]
pub struct OverviewCase {
    /// Case id.
    pub id: String,
    /// The day the report arrived.
    pub received_on: String,
    /// Current status.
    pub status: Status,
    /// Objects from the reporter (report, attachments, follow-ups) stored
    /// since the last pull.
    pub new_objects: u32,
    /// Follow-ups from the reporter.
    pub followups: u32,
    /// Replies pushed.
    pub replies: u32,
    /// Acknowledge by.
    pub acknowledge: ClockState,
    /// Feedback by.
    pub feedback: ClockState,
}

/// What the server knows of a case, for its clocks. Dates the store holds
/// are valid by construction; one that is not is left out rather than
/// failing the whole overview.
pub fn facts_of(c: &CaseRecord) -> Option<CaseFacts> {
    Some(CaseFacts {
        received_on: day(c.received_on),
        history: c.history.iter().map(|(s, on)| (*s, day(*on))).collect(),
        replies: c.replies.iter().map(|r| day(r.on)).collect(),
    })
}

/// The store's date as the casebook's.
fn day(d: wbs_store::Day) -> Day {
    Day::from_unix_days(d.unix_days())
}

/// The overview of `cases` on `today`: clocks, order, counts.
/// `new_by_case` counts the reporter's objects since the last pull.
pub fn overview(
    cases: &[CaseRecord],
    new_by_case: &HashMap<String, u32>,
    policy: &Policy,
    today: Day,
    last_pull: u64,
) -> Overview {
    let mut counts = Counts::default();
    let mut rows: Vec<((u8, i64), u64, OverviewCase)> = Vec::with_capacity(cases.len());
    for c in cases {
        let Some(facts) = facts_of(c) else { continue };
        let k = clocks(&facts, policy, today);
        let new_objects = new_by_case.get(c.id.as_str()).copied().unwrap_or(0);
        counts.total += 1;
        if new_objects > 0 {
            counts.new += 1;
        }
        if k.is_overdue() {
            counts.overdue += 1;
        } else if k.is_due_soon() {
            counts.due_soon += 1;
        }
        rows.push((
            k.urgency(),
            c.first_seq,
            OverviewCase {
                id: c.id.to_string(),
                received_on: c.received_on.to_string(),
                status: c.status,
                new_objects,
                followups: c.followups,
                replies: c.replies.len() as u32,
                acknowledge: k.acknowledge,
                feedback: k.feedback,
            },
        ));
    }
    // Most urgent first; among equals, the older case first.
    rows.sort_by_key(|(urgency, first_seq, _)| (*urgency, *first_seq));
    Overview {
        organization: String::new(),
        today,
        last_pull: last_pull.to_string(),
        counts,
        statuses: Status::ALL.to_vec(),
        cases: rows.into_iter().map(|(_, _, c)| c).collect(),
    }
}

/// The reporter's objects stored after `cursor`, counted by case. Replies
/// are the inspectorate's own and never count as new.
pub fn new_by_case(store: &dyn Store, cursor: u64) -> Result<HashMap<String, u32>, ApiError> {
    let mut new: HashMap<String, u32> = HashMap::new();
    for o in store.all_objects_since(cursor)? {
        if !matches!(o.kind, wbs_store::ObjectKind::Reply { .. }) {
            *new.entry(o.case_id.into()).or_default() += 1;
        }
    }
    Ok(new)
}

/// `GET /api/v1/desk/overview`.
pub async fn get_overview(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
) -> Result<Json<Overview>, ApiError> {
    let actor = who.clone();
    let last_pull = app.last_export.load(Ordering::Relaxed);
    let app2 = app.clone();
    let r = app
        .with_store(move |s| {
            let cases = s.all_cases()?;
            let new = new_by_case(s, last_pull)?;
            let mut o = overview(&cases, &new, &app2.deadline_policy, Day::today(), last_pull);
            o.organization.clone_from(&app2.settings.organization);
            s.audit(&who, "overview", &format!("{} cases", o.counts.total))?;
            Ok(o)
        })
        .await;
    Ok(Json(logged(&actor, "overview", r)?))
}

/// The audit view.
#[derive(Debug, Serialize)]
pub struct AuditView {
    /// The first day it covers.
    pub since: Day,
    /// Entries from that day on, newest first.
    pub entries: Vec<AuditEntry>,
    /// Whether older entries of the period were left out
    /// ([`AUDIT_MAX_ENTRIES`]).
    pub truncated: bool,
}

/// The audit entries dated `since` or later, newest first, at most `max`.
pub fn audit_view(log: Vec<AuditEntry>, since: Day, max: usize) -> AuditView {
    let mut entries: Vec<AuditEntry> = log
        .into_iter()
        .rev()
        .filter(|e| day(e.on) >= since)
        .collect();
    let truncated = entries.len() > max;
    entries.truncate(max);
    AuditView {
        since,
        entries,
        truncated,
    }
}

/// `GET /api/v1/desk/audit`: the desk audit log of the last 90 days.
pub async fn get_audit(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
) -> Result<Json<AuditView>, ApiError> {
    let actor = who.clone();
    let r = app
        .with_store(move |s| {
            let since = Day::today().plus_days(-AUDIT_DAYS);
            let view = audit_view(s.all_audit()?, since, AUDIT_MAX_ENTRIES);
            s.audit(&who, "audit_view", "")?;
            Ok(view)
        })
        .await;
    Ok(Json(logged(&actor, "audit_view", r)?))
}

/// The cursor of the last export, as the audit log recorded it (`export`
/// entries carry `cursor=N`): "new since the last pull" survives a
/// restart without a store field of its own.
pub fn last_export_in(log: &[AuditEntry]) -> u64 {
    log.iter()
        .filter(|e| e.action == "export")
        .filter_map(|e| {
            e.detail
                .split(' ')
                .find_map(|w| w.strip_prefix("cursor="))
                .and_then(|c| c.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_store::ReplyRecord;

    /// A case id made of `name`, padded to a case id's length.
    fn cid(name: &str) -> wbs_store::CaseId {
        let symbols: String = name
            .chars()
            .map(|c| match c {
                'i' | 'l' => '1',
                'o' => '0',
                'u' => 'v',
                c => c,
            })
            .collect();
        wbs_store::CaseId::parse(&format!("{symbols:0<20}")).unwrap()
    }

    fn case(id: &str, received: &str, first_seq: u64) -> CaseRecord {
        CaseRecord {
            id: cid(id),
            reply_recipient: String::new(),
            received_on: received.parse().unwrap(),
            status: Status::Received,
            history: vec![(Status::Received, received.parse().unwrap())],
            followups: 0,
            replies: Vec::new(),
            objects: 1,
            bytes: 100,
            last_seq: first_seq,
            first_seq,
        }
    }

    fn policy() -> Policy {
        Policy::from_toml("replace_shipped_holidays = true\n").unwrap()
    }

    #[test]
    fn overdue_cases_come_first_and_the_counts_add_up() {
        let today = Day::parse("2026-03-20").unwrap();
        let fresh = case("fresh", "2026-03-19", 3);
        // Acknowledge by 03-08: overdue.
        let late = case("late", "2026-03-01", 2);
        // Acknowledge by 03-22: due soon (3 days).
        let soon = case("soon", "2026-03-15", 1);
        // Acknowledged by a reply: met; the feedback clock runs for months.
        let mut answered = case("answered", "2026-03-02", 0);
        answered.replies.push(ReplyRecord {
            id: "r1".into(),
            n: 1,
            blob: wbs_store::BlobId::parse(&"b".repeat(26)).unwrap(),
            size: 1,
            on: "2026-03-05".parse().unwrap(),
        });
        let new: HashMap<String, u32> = [(cid("fresh").to_string(), 2)].into();
        let o = overview(&[answered, fresh, late, soon], &new, &policy(), today, 7);
        let ids: Vec<&str> = o.cases.iter().map(|c| c.id.as_str()).collect();
        let want: Vec<String> = ["late", "soon", "fresh", "answered"]
            .iter()
            .map(|n| cid(n).to_string())
            .collect();
        assert_eq!(ids, want);
        assert_eq!(
            o.counts,
            Counts {
                total: 4,
                new: 1,
                overdue: 1,
                due_soon: 1
            }
        );
        assert_eq!(o.cases[0].acknowledge.code(), "overdue");
        assert_eq!(o.cases[3].acknowledge.code(), "met");
        assert_eq!(o.cases[2].new_objects, 2);
        assert_eq!(o.last_pull, "7");
    }

    #[test]
    fn a_status_change_acknowledges_like_a_reply() {
        let today = Day::parse("2026-03-20").unwrap();
        let mut c = case("c", "2026-03-01", 0);
        c.status = Status::InReview;
        c.history
            .push((Status::InReview, "2026-03-04".parse().unwrap()));
        let o = overview(&[c], &HashMap::new(), &policy(), today, 0);
        assert_eq!(o.cases[0].acknowledge.code(), "met");
        assert_eq!(o.counts.overdue, 0);
    }

    fn entry(seq: u64, on: &str, action: &str, detail: &str) -> AuditEntry {
        AuditEntry {
            seq,
            on: on.parse().unwrap(),
            actor: "siti".into(),
            action: action.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn the_audit_view_keeps_the_period_newest_first_and_bounded() {
        let log = vec![
            entry(1, "2025-01-01", "export", "since=0 cursor=3 cases=1"),
            entry(2, "2026-03-01", "import", "applied=1 skipped=0"),
            entry(3, "2026-03-02", "set_status", "case=x status=closed"),
        ];
        let since = Day::parse("2026-01-01").unwrap();
        let v = audit_view(log.clone(), since, 10);
        assert_eq!(v.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);
        assert!(!v.truncated);
        let v = audit_view(log, since, 1);
        assert_eq!(v.entries.len(), 1);
        assert_eq!(v.entries[0].seq, 3);
        assert!(v.truncated);
    }

    #[test]
    fn the_last_pull_is_found_in_the_audit_log() {
        assert_eq!(last_export_in(&[]), 0);
        let log = vec![
            entry(1, "2026-03-01", "export", "since=0 cursor=12 cases=4"),
            entry(2, "2026-03-02", "export", "since=0 cursor=5 cases=1"),
            entry(3, "2026-03-02", "import", "cursor=99"),
        ];
        assert_eq!(last_export_in(&log), 12);
    }
}
