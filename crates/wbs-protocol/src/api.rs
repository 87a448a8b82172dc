//! The JSON bodies of the HTTP API v1 (PROTOCOL.md §7), shared by the server
//! and every client so that both sides always agree.
//!
//! Request bodies refuse unknown fields: a client that sends something the
//! server does not understand gets a 400/422, not silent acceptance.

use serde::{Deserialize, Serialize};

use crate::status::Status;

/// Every error answer: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `not_found`, `payload_too_large`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

/// `GET /api/v1/config`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigResponse {
    /// The organization that runs this drop box.
    pub organization: String,
    /// Every age recipient a report must be encrypted to, in order.
    pub recipients: Vec<String>,
    /// The categories a reporter picks from.
    pub categories: Vec<Category>,
    /// Introductory text for the landing page, per language.
    pub intro: Localized,
    /// Size and count limits.
    pub limits: Limits,
    /// Proof-of-work settings.
    pub pow: PowSettings,
    /// The statuses with their labels.
    pub statuses: Vec<StatusLabel>,
}

/// A text in Indonesian and English.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Localized {
    /// Indonesian.
    pub id: String,
    /// English.
    pub en: String,
}

/// A report category.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Category {
    /// Stable identifier, put in the report.
    pub id: String,
    /// Labels.
    pub label: Localized,
}

/// A status with its labels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusLabel {
    /// The status.
    pub status: Status,
    /// Labels.
    pub label: Localized,
}

impl StatusLabel {
    /// The label entry for a status.
    pub fn of(status: Status) -> Self {
        StatusLabel {
            status,
            label: Localized {
                id: status.label_id().into(),
                en: status.label_en().into(),
            },
        }
    }
}

/// Size limits a client must respect; the server enforces them with 413.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    /// Largest single encrypted object (report, attachment, message), bytes.
    pub max_object_bytes: u64,
    /// Largest whole request body, bytes.
    pub max_request_bytes: u64,
    /// Most attachments per submission or follow-up.
    pub max_attachments: u32,
}

/// Proof-of-work settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PowSettings {
    /// Leading zero bits required; 0 turns proof-of-work off.
    pub difficulty: u8,
}

/// `GET /api/v1/pow`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PowChallenge {
    /// Opaque, single use.
    pub challenge: String,
    /// Leading zero bits required.
    pub difficulty: u8,
    /// Unix seconds after which the challenge is refused.
    pub expires_at: u64,
}

/// A solved challenge, sent along with a submission or follow-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PowSolution {
    /// The challenge as received.
    pub challenge: String,
    /// The solving nonce.
    pub nonce: u64,
}

/// The `meta` part of `POST /api/v1/submissions`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionMeta {
    /// The lookup key, base64url without padding.
    pub lookup: String,
    /// The reporter's reply recipient, `age1…`.
    pub reply_recipient: String,
    /// The proof of work, when the server asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<PowSolution>,
}

/// 201 answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmissionReceipt {
    /// The day the report was stored (UTC), `YYYY-MM-DD`.
    pub received_on: String,
}

/// `POST /api/v1/status` body.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The lookup key, base64url without padding.
    pub lookup: String,
}

/// One entry of a case's status history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The status set.
    pub status: Status,
    /// The day it was set.
    pub on: String,
}

/// A reply from the inspectorate, as the reporter fetches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyItem {
    /// The reply's identifier.
    pub id: String,
    /// The day it was received by the server.
    pub on: String,
    /// The age file, standard base64.
    pub age: String,
}

/// 200 answer to `POST /api/v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusResponse {
    /// Current status.
    pub status: Status,
    /// The day the report was received.
    pub received_on: String,
    /// Every status change, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Replies, oldest first.
    pub replies: Vec<ReplyItem>,
    /// How many follow-ups the reporter has sent.
    pub followups: u32,
}

/// The `meta` part of `POST /api/v1/followups`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowupMeta {
    /// The lookup key, base64url without padding.
    pub lookup: String,
    /// The proof of work, when the server asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<PowSolution>,
}

/// 201 answer to a follow-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowupReceipt {
    /// The day it was stored.
    pub received_on: String,
}

/// One case in `GET /api/v1/desk/cases`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeskCase {
    /// Random case identifier.
    pub id: String,
    /// The day the report was received.
    pub received_on: String,
    /// Current status.
    pub status: Status,
    /// Number of stored objects (report, attachments, follow-ups, replies).
    pub objects: u32,
    /// Total stored bytes.
    pub bytes: u64,
    /// Objects stored after the desk's last export cursor.
    pub new_objects: u32,
}

/// `GET /api/v1/desk/cases`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeskCases {
    /// The cases, oldest first.
    pub cases: Vec<DeskCase>,
    /// The cursor of the newest stored object.
    pub cursor: String,
}

/// `POST /api/v1/desk/cases/{id}/status` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeskStatusRequest {
    /// The new status.
    pub status: Status,
}

/// 200 answer to `POST /api/v1/desk/import`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportResult {
    /// Items applied now (items already applied earlier are skipped).
    pub applied: u32,
    /// Items skipped because they had been applied before.
    pub skipped: u32,
}

/// Name of the multipart part holding JSON metadata.
pub const PART_META: &str = "meta";
/// Name of the multipart part holding the encrypted report.
pub const PART_REPORT: &str = "report";
/// Name of the multipart part holding an encrypted follow-up message.
pub const PART_MESSAGE: &str = "message";
/// Name of each multipart part holding an encrypted attachment.
pub const PART_ATTACHMENT: &str = "attachment";
/// Response header that carries the next export cursor.
pub const CURSOR_HEADER: &str = "X-Wbs-Cursor";
/// Request header that carries a desk token's TOTP code on the bearer API
/// (six digits; each code is accepted once). Needed when the token has TOTP
/// enrolled; without it such a request is answered 401 `totp_required`.
pub const TOTP_HEADER: &str = "X-Wbs-Totp";
