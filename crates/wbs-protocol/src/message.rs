//! The documents that get encrypted (PROTOCOL.md §4): the report, the
//! reporter's follow-ups and the inspectorate's replies.
//!
//! Each is UTF-8 JSON padded with spaces to its PADMÉ length, then
//! age-encrypted. None of them carries a timestamp, a time zone or anything
//! about the reporter's device.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::envelope::{decrypt_document, encrypt_document, DecryptError, EncryptError};

/// Format tag of a report.
pub const REPORT_FORMAT: &str = "wbs-report/1";
/// Format tag of a follow-up.
pub const FOLLOWUP_FORMAT: &str = "wbs-followup/1";
/// Format tag of a reply.
pub const REPLY_FORMAT: &str = "wbs-reply/1";
/// Largest decrypted document accepted, padding included (a report of
/// 4 MiB of text is already far longer than any real one).
pub const MAX_DOCUMENT_LEN: u64 = 4 * 1024 * 1024;

/// What an attachment is, as the report (or follow-up) describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttachmentMeta {
    /// The file name the reporter chose (untrusted: sanitise before use).
    pub name: String,
    /// The media type the reporter's device gave (untrusted).
    #[serde(rename = "type", default)]
    pub media_type: String,
    /// The real size in bytes, before padding.
    pub size: u64,
    /// SHA-256 of the real bytes, lower-case hex.
    pub sha256: String,
    /// What the reporter's device found and removed in the file before
    /// encryption (PROTOCOL.md §4.1): field names, never values. Absent
    /// when the sending program does not clean files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataNote>,
}

/// How an attachment's metadata was handled on the reporter's device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct MetadataNote {
    /// Whether the file was of a format the device reads and was read
    /// completely. `false`: it was sent as it was, unchecked (unknown
    /// format, or one that could not be read safely and the reporter
    /// chose to send anyway).
    pub checked: bool,
    /// The kinds of identifying fields removed, e.g. `gps`, `camera`,
    /// `author` (the names, never the values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The kinds found but kept because the reporter chose to keep them
    /// (`wbs-report --keep-metadata`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// The optional "5W1H" details of a report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Details {
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    /// Who was involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// When it happened (as the reporter words it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#where: Option<String>,
    /// How it was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
}

impl Details {
    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        [&self.what, &self.who, &self.when, &self.r#where, &self.how]
            .iter()
            .all(|f| f.as_deref().is_none_or(|s| s.trim().is_empty()))
    }
}

/// A report, as encrypted on the reporter's device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// Category identifier from the server's configuration.
    pub category: String,
    /// A short title.
    pub title: String,
    /// The report itself.
    pub body: String,
    /// Optional structured details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    /// Attachments, in upload order.
    #[serde(default)]
    pub attachments: Vec<AttachmentMeta>,
    /// The reporter's reply recipient (`age1…`), derived from the receipt code.
    pub reply_recipient: String,
    /// Optional contact the reporter chose to give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The case's thread key (base64url), derived from the receipt code:
    /// authenticates follow-ups and replies (PROTOCOL.md §4.4). Absent in
    /// reports from clients older than authenticated threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_key: Option<String>,
    /// Which client sent the report: `web` (the browser) or `cli`
    /// (`wbs-report`). Only the inspectorate sees it, inside the
    /// encryption; it feeds the statistics per channel. Absent in reports
    /// from older clients: readers treat that as `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Report {
    /// The thread key carried in the report, if any and well formed.
    pub fn thread_key(&self) -> Option<crate::thread::ThreadKey> {
        self.thread_key
            .as_deref()
            .and_then(crate::thread::ThreadKey::from_base64url)
    }
}

/// A follow-up message from the reporter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowUp {
    /// Always [`FOLLOWUP_FORMAT`].
    pub format: String,
    /// A random id (base64url of 16 bytes), covered by `auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The message.
    pub body: String,
    /// Attachments, in upload order.
    #[serde(default)]
    pub attachments: Vec<AttachmentMeta>,
    /// The authenticator under the case's thread key (PROTOCOL.md §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

impl FollowUp {
    /// A follow-up with a fresh id, authenticated with the case's thread
    /// key; `case` is the case's reply recipient.
    pub fn authenticated(
        key: &crate::thread::ThreadKey,
        case: &str,
        body: String,
        attachments: Vec<AttachmentMeta>,
    ) -> Self {
        let mut f = FollowUp {
            format: FOLLOWUP_FORMAT.into(),
            id: Some(crate::thread::new_message_id()),
            body,
            attachments,
            auth: None,
        };
        f.auth = Some(key.followup_auth(case, &f));
        f
    }
}

/// A reply from the inspectorate to the reporter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    /// Always [`REPLY_FORMAT`].
    pub format: String,
    /// A random id (base64url of 16 bytes), covered by `auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The message (may be empty when the reply only sets a status).
    pub body: String,
    /// The status this reply sets, if any (covered by `auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The authenticator under the case's thread key (PROTOCOL.md §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

