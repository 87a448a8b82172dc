//! Case statuses, with their Indonesian and English labels.

use serde::{Deserialize, Serialize};

/// Where a case stands. The wire form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Received, not yet looked at.
    Received,
    /// Being reviewed.
    InReview,
    /// The inspectorate needs more information from the reporter.
    NeedInfo,
    /// Under investigation.
    Investigating,
    /// Forwarded to another competent authority.
    Forwarded,
    /// Closed: the report was substantiated.
    ClosedSubstantiated,
    /// Closed: the report could not be substantiated.
    ClosedUnsubstantiated,
    /// Rejected (out of scope, abusive, duplicate).
    Rejected,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 8] = [
        Status::Received,
        Status::InReview,
        Status::NeedInfo,
        Status::Investigating,
        Status::Forwarded,
        Status::ClosedSubstantiated,
        Status::ClosedUnsubstantiated,
        Status::Rejected,
    ];

    /// The wire name, e.g. `in_review`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::InReview => "in_review",
            Status::NeedInfo => "need_info",
            Status::Investigating => "investigating",
            Status::Forwarded => "forwarded",
            Status::ClosedSubstantiated => "closed_substantiated",
            Status::ClosedUnsubstantiated => "closed_unsubstantiated",
            Status::Rejected => "rejected",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The Indonesian label.
    pub fn label_id(self) -> &'static str {
        match self {
            Status::Received => "Diterima",
            Status::InReview => "Sedang ditelaah",
            Status::NeedInfo => "Perlu informasi tambahan",
            Status::Investigating => "Dalam investigasi",
            Status::Forwarded => "Diteruskan ke instansi berwenang",
            Status::ClosedSubstantiated => "Selesai: terbukti",
            Status::ClosedUnsubstantiated => "Selesai: tidak terbukti",
            Status::Rejected => "Ditolak",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Status::Received => "Received",
            Status::InReview => "In review",
            Status::NeedInfo => "More information needed",
            Status::Investigating => "Under investigation",
            Status::Forwarded => "Forwarded to the competent authority",
            Status::ClosedSubstantiated => "Closed: substantiated",
            Status::ClosedUnsubstantiated => "Closed: not substantiated",
            Status::Rejected => "Rejected",
        }
    }

    /// Whether the case is closed (and so subject to retention).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::ClosedSubstantiated | Status::ClosedUnsubstantiated | Status::Rejected
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::parse(s).ok_or_else(|| {
            let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status {s:?}; one of: {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_parse() {
        for st in Status::ALL {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), st);
            assert_eq!(st.as_str().parse::<Status>().unwrap(), st);
        }
        assert!("closed".parse::<Status>().is_err());
    }
}
