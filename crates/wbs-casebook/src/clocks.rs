//! The two deadline clocks of a case (EU Directive 2019/1937, art. 9):
//!
//! - **acknowledge by**: received + the acknowledgement period (7 days by
//!   default). Met by the first reply the inspectorate wrote or the first
//!   status change out of `received`, whichever came first.
//! - **feedback by**: the feedback period (3 months by default) from the
//!   acknowledgement, or from the end of the acknowledgement period if the
//!   report was never acknowledged (art. 9(1)(f)). Met by a reply after the
//!   acknowledgement (not the acknowledging reply itself) or by a status
//!   that ends the inspectorate's handling: closed, rejected or forwarded.
//!
//! Everything is in calendar dates: WBS never stores an hour. The same
//! rules serve the air-gapped workbench (facts from decrypted case folders)
//! and the desk pages (facts the server knows).

use serde::Serialize;
use wbs_protocol::Status;

use crate::day::Day;
use crate::policy::Policy;

/// What is known of a case, as far as its clocks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    /// The day the report arrived.
    pub received_on: Day,
    /// Status changes, in any order (sorted here).
    pub history: Vec<(Status, Day)>,
    /// Days on which the inspectorate replied to the reporter.
    pub replies: Vec<Day>,
}

/// Where one clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClockState {
    /// Not met, more than the "due soon" margin left.
    OnTime {
        /// The last day.
        due: Day,
        /// Calendar days left.
        days_left: i64,
    },
    /// Not met, within the "due soon" margin (0 = due today).
    DueSoon {
        /// The last day.
        due: Day,
        /// Calendar days left.
        days_left: i64,
    },
    /// Not met, and past its last day.
    Overdue {
        /// The last day.
        due: Day,
        /// Calendar days since the last day.
        days_over: i64,
    },
    /// Met.
    Met {
        /// The last day.
        due: Day,
        /// The day it was met.
        on: Day,
        /// Whether that was after the last day.
        late: bool,
    },
}

impl ClockState {
    /// The last day of the clock.
    pub fn due(&self) -> Day {
        match *self {
            ClockState::OnTime { due, .. }
            | ClockState::DueSoon { due, .. }
            | ClockState::Overdue { due, .. }
            | ClockState::Met { due, .. } => due,
        }
    }

    /// Whether it is running past its last day.
    pub fn is_overdue(&self) -> bool {
        matches!(self, ClockState::Overdue { .. })
    }

    /// Sort key: most urgent first (overdue longest, then fewest days
    /// left, then met).
    pub fn urgency(&self) -> (u8, i64) {
        match *self {
            ClockState::Overdue { days_over, .. } => (0, -days_over),
            ClockState::DueSoon { days_left, .. } => (1, days_left),
            ClockState::OnTime { days_left, .. } => (2, days_left),
            ClockState::Met { .. } => (3, 0),
        }
    }

    /// A short English label, for CSV and logs: `on_time`, `due_soon`,
    /// `overdue`, `met`, `met_late`.
    pub fn code(&self) -> &'static str {
        match self {
            ClockState::OnTime { .. } => "on_time",
            ClockState::DueSoon { .. } => "due_soon",
            ClockState::Overdue { .. } => "overdue",
            ClockState::Met { late: false, .. } => "met",
            ClockState::Met { late: true, .. } => "met_late",
        }
    }
}

/// Both clocks of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clocks {
    /// Acknowledge by.
    pub acknowledge: ClockState,
    /// Feedback by.
    pub feedback: ClockState,
    /// When the report was acknowledged, if it was.
    pub acknowledged_on: Option<Day>,
    /// When the inspectorate's handling ended (closed, rejected or
    /// forwarded), if it did.
    pub closed_on: Option<Day>,
}

impl Clocks {
    /// Sort key over both clocks: the more urgent one decides.
    pub fn urgency(&self) -> (u8, i64) {
        self.acknowledge.urgency().min(self.feedback.urgency())
    }

    /// Whether either clock is past its last day.
    pub fn is_overdue(&self) -> bool {
        self.acknowledge.is_overdue() || self.feedback.is_overdue()
    }

    /// Whether a clock is due soon and none is overdue: the case counts
    /// once, under its most urgent state.
    pub fn is_due_soon(&self) -> bool {
        !self.is_overdue()
            && [self.acknowledge, self.feedback]
                .iter()
                .any(|s| matches!(s, ClockState::DueSoon { .. }))
    }
}

/// Whether a status ends the inspectorate's handling, for the feedback
/// clock and for "days to close".
pub fn ends_handling(status: Status) -> bool {
    status.is_closed() || status == Status::Forwarded
}

fn running(due: Day, today: Day, policy: &Policy) -> ClockState {
    let left = today.days_until(due);
    if left < 0 {
        ClockState::Overdue {
            due,
            days_over: -left,
        }
    } else if left <= i64::from(policy.due_soon_days) {
        ClockState::DueSoon {
            due,
            days_left: left,
        }
    } else {
        ClockState::OnTime {
            due,
            days_left: left,
        }
    }
}

fn met(due: Day, on: Day) -> ClockState {
    ClockState::Met {
        due,
        on,
        late: on > due,
    }
}

