//! What the reporter writes, before it is encrypted: the inputs, and the
//! defaults and checks applied to them (title, category, length).

use std::borrow::Cow;
use std::path::PathBuf;

use wbs_protocol::api::ConfigResponse;
use wbs_protocol::header::MAX_RECIPIENTS;
use wbs_protocol::keys::parse_recipient;
use wbs_protocol::keys::Recipient;
use wbs_protocol::message::{
    AttachmentMeta, Details, Document, FollowUp, MetadataNote, Report, MAX_DOCUMENT_LEN,
};
use wbs_protocol::padding::padme;
use wbs_protocol::thread::ThreadKey;

use crate::limits::format_bytes;
use crate::{ClientError, PlannedFile};

/// Longest title taken from the first line of the message.
pub const DEFAULT_TITLE_CHARS: usize = 80;
/// What a reporter submits.
#[derive(Debug, Clone, Default)]
pub struct SubmissionInput {
    /// The report itself (required, UTF-8).
    pub message: String,
    /// A short title; by default the first line of the message.
    pub title: Option<String>,
    /// A category id from the server's configuration; by default the first.
    pub category: Option<String>,
    /// Optional 5W1H details.
    pub details: Option<Details>,
    /// Files to attach, in order.
    pub attachments: Vec<PathBuf>,
    /// Files to attach after `attachments`, each with what was decided
    /// about it before encryption (its cleaned content, a neutral name).
    pub prepared: Vec<PreparedAttachment>,
    /// A way to reach the reporter, if they choose to give one.
    pub contact: Option<String>,
}

/// What a reporter adds to an existing report.
#[derive(Debug, Clone, Default)]
pub struct FollowUpInput {
    /// The message (required, UTF-8).
    pub message: String,
    /// Files to attach, in order.
    pub attachments: Vec<PathBuf>,
    /// Files to attach after `attachments`, as for a report.
    pub prepared: Vec<PreparedAttachment>,
}

/// An attachment as it will be sent, decided before encryption: its
/// content cleaned of identifying metadata (`wbs-scrub`), its name
/// replaced, and what the report says about its metadata.
#[derive(Debug, Clone, Default)]
pub struct PreparedAttachment {
    /// The file on this device.
    pub path: PathBuf,
    /// The name the report gives it; by default the file's own name.
    pub name: Option<String>,
    /// What is sent instead of the file's bytes (its cleaned copy); by
    /// default the file as it is, streamed from disk.
    pub content: Option<Vec<u8>>,
    /// What was done with its metadata (PROTOCOL.md §4.1).
    pub metadata: Option<MetadataNote>,
}

impl PreparedAttachment {
    /// The file at `path`, sent as it is.
    pub fn file(path: &std::path::Path) -> Self {
        PreparedAttachment {
            path: path.to_path_buf(),
            ..Default::default()
        }
    }

    /// Every attachment of an input: the plain files, then the prepared.
    pub(crate) fn all<'a>(
        paths: &[PathBuf],
        prepared: &'a [PreparedAttachment],
    ) -> Vec<Cow<'a, Self>> {
        paths
            .iter()
            .map(|p| Cow::Owned(Self::file(p)))
            .chain(prepared.iter().map(Cow::Borrowed))
            .collect()
    }

    /// The name the report gives it.
    pub fn report_name(&self) -> Result<String, ClientError> {
        match &self.name {
            Some(name) => Ok(name.clone()),
            None => crate::media::attachment_name(&self.path),
        }
    }
}

/// The message with trailing white space removed; refused if empty.
pub(crate) fn require_message(message: &str) -> Result<&str, ClientError> {
    let body = message.trim_end();
    if body.trim_start().is_empty() {
        return Err(ClientError::Input("the message is empty".into()));
    }
    Ok(body)
}

