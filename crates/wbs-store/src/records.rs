//! The records the store keeps, as the server sees them.
//!
//! They are serialized with serde_json into sled trees. Every date is a
//! UTC calendar date `YYYY-MM-DD`; no record has a time of day, an IP
//! address or any plaintext. `sha256` digests are stored as lower-case hex.

use serde::{Deserialize, Serialize};
use wbs_protocol::Status;

use crate::blob::StagedBlob;
use crate::types::{BlobId, CaseId, Day, TokenName};

pub use wbs_protocol::bundle::ObjectKind;

/// How a record stores its [`ObjectKind`]: tagged `"type"`, where export
/// bundles tag it `"kind"`. Sled trees, PostgreSQL rows and backup files
/// hold records in this form, so it must not change.
pub(crate) mod stored_kind {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use wbs_protocol::bundle::ObjectKind;

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Stored {
        Report,
        Attachment { index: u32 },
        Followup { n: u32 },
        FollowupAttachment { n: u32, index: u32 },
        Reply { n: u32 },
    }

    pub(crate) fn serialize<S: Serializer>(kind: &ObjectKind, s: S) -> Result<S::Ok, S::Error> {
        match *kind {
            ObjectKind::Report => Stored::Report,
            ObjectKind::Attachment { index } => Stored::Attachment { index },
            ObjectKind::Followup { n } => Stored::Followup { n },
            ObjectKind::FollowupAttachment { n, index } => Stored::FollowupAttachment { n, index },
            ObjectKind::Reply { n } => Stored::Reply { n },
        }
        .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectKind, D::Error> {
        Ok(match Stored::deserialize(d)? {
            Stored::Report => ObjectKind::Report,
            Stored::Attachment { index } => ObjectKind::Attachment { index },
            Stored::Followup { n } => ObjectKind::Followup { n },
            Stored::FollowupAttachment { n, index } => ObjectKind::FollowupAttachment { n, index },
            Stored::Reply { n } => ObjectKind::Reply { n },
        })
    }
}

/// One encrypted object, as listed for export. `seq` is its place in the
/// export order (see [`MetaStore::objects_since`](crate::MetaStore::objects_since)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Export sequence number, unique and increasing in commit order.
    pub seq: u64,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// What it is (stored in its own encoding, see `records::stored_kind`).
    #[serde(with = "stored_kind")]
    pub kind: ObjectKind,
    /// Its blob file.
    pub blob: BlobId,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    #[serde(with = "hex32")]
    pub sha256: [u8; 32],
    /// The date it was stored.
    pub on: Day,
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
    pub on: Day,
}

/// A case: what the desk lists and what a reporter's status check shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Random case id, unrelated to the receipt code.
    pub id: CaseId,
    /// The reporter's age recipient for replies, exactly as submitted.
    pub reply_recipient: String,
    /// The date the report arrived.
    pub received_on: Day,
    /// Current status.
    pub status: Status,
    /// Every status the case has had, with the date it was set, oldest
    /// first; starts with `(Received, received_on)`.
    pub history: Vec<(Status, Day)>,
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

impl CaseRecord {
    /// A new case as a report creates it: status `received` since
    /// `received_on`, no follow-ups, replies or objects counted yet, and its
    /// sequence numbers to be set when its objects are.
    pub fn received(id: CaseId, reply_recipient: &str, received_on: Day) -> CaseRecord {
        CaseRecord {
            id,
            reply_recipient: reply_recipient.to_owned(),
            received_on,
            status: Status::Received,
            history: vec![(Status::Received, received_on)],
            followups: 0,
            replies: Vec::new(),
            objects: 0,
            bytes: 0,
            last_seq: 0,
            first_seq: 0,
        }
    }
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
    pub name: TokenName,
    /// The date it was added.
    pub created_on: Day,
    /// Whether a TOTP second factor is enrolled for it.
    #[serde(default)]
    pub totp: bool,
}

/// A token's TOTP second factor, as stored.
///
/// The TOTP secret is never stored in the clear: `sealed` is whatever the
/// server made of it (wbs-server seals it with a key derived from the
/// token itself, so the store alone cannot compute codes). The store only
/// keeps it and enforces that time steps only go up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpRecord {
    /// The sealed secret, opaque to the store (hex in JSON).
    #[serde(with = "hexbytes")]
    pub sealed: Vec<u8>,
    /// The last TOTP time step accepted for this token (0: none yet). Only
    /// a later step is ever accepted, so each code works once, also across
    /// restarts and restores.
    pub last_step: u64,
}

/// What the server needs to authenticate a token: its name and second
/// factor, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    /// The token's name.
    pub name: TokenName,
    /// Its TOTP second factor, if enrolled.
    pub totp: Option<TotpRecord>,
}

/// State of the daily digest (wbs-server): how far the last digest
/// counted. Dates only, never a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DigestState {
    /// The object `seq` the last digest counted up to.
    pub cursor: u64,
    /// The UTC date the last digest was sent (`None`: never; written as
    /// an empty string, as before dates were typed).
    #[serde(with = "optional_day")]
    pub sent_on: Option<Day>,
}

