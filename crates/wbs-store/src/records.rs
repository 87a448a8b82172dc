//! The records the store keeps, as the server sees them.
//!
//! They are serialized with serde_json into sled trees. Every date is a
//! UTC calendar date `YYYY-MM-DD`; no record has a time of day, an IP
//! address or any plaintext. `sha256` digests are stored as lower-case hex.

use serde::{Deserialize, Serialize};
use wbs_protocol::Status;

use crate::blob::StagedBlob;
use crate::error::StoreError;
use crate::ids::{BlobId, CaseId};

/// What an object is within its case. Numbers and indices start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObjectKind {
    /// The encrypted report.
    Report,
    /// An attachment of the report, in upload order.
    Attachment {
        /// 1-based position among the report's attachments.
        index: u32,
    },
    /// The message of follow-up `n` from the reporter.
    Followup {
        /// 1-based follow-up number.
        n: u32,
    },
    /// An attachment of follow-up `n`.
    FollowupAttachment {
        /// The follow-up it belongs to.
        n: u32,
        /// 1-based position among that follow-up's attachments.
        index: u32,
    },
    /// Reply `n` from the inspectorate.
    Reply {
        /// 1-based reply number.
        n: u32,
    },
}

/// One encrypted object, as listed for export. `seq` is its place in the
/// export order (see [`Store::objects_since`](crate::Store::objects_since)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Export sequence number, unique and increasing in commit order.
    pub seq: u64,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// What it is.
    pub kind: ObjectKind,
    /// Its blob file.
    pub blob: BlobId,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    #[serde(with = "hex32")]
    pub sha256: [u8; 32],
    /// The date it was stored.
    pub on: String,
}

/// A reply from the inspectorate, as the reporter's status page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// The reply's id, as given in the reply bundle.
    pub id: String,
    /// 1-based reply number within the case.
    pub n: u32,
    /// Its blob file.
    pub blob: BlobId,
    /// Its length in bytes.
    pub size: u64,
    /// The date it was imported.
    pub on: String,
}

/// A case: what the desk lists and what a reporter's status check shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Random case id, unrelated to the receipt code.
    pub id: CaseId,
    /// The reporter's age recipient for replies, exactly as submitted.
    pub reply_recipient: String,
    /// The date the report arrived.
    pub received_on: String,
    /// Current status.
    pub status: Status,
    /// Every status the case has had, with the date it was set, oldest
    /// first; starts with `(Received, received_on)`.
    pub history: Vec<(Status, String)>,
    /// How many follow-ups the reporter has sent.
    pub followups: u32,
    /// The inspectorate's replies, oldest first.
    pub replies: Vec<ReplyRecord>,
    /// How many objects (report, attachments, follow-ups, replies) it has.
    pub objects: u32,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The highest `seq` among its objects: "new since cursor X" is
    /// `last_seq > X`.
    pub last_seq: u64,
    /// The `seq` of its report, its first object: orders cases by arrival
    /// without storing any time.
    pub first_seq: u64,
}

/// One entry of a reply bundle to apply.
#[derive(Debug)]
pub struct ImportItem {
    /// The entry's id in the bundle; an id applied once is skipped when the
    /// same bundle is pushed again.
    pub item_id: String,
    /// The case it is for.
    pub case_id: CaseId,
    /// A new status, if any.
    pub status: Option<Status>,
    /// A reply (its id and its staged blob), if any.
    pub reply: Option<(String, StagedBlob)>,
}

/// An investigator token, as listed (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The name the operator gave it.
    pub name: String,
    /// The date it was added.
    pub created_on: String,
}

/// One line of the audit log of desk actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The date (never a time) of the action.
    pub on: String,
    /// Who acted: a token name, or `operator`.
    pub actor: String,
    /// What was done, e.g. `export`, `import`, `set_status`.
    pub action: String,
    /// Free text about what it touched (case ids, counts; never a reporter).
    pub detail: String,
}

/// Refuses anything but a real calendar date `YYYY-MM-DD`, so a time of day
/// can never slip into storage through a date field.
pub(crate) fn check_date(what: &str, date: &str) -> Result<(), StoreError> {
    match wbs_protocol::date::unix_days_from_date(date) {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!(
            "{what} must be a date YYYY-MM-DD, got {date:?}"
        ))),
    }
}

/// `[u8; 32]` as 64 lower-case hex digits in JSON.
pub(crate) mod hex32 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&wbs_protocol::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        wbs_protocol::parse_sha256_hex(&s).ok_or_else(|| D::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_kinds_serialize_readably_and_round_trip() {
        let kinds = [
            (ObjectKind::Report, r#"{"type":"report"}"#),
            (
                ObjectKind::Attachment { index: 2 },
                r#"{"type":"attachment","index":2}"#,
            ),
            (
                ObjectKind::Followup { n: 1 },
                r#"{"type":"followup","n":1}"#,
            ),
            (
                ObjectKind::FollowupAttachment { n: 1, index: 3 },
                r#"{"type":"followup_attachment","n":1,"index":3}"#,
            ),
            (ObjectKind::Reply { n: 4 }, r#"{"type":"reply","n":4}"#),
        ];
        for (kind, json) in kinds {
            assert_eq!(serde_json::to_string(&kind).unwrap(), json);
            assert_eq!(serde_json::from_str::<ObjectKind>(json).unwrap(), kind);
        }
    }

    #[test]
    fn digests_are_stored_as_hex() {
        let rec = ObjectRecord {
            seq: 1,
            case_id: "c".repeat(20),
            kind: ObjectKind::Report,
            blob: "b".repeat(26),
            size: 3,
            sha256: [0xab; 32],
            on: "2024-05-01".into(),
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert!(json.contains(&"ab".repeat(32)), "{json}");
        assert_eq!(serde_json::from_str::<ObjectRecord>(&json).unwrap(), rec);
        let bad = json.replace(&"ab".repeat(32), &"zz".repeat(32));
        assert!(serde_json::from_str::<ObjectRecord>(&bad).is_err());
    }

    #[test]
    fn only_calendar_dates_pass_the_date_check() {
        check_date("on", "2024-02-29").unwrap();
        for bad in [
            "2024-02-30",
            "2024-05-01T10:00:00Z",
            "2024-05-01 10:00",
            "",
            "today",
        ] {
            assert!(
                matches!(check_date("on", bad), Err(StoreError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