/// Parses every recipient the server lists.
pub(crate) fn recipients(config: &ConfigResponse) -> Result<Vec<Recipient>, ClientError> {
    if config.recipients.is_empty() {
        return Err(ClientError::Protocol(
            "the server lists no recipient to encrypt to".into(),
        ));
    }
    if config.recipients.len() > MAX_RECIPIENTS {
        return Err(ClientError::Protocol(format!(
            "the server lists {} recipients, more than {MAX_RECIPIENTS}",
            config.recipients.len()
        )));
    }
    let parsed = config
        .recipients
        .iter()
        .map(|r| {
            parse_recipient(r)
                .map_err(|e| ClientError::Protocol(format!("the server's recipient list: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    wbs_protocol::keys::common_kind(&parsed)
        .map_err(|e| ClientError::Protocol(format!("the server's recipient list: {e}")))?;
    Ok(parsed)
}

/// Whether the server's recipients are post-quantum (`age1pq1…`): then
/// this client makes long receipt codes and a post-quantum reply key.
pub fn is_post_quantum(recipients: &[Recipient]) -> bool {
    recipients
        .first()
        .is_some_and(|r| r.kind() == wbs_protocol::keys::RecipientKind::PostQuantum)
}

/// The category to file under: the one asked for if the server offers it,
/// else the server's first. With no categories configured, `general`.
pub fn resolve_category(
    config: &ConfigResponse,
    asked: Option<&str>,
) -> Result<String, ClientError> {
    let ids: Vec<&str> = config.categories.iter().map(|c| c.id.as_str()).collect();
    match asked.map(str::trim) {
        Some(asked) if ids.contains(&asked) => Ok(asked.to_string()),
        Some(asked) if !ids.is_empty() => Err(ClientError::Input(format!(
            "unknown category {asked:?}; this server offers: {}",
            ids.join(", ")
        ))),
        Some(asked) if !asked.is_empty() => Ok(asked.to_string()),
        _ => Ok(ids.first().copied().unwrap_or("general").to_string()),
    }
}

/// The title: the one given (trimmed, refused if empty), else the first
/// non-empty line of the message, cut to [`DEFAULT_TITLE_CHARS`] characters
/// at a word boundary where possible.
pub fn resolve_title(given: Option<&str>, message: &str) -> Result<String, ClientError> {
    if let Some(title) = given {
        let title = title.trim();
        if title.is_empty() {
            return Err(ClientError::Input("the title is empty".into()));
        }
        return Ok(title.to_string());
    }
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if first.chars().count() <= DEFAULT_TITLE_CHARS {
        return Ok(first.to_string());
    }
    let cut: String = first.chars().take(DEFAULT_TITLE_CHARS - 1).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > DEFAULT_TITLE_CHARS / 2 => cut[..i].trim_end().to_string(),
        _ => cut,
    };
    Ok(format!("{cut}…"))
}

/// Refuses a document that, once padded, would be over what the
/// inspectorate's tool opens.
pub(crate) fn check_document_len<D: Document>(what: &str, doc: &D) -> Result<(), ClientError> {
    let len = serde_json::to_vec(doc).expect("documents serialize").len() as u64;
    if padme(len) > MAX_DOCUMENT_LEN {
        return Err(ClientError::Input(format!(
            "the {what} text is too long: {} (at most about {}); put long texts in an attachment",
            format_bytes(len),
            format_bytes(MAX_DOCUMENT_LEN * 9 / 10)
        )));
    }
    Ok(())
}

/// A document that lists attachments.
pub(crate) trait WithAttachments: Document {
    /// Its attachment list.
    fn attachments_mut(&mut self) -> &mut Vec<AttachmentMeta>;
    /// Sets its authenticator under the case's thread key (PROTOCOL.md
    /// §4.4), once the attachment list is final. A report has none: it is
    /// what carries the key.
    fn authenticate(&mut self, key: &ThreadKey, case: &str);
}

impl WithAttachments for Report {
    fn attachments_mut(&mut self) -> &mut Vec<AttachmentMeta> {
        &mut self.attachments
    }
    fn authenticate(&mut self, _key: &ThreadKey, _case: &str) {}
}

impl WithAttachments for FollowUp {
    fn attachments_mut(&mut self) -> &mut Vec<AttachmentMeta> {
        &mut self.attachments
    }
    fn authenticate(&mut self, key: &ThreadKey, case: &str) {
        self.auth = Some(key.followup_auth(case, self));
    }
}

/// Attachment entries with the right names and sizes but placeholder
/// digests, to measure a document before the files are encrypted.
pub(crate) fn placeholder_attachments(planned: &[PlannedFile]) -> Vec<AttachmentMeta> {
    planned
        .iter()
        .map(|p| AttachmentMeta {
            name: p.name.clone(),
            media_type: String::new(),
            size: p.size,
            sha256: "0".repeat(64),
            metadata: None,
        })
        .collect()
}

/// Reads trusted inspectorate recipients with the workspace's one `.pub`
/// reader ([`wbs_protocol::keys::read_pub_files`]): a `.pub` file, or every
/// `*.pub` in a folder; `age1…` or `age1pq1…`, all of one kind.
pub fn read_recipient_files(path: &std::path::Path) -> Result<Vec<String>, ClientError> {
    let read = wbs_protocol::keys::read_pub_files(path).map_err(ClientError::Input)?;
    Ok(read.recipients.iter().map(|r| r.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_protocol::api::{Category, Limits, Localized, PowSettings};
    use wbs_protocol::message::REPORT_FORMAT;

    fn config(categories: &[&str]) -> ConfigResponse {
        ConfigResponse {
            organization: "Inspektorat Kota Contoh".into(),
            recipients: vec![age::x25519::Identity::generate().to_public().to_string()],
            categories: categories
                .iter()
                .map(|id| Category {
                    id: id.to_string(),
                    label: Localized::default(),
                })
                .collect(),
            intro: Localized::default(),
            limits: Limits {
                max_object_bytes: 1 << 20,
                max_request_bytes: 4 << 20,
                max_attachments: 5,
            },
            pow: PowSettings { difficulty: 0 },
            statuses: Vec::new(),
        }
    }

    #[test]
    fn category_defaults_to_the_first_configured() {
        let c = config(&["procurement", "gratification"]);
        assert_eq!(resolve_category(&c, None).unwrap(), "procurement");
        assert_eq!(
            resolve_category(&c, Some("gratification")).unwrap(),
            "gratification"
        );
    }

    #[test]
    fn unknown_category_is_refused_listing_the_valid_ones() {
        let c = config(&["procurement", "gratification"]);
        let msg = resolve_category(&c, Some("bribery"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("\"bribery\""), "{msg}");
        assert!(msg.contains("procurement, gratification"), "{msg}");
    }

    #[test]
    fn without_configured_categories_any_or_general() {
        let c = config(&[]);
        assert_eq!(resolve_category(&c, None).unwrap(), "general");
        assert_eq!(resolve_category(&c, Some("other")).unwrap(), "other");
    }

    #[test]
    fn title_defaults_to_the_first_non_empty_line() {
        let title = resolve_title(None, "\n\n  Mark-up pengadaan laptop  \nDetail...").unwrap();
        assert_eq!(title, "Mark-up pengadaan laptop");
    }

    #[test]
    fn long_first_lines_are_cut_at_a_word() {
        let line = "Pengadaan ".repeat(20);
        let title = resolve_title(None, &line).unwrap();
        assert!(title.chars().count() <= DEFAULT_TITLE_CHARS, "{title}");
        assert!(title.ends_with("Pengadaan…"), "{title}");
        let unbroken = "x".repeat(200);
        let title = resolve_title(None, &unbroken).unwrap();
        assert_eq!(title.chars().count(), DEFAULT_TITLE_CHARS);
    }

    #[test]
    fn cutting_never_splits_a_character() {
        let line = "é".repeat(300);
        let title = resolve_title(None, &line).unwrap();
        assert_eq!(title.chars().count(), DEFAULT_TITLE_CHARS);
    }

    #[test]
    fn given_titles_are_trimmed_and_must_not_be_empty() {
        assert_eq!(resolve_title(Some("  Suap  "), "body").unwrap(), "Suap");
        assert!(resolve_title(Some("   "), "body").is_err());
    }

    #[test]
    fn empty_messages_are_refused() {
        assert!(require_message(" \n\t").is_err());
        assert_eq!(require_message("Halo\n\n").unwrap(), "Halo");
    }

    #[test]
    fn overlong_messages_are_refused_before_encryption() {
        let c = config(&["x"]);
        let report = Report {
            format: REPORT_FORMAT.into(),
            category: "x".into(),
            title: "t".into(),
            body: "a".repeat(MAX_DOCUMENT_LEN as usize),
            details: None,
            attachments: Vec::new(),
            reply_recipient: c.recipients[0].clone(),
            contact: None,
            thread_key: None,
            channel: None,
        };
        let msg = check_document_len("report", &report)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("too long"), "{msg}");
    }

    #[test]
    fn recipients_are_all_parsed_and_bad_ones_refused() {
        let mut c = config(&["x"]);
        assert_eq!(recipients(&c).unwrap().len(), 1);
        c.recipients.push("age1notarecipient".into());
        assert!(recipients(&c).is_err());
        c.recipients.clear();
        assert!(recipients(&c).is_err());
    }
}