/// A desk session, as the store keeps it under the SHA-256 of its id (the
/// id itself, the cookie's value, is never stored).
///
/// Times are Unix seconds. They are the investigators' session times (when
/// a session expires), never anything about a reporter, and the row is
/// deleted when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The token's name.
    pub name: TokenName,
    /// The token it was opened with: revoking the token ends the session.
    pub token_hash: [u8; 32],
    /// The session's CSRF token.
    pub csrf: [u8; 32],
    /// When it expires unless used again (Unix seconds).
    pub idle_until: u64,
    /// When it expires whatever its use (Unix seconds).
    pub expires_at: u64,
}

impl SessionRecord {
    /// Whether it is still valid at `now`.
    pub fn alive(&self, now: u64) -> bool {
        now < self.idle_until && now < self.expires_at
    }
}

/// `Option<Day>` as a date string, `""` for `None`.
pub(crate) mod optional_day {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::types::Day;

    pub fn serialize<S: Serializer>(day: &Option<Day>, s: S) -> Result<S::Ok, S::Error> {
        match day {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Day>, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        Day::parse(&s).map(Some).map_err(serde::de::Error::custom)
    }
}

/// One line of the audit log of desk actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The date (never a time) of the action.
    pub on: Day,
    /// Who acted: a token name, or `operator`.
    pub actor: String,
    /// What was done, e.g. `export`, `import`, `set_status`.
    pub action: String,
    /// Free text about what it touched (case ids, counts; never a reporter).
    pub detail: String,
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

/// Bytes as lower-case hex in JSON.
pub(crate) mod hexbytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&wbs_protocol::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        let digit = |c: u8| (c as char).to_digit(16);
        if s.len() % 2 != 0 {
            return Err(D::Error::custom("expected an even number of hex digits"));
        }
        s.as_bytes()
            .chunks(2)
            .map(|p| match (digit(p[0]), digit(p[1])) {
                (Some(h), Some(l)) if !p.iter().any(u8::is_ascii_uppercase) => {
                    Ok((h * 16 + l) as u8)
                }
                _ => Err(D::Error::custom("expected lower-case hex digits")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Object records already stored (sled trees, PostgreSQL rows, backup
    /// files) tag their kind with `"type"`, while export bundles tag it with
    /// `"kind"`. These literals are records as written before the store
    /// shared the bundle's `ObjectKind`: they must still decode, and encode
    /// back byte for byte.
    #[test]
    fn stored_object_records_keep_their_encoding() {
        let stored = [
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
        for (kind, tag) in stored {
            let json = format!(
                r#"{{"seq":7,"case_id":"{}","kind":{tag},"blob":"{}","size":3,"sha256":"{}","on":"2024-05-01"}}"#,
                "c".repeat(20),
                "b".repeat(26),
                "ab".repeat(32),
            );
            let rec: ObjectRecord = serde_json::from_str(&json).unwrap();
            assert_eq!(rec.kind, kind, "{json}");
            assert_eq!(serde_json::to_string(&rec).unwrap(), json);
        }
    }

    #[test]
    fn digests_are_stored_as_hex() {
        let rec = ObjectRecord {
            seq: 1,
            case_id: CaseId::parse(&"c".repeat(20)).unwrap(),
            kind: ObjectKind::Report,
            blob: BlobId::parse(&"b".repeat(26)).unwrap(),
            size: 3,
            sha256: [0xab; 32],
            on: Day::parse("2024-05-01").unwrap(),
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert!(json.contains(&"ab".repeat(32)), "{json}");
        assert_eq!(serde_json::from_str::<ObjectRecord>(&json).unwrap(), rec);
        let bad = json.replace(&"ab".repeat(32), &"zz".repeat(32));
        assert!(serde_json::from_str::<ObjectRecord>(&bad).is_err());
    }

    #[test]
    fn totp_records_keep_their_sealed_bytes_as_hex() {
        let rec = TotpRecord {
            sealed: vec![0x00, 0xab, 0xff],
            last_step: 7,
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(json, r#"{"sealed":"00abff","last_step":7}"#);
        assert_eq!(serde_json::from_str::<TotpRecord>(&json).unwrap(), rec);
        for bad in ["0", "zz", "AB"] {
            let json = format!(r#"{{"sealed":"{bad}","last_step":7}}"#);
            assert!(serde_json::from_str::<TotpRecord>(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_digest_state_keeps_its_json_form_with_a_typed_date() {
        let never: DigestState = serde_json::from_str(r#"{"cursor":0,"sent_on":""}"#).unwrap();
        assert_eq!(never, DigestState::default());
        assert_eq!(
            serde_json::to_string(&never).unwrap(),
            r#"{"cursor":0,"sent_on":""}"#
        );
        let sent: DigestState =
            serde_json::from_str(r#"{"cursor":7,"sent_on":"2026-11-30"}"#).unwrap();
        assert_eq!(sent.sent_on, Some(Day::parse("2026-11-30").unwrap()));
        assert_eq!(
            serde_json::to_string(&sent).unwrap(),
            r#"{"cursor":7,"sent_on":"2026-11-30"}"#
        );
        for bad in ["2026-11-30T07:00", "today"] {
            let json = format!(r#"{{"cursor":7,"sent_on":"{bad}"}}"#);
            assert!(serde_json::from_str::<DigestState>(&json).is_err(), "{bad}");
        }
    }
}