/// The clocks of a case as they stand on `today`.
pub fn clocks(facts: &CaseFacts, policy: &Policy, today: Day) -> Clocks {
    let mut history = facts.history.clone();
    history.sort_by_key(|(_, on)| *on);
    let mut replies = facts.replies.clone();
    replies.sort();

    let first_reply = replies.first().copied();
    let first_change = history
        .iter()
        .find(|(s, _)| *s != Status::Received)
        .map(|(_, on)| *on);
    let acknowledged_on = match (first_reply, first_change) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let acked_by_reply = first_reply.is_some() && first_reply == acknowledged_on;

    let ack_due = policy.acknowledge_by(facts.received_on);
    let acknowledge = match acknowledged_on {
        Some(on) => met(ack_due, on),
        None => running(ack_due, today, policy),
    };

    let closed_on = history
        .iter()
        .find(|(s, _)| ends_handling(*s))
        .map(|(_, on)| *on);
    let feedback_due = policy.feedback_by(acknowledged_on.unwrap_or(ack_due));
    let feedback_reply = acknowledged_on.and_then(|ack| {
        replies
            .iter()
            .skip(usize::from(acked_by_reply))
            .find(|r| **r >= ack)
            .copied()
    });
    let feedback_on = match (feedback_reply, closed_on) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let feedback = match feedback_on {
        Some(on) => met(feedback_due, on),
        None => running(feedback_due, today, policy),
    };
    Clocks {
        acknowledge,
        feedback,
        acknowledged_on,
        closed_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    fn facts(received: &str, history: &[(Status, &str)], replies: &[&str]) -> CaseFacts {
        CaseFacts {
            received_on: d(received),
            history: history.iter().map(|(s, on)| (*s, d(on))).collect(),
            replies: replies.iter().map(|r| d(r)).collect(),
        }
    }

    #[test]
    fn a_new_report_runs_on_time_then_due_soon_then_overdue() {
        let p = Policy::default();
        let f = facts("2026-11-02", &[(Status::Received, "2026-11-02")], &[]);
        let c = clocks(&f, &p, d("2026-11-03"));
        assert_eq!(
            c.acknowledge,
            ClockState::OnTime {
                due: d("2026-11-09"),
                days_left: 6
            }
        );
        // Never acknowledged: feedback counts from the end of the 7 days.
        assert_eq!(c.feedback.due(), d("2027-02-09"));
        assert_eq!(
            clocks(&f, &p, d("2026-11-07")).acknowledge,
            ClockState::DueSoon {
                due: d("2026-11-09"),
                days_left: 2
            }
        );
        assert_eq!(
            clocks(&f, &p, d("2026-11-12")).acknowledge,
            ClockState::Overdue {
                due: d("2026-11-09"),
                days_over: 3
            }
        );
        assert!(clocks(&f, &p, d("2027-03-01")).feedback.is_overdue());
    }

    #[test]
    fn a_reply_acknowledges_and_a_later_one_gives_feedback() {
        let p = Policy::default();
        let f = facts(
            "2026-06-01",
            &[(Status::Received, "2026-06-01")],
            &["2026-06-05", "2026-07-20"],
        );
        let c = clocks(&f, &p, d("2026-12-01"));
        assert_eq!(
            c.acknowledge,
            ClockState::Met {
                due: d("2026-06-08"),
                on: d("2026-06-05"),
                late: false
            }
        );
        // Three months from the acknowledgement, met by the second reply.
        assert_eq!(
            c.feedback,
            ClockState::Met {
                due: d("2026-09-05"),
                on: d("2026-07-20"),
                late: false
            }
        );
        // The acknowledging reply alone is no feedback.
        let only = facts("2026-06-01", &[], &["2026-06-05"]);
        assert!(clocks(&only, &p, d("2026-12-01")).feedback.is_overdue());
    }

    #[test]
    fn late_acknowledgement_and_closing_status() {
        let p = Policy::default();
        let f = facts(
            "2026-01-05",
            &[
                (Status::ClosedUnsubstantiated, "2026-05-02"),
                (Status::InReview, "2026-01-20"),
                (Status::Received, "2026-01-05"),
            ],
            &[],
        );
        let c = clocks(&f, &p, d("2026-12-01"));
        assert_eq!(c.acknowledge.code(), "met_late");
        assert_eq!(c.acknowledged_on, Some(d("2026-01-20")));
        assert_eq!(
            c.feedback,
            ClockState::Met {
                due: d("2026-04-20"),
                on: d("2026-05-02"),
                late: true
            }
        );
        assert_eq!(c.closed_on, Some(d("2026-05-02")));
        assert_eq!(c.urgency(), (3, 0));
    }

    #[test]
    fn working_days_across_the_idulfitri_holidays() {
        let p = Policy::from_toml("day_kind = \"working\"").unwrap();
        let f = facts("2026-03-13", &[], &[]);
        let c = clocks(&f, &p, d("2026-03-25"));
        assert_eq!(
            c.acknowledge,
            ClockState::OnTime {
                due: d("2026-03-31"),
                days_left: 6
            }
        );
    }

    #[test]
    fn overdue_sorts_first() {
        let p = Policy::default();
        let late = clocks(&facts("2026-01-01", &[], &[]), &p, d("2026-02-01"));
        let fresh = clocks(&facts("2026-01-30", &[], &[]), &p, d("2026-02-01"));
        assert!(late.urgency() < fresh.urgency());
    }
}