impl Reply {
    /// A reply with a fresh id, authenticated with the case's thread key;
    /// `case` is the case's reply recipient.
    pub fn authenticated(
        key: &crate::thread::ThreadKey,
        case: &str,
        body: String,
        status: Option<String>,
    ) -> Self {
        let mut r = Reply {
            format: REPLY_FORMAT.into(),
            id: Some(crate::thread::new_message_id()),
            body,
            status,
            auth: None,
        };
        r.auth = Some(key.reply_auth(case, &r));
        r
    }
}

/// Why a decrypted document was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Decryption failed.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// Decrypted, but not a valid document of the expected kind.
    #[error("decrypted, but not a valid {0} document")]
    Invalid(&'static str),
}

/// A document kind with its format tag.
pub trait Document: Serialize + for<'de> Deserialize<'de> {
    /// The expected `format` value.
    const FORMAT: &'static str;
    /// The `format` value of this document.
    fn format(&self) -> &str;

    /// Serializes, pads with spaces and encrypts to every recipient.
    fn seal<K: age::Recipient>(&self, recipients: &[K]) -> Result<Vec<u8>, EncryptError> {
        let json = Zeroizing::new(serde_json::to_vec(self).expect("documents serialize"));
        encrypt_document(recipients, &json)
    }

    /// Decrypts and parses, checking the format tag.
    fn open(identity: &dyn age::Identity, ciphertext: &[u8]) -> Result<Self, DocumentError> {
        let plain = decrypt_document(identity, ciphertext, MAX_DOCUMENT_LEN)?;
        Self::parse(&plain)
    }

    /// Parses a decrypted document (trailing padding spaces allowed).
    fn parse(plain: &[u8]) -> Result<Self, DocumentError> {
        let doc: Self =
            serde_json::from_slice(plain).map_err(|_| DocumentError::Invalid(Self::FORMAT))?;
        if doc.format() != Self::FORMAT {
            return Err(DocumentError::Invalid(Self::FORMAT));
        }
        Ok(doc)
    }
}

impl Document for Report {
    const FORMAT: &'static str = REPORT_FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
}
impl Document for FollowUp {
    const FORMAT: &'static str = FOLLOWUP_FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
}
impl Document for Reply {
    const FORMAT: &'static str = REPLY_FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::x25519::Identity;

    #[test]
    fn report_round_trip_and_padding() {
        let id = Identity::generate();
        let report = Report {
            format: REPORT_FORMAT.into(),
            category: "procurement".into(),
            title: "Mark-up".into(),
            body: "Harga dinaikkan 300%".into(),
            details: Some(Details {
                who: Some("Kepala bagian".into()),
                ..Default::default()
            }),
            attachments: vec![AttachmentMeta {
                name: "invoice.pdf".into(),
                media_type: "application/pdf".into(),
                size: 12,
                sha256: "00".repeat(32),
                metadata: None,
            }],
            reply_recipient: Identity::generate().to_public().to_string(),
            contact: None,
            thread_key: Some(
                crate::ReceiptCode::generate()
                    .thread_key()
                    .to_base64url()
                    .to_string(),
            ),
            channel: Some("cli".into()),
        };
        let ct = report.seal(&[id.to_public()]).unwrap();
        let back = Report::open(&id, &ct).unwrap();
        assert_eq!(back, report);
        let plain = decrypt_document(&id, &ct, MAX_DOCUMENT_LEN).unwrap();
        assert_eq!(
            plain.len() as u64,
            crate::padding::padme(plain.len() as u64)
        );
    }

    #[test]
    fn wrong_kind_is_refused() {
        let id = Identity::generate();
        let reply = Reply {
            format: REPLY_FORMAT.into(),
            id: None,
            body: "Terima kasih".into(),
            status: None,
            auth: None,
        };
        let ct = reply.seal(&[id.to_public()]).unwrap();
        assert!(matches!(
            FollowUp::open(&id, &ct),
            Err(DocumentError::Invalid(_))
        ));
        assert!(Reply::open(&id, &ct).is_ok());
    }

    #[test]
    fn the_metadata_note_is_optional_and_carries_names_only() {
        let old = r#"{"name":"a.jpg","type":"image/jpeg","size":3,"sha256":"00"}"#;
        let meta: AttachmentMeta = serde_json::from_str(old).unwrap();
        assert_eq!(meta.metadata, None);
        // Absent stays absent: a document without it is byte for byte as before.
        assert_eq!(serde_json::to_string(&meta).unwrap(), old);
        let cleaned = AttachmentMeta {
            metadata: Some(MetadataNote {
                checked: true,
                removed: vec!["gps".into(), "camera".into()],
                kept: vec![],
            }),
            ..meta
        };
        let json = serde_json::to_string(&cleaned).unwrap();
        assert!(
            json.ends_with(r#""metadata":{"checked":true,"removed":["gps","camera"]}}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<AttachmentMeta>(&json).unwrap(),
            cleaned
        );
    }
}
