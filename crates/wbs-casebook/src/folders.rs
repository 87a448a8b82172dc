//! The case book: every decrypted case folder that `wbs-inspect open`
//! wrote under one folder, read back for the case list, the case view, the
//! clocks and the statistics.
//!
//! The layout is `wbs-inspect`'s (its `casedir` module):
//!
//! ```text
//! DIR/<case-id>/case.json        the case manifest, merged across bundles
//! DIR/<case-id>/report.json      the decrypted report
//! DIR/<case-id>/attachments/<i>-<name>
//! DIR/<case-id>/thread/<date>-followup-<NNN>.json          a verified follow-up
//! DIR/<case-id>/thread/<date>-followup-<NNN>-attachments/<i>-<name>
//! DIR/<case-id>/thread/<date>-reply-sent-<item>.md         a reply written here
//! DIR/<case-id>/unverified/…                               kept apart
//! ```
//!
//! What is in `unverified/` failed verification: it is counted, never read
//! as the reporter's or the inspectorate's word, and never searched.
//!
//! Reading is forgiving: a folder that is not a case (no `case.json`) is
//! passed over; a case whose `case.json` cannot be read is left out with a
//! [`LoadWarning`]; a case whose report or a thread entry cannot be read is
//! kept, with the problem in [`Case::problems`]. Nothing here panics on
//! what it reads, and nothing here writes.
//!
//! Everything read here was written by somebody else (the reporter, the
//! server): a caller that prints it on a terminal sanitises it first
//! (`wbs_protocol::text`), and one that puts it in HTML escapes it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wbs_protocol::bundle::{is_valid_id, CaseManifest};
use wbs_protocol::message::{Details, Document, FollowUp, Report, MAX_DOCUMENT_LEN};
use wbs_protocol::Status;

use crate::clocks::{clocks, CaseFacts, Clocks};
use crate::day::Day;
use crate::policy::Policy;

/// Largest `case.json` read (as `wbs-inspect open` reads it back).
const MAX_CASE_JSON: u64 = 256 << 20;
/// Largest decrypted document or reply record read.
const MAX_DOCUMENT: u64 = 2 * MAX_DOCUMENT_LEN;

/// The channel of a report that does not say which client sent it.
pub const UNKNOWN_CHANNEL: &str = "unknown";

/// Why a case could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    /// The folder.
    pub folder: PathBuf,
    /// What was wrong, in English.
    pub message: String,
}

/// Why the case book could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The folder itself cannot be listed.
    #[error("cannot read the folder {}: {source}", .path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The policy file cannot be read.
    #[error("cannot read the policy file {}: {message}", .path.display())]
    PolicyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The policy file is not valid.
    #[error("{}: {source}", .path.display())]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::policy::PolicyError,
    },
}

/// The name of the policy file kept in a case book's folder.
pub const POLICY_FILE: &str = "policy.toml";

/// Largest policy file read.
const MAX_POLICY: u64 = 1 << 20;

/// The deadline policy for the case book in `dir`: the file `explicit` if
/// given, otherwise `dir/policy.toml` if there is one, otherwise the
/// defaults ([`Policy::default`]). Returns the file it was read from.
pub fn load_policy(
    dir: &Path,
    explicit: Option<&Path>,
) -> Result<(Policy, Option<PathBuf>), LoadError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => dir.join(POLICY_FILE),
    };
    let bytes = match read_limited(&path, MAX_POLICY) {
        Ok(Some(b)) => b,
        Ok(None) if explicit.is_none() => return Ok((Policy::default(), None)),
        Ok(None) => {
            return Err(LoadError::PolicyFile {
                path,
                message: "no such file".into(),
            })
        }
        Err(message) => return Err(LoadError::PolicyFile { path, message }),
    };
    let text = String::from_utf8(bytes).map_err(|_| LoadError::PolicyFile {
        path: path.clone(),
        message: "it is not UTF-8 text".into(),
    })?;
    let policy = Policy::from_toml(&text).map_err(|source| LoadError::Policy {
        path: path.clone(),
        source,
    })?;
    Ok((policy, Some(path)))
}

/// A status change, as the server recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// The status set.
    pub status: Status,
    /// The day.
    pub on: Day,
}

/// A file of the report or of a follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// 1-based index in its report or follow-up.
    pub index: u32,
    /// The name the reporter gave (untrusted).
    pub name: String,
    /// The media type the reporter's device gave (untrusted).
    pub media_type: String,
    /// Size in bytes, as the report or follow-up says.
    pub size: u64,
    /// SHA-256 (lower-case hex) as the report or follow-up says;
    /// `wbs-inspect open` checked the file against it when it wrote it.
    pub sha256: String,
    /// The decrypted file, if it is in the case folder (an attachment
    /// arrives in a later bundle than its report when it was still being
    /// uploaded).
    pub path: Option<PathBuf>,
}

impl Attachment {
    /// Hashes the file again and compares it with [`Attachment::sha256`]:
    /// `Ok(false)` if it differs or is missing. Streams the file, so it
    /// works for any size.
    pub fn verify(&self) -> std::io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let mut file = fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(hex.eq_ignore_ascii_case(&self.sha256))
    }
}

/// A follow-up of the reporter in `thread/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpEntry {
    /// Its number in the case.
    pub n: u32,
    /// The day the server stored it (`None` if the server gave no valid
    /// date).
    pub on: Option<Day>,
    /// The message.
    pub body: String,
    /// Its files.
    pub attachments: Vec<Attachment>,
    /// Whether its authenticator verified under the case's thread key;
    /// `false` for a report from a client older than authenticated threads,
    /// whose follow-ups cannot be checked (PROTOCOL.md §4.4).
    pub authenticated: bool,
    /// The `.json` file.
    pub path: PathBuf,
}

/// A reply written on this air-gapped machine with `wbs-inspect reply`
/// (its record `thread/<date>-reply-sent-<item>.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentReply {
    /// The reply item's id in its bundle.
    pub item: String,
    /// The day `reply` wrote it (`None` if the record's name carries no
    /// valid date).
    pub on: Option<Day>,
    /// The status it sets, if any.
    pub status: Option<Status>,
    /// The message, as the record shows it.
    pub body: String,
    /// The record.
    pub path: PathBuf,
}

/// One case, as its folder holds it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case id (the folder's name).
    pub id: String,
    /// The case folder.
    pub folder: PathBuf,
    /// The day the report was received.
    pub received_on: Day,
    /// The current status, as the latest export gave it.
    pub status: Status,
    /// Status changes, oldest first (only those with a valid date).
    pub history: Vec<StatusChange>,
    /// The decrypted report, `None` if it has not been opened yet (or
    /// cannot be read: see [`Case::problems`]).
    pub report: Option<Report>,
    /// The report's files.
    pub attachments: Vec<Attachment>,
    /// The reporter's follow-ups in `thread/`, in order.
    pub followups: Vec<FollowUpEntry>,
    /// Replies written on this machine, oldest first.
    pub replies_sent: Vec<SentReply>,
    /// Objects kept apart in `unverified/`: not the reporter's, not ours.
    pub unverified: usize,
    /// What could not be read in this case, in English.
    pub problems: Vec<String>,
}

impl Case {
    /// The report's title, or "" if there is no report.
    pub fn title(&self) -> &str {
        self.report.as_ref().map_or("", |r| r.title.as_str())
    }

    /// The report's category, or "" if there is no report.
    pub fn category(&self) -> &str {
        self.report.as_ref().map_or("", |r| r.category.as_str())
    }

    /// The client that sent the report (`web`, `cli`), or
    /// [`UNKNOWN_CHANNEL`] if the report does not say (older clients) or
    /// has not been opened.
    pub fn channel(&self) -> &str {
        self.report
            .as_ref()
            .and_then(|r| r.channel.as_deref())
            .filter(|c| !c.is_empty())
            .unwrap_or(UNKNOWN_CHANNEL)
    }

    /// The report's 5W1H details, if any.
    pub fn details(&self) -> Option<&Details> {
        self.report.as_ref().and_then(|r| r.details.as_ref())
    }

    /// What the clocks need: the received day, the status history, and the
    /// days of the replies written on this machine.
    ///
    /// The history is the server's (`case.json`) plus the status each reply
    /// written here set, on the day it was written: the decision was taken
    /// that day, and an incremental export brings a case back only with
    /// new objects, so `case.json` may not show it for a long time. When
    /// the server's copy arrives (dated the day it was pushed), the earlier
    /// of the two counts.
    pub fn facts(&self) -> CaseFacts {
        let mut history: Vec<(Status, Day)> =
            self.history.iter().map(|h| (h.status, h.on)).collect();
        history.extend(
            self.replies_sent
                .iter()
                .filter_map(|r| Some((r.status?, r.on?))),
        );
        CaseFacts {
            received_on: self.received_on,
            history,
            replies: self.replies_sent.iter().filter_map(|r| r.on).collect(),
        }
    }

    /// The case's clocks on `today`.
    pub fn clocks(&self, policy: &Policy, today: Day) -> Clocks {
        clocks(&self.facts(), policy, today)
    }

    /// Whether `query` occurs, ignoring case, in the title, the report's
    /// body, details and contact, the category, the case id or a verified
    /// follow-up's body. An empty query matches every case. What is in
    /// `unverified/` is never searched.
    pub fn matches(&self, query: &str) -> bool {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() {
            return true;
        }
        let hit = |s: &str| s.to_lowercase().contains(&needle);
        if hit(&self.id) {
            return true;
        }
        if let Some(r) = &self.report {
            let details = r.details.iter().flat_map(|d| {
                [&d.what, &d.who, &d.when, &d.r#where, &d.how]
                    .into_iter()
                    .flatten()
            });
            if [&r.title, &r.body, &r.category]
                .into_iter()
                .chain(r.contact.as_ref())
                .chain(details)
                .any(|s| hit(s))
            {
                return true;
            }
        }
        self.followups.iter().any(|f| hit(&f.body))
    }
}

/// Every case under one folder.
#[derive(Debug, Clone, Default)]
pub struct CaseBook {
    /// The folder.
    pub dir: PathBuf,
    /// The cases, by received day then id.
    pub cases: Vec<Case>,
    /// Cases left out because their `case.json` could not be read.
    pub warnings: Vec<LoadWarning>,
}

impl CaseBook {
    /// Reads every case folder under `dir`. Only a `dir` that cannot be
    /// listed is an error; a case that cannot be read is left out with a
    /// warning.
    pub fn load(dir: &Path) -> Result<CaseBook, LoadError> {
        let folder_error = |source| LoadError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        let mut names: Vec<String> = Vec::new();
        for entry in fs::read_dir(dir).map_err(folder_error)? {
            let entry = entry.map_err(folder_error)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // Case folders are named by their id; anything else (the
            // policy file, a statistics folder) is not a case.
            if !is_valid_id(&name) {
                continue;
            }
            // A real folder, not a link that leads elsewhere.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                names.push(name);
            }
        }
        names.sort();
        let mut book = CaseBook {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        for name in names {
            let folder = dir.join(&name);
            match load_case(&folder, &name) {
                Ok(Some(case)) => book.cases.push(case),
                Ok(None) => {}
                Err(message) => book.warnings.push(LoadWarning { folder, message }),
            }
        }
        book.cases
            .sort_by(|a, b| (a.received_on, &a.id).cmp(&(b.received_on, &b.id)));
        Ok(book)
    }

    /// The case with this id.
    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The cases [`Case::matches`] `query`, in book order.
    pub fn search<'a>(&'a self, query: &'a str) -> impl Iterator<Item = &'a Case> + 'a {
        self.cases.iter().filter(move |c| c.matches(query))
    }

    /// The cases with their clocks on `today`, most urgent first (overdue
    /// longest, then fewest days left; ties by received day, then id).
    pub fn by_urgency(&self, policy: &Policy, today: Day) -> Vec<(&Case, Clocks)> {
        let mut list: Vec<(&Case, Clocks)> = self
            .cases
            .iter()
            .map(|c| (c, c.clocks(policy, today)))
            .collect();
        list.sort_by(|(a, ca), (b, cb)| {
            (ca.urgency(), a.received_on, &a.id).cmp(&(cb.urgency(), b.received_on, &b.id))
        });
        list
    }
}

/// Reads a file of at most `max` bytes; `Ok(None)` if it does not exist.
fn read_limited(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(Some(bytes))
}

/// The names in a folder (none if there is no folder).
fn list(dir: &Path) -> Result<Vec<String>, String> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", dir.display())),
    }
}

/// `Ok(None)`: not a case folder (no `case.json`).
fn load_case(folder: &Path, id: &str) -> Result<Option<Case>, String> {
    let Some(bytes) = read_limited(&folder.join("case.json"), MAX_CASE_JSON)? else {
        return Ok(None);
    };
    let manifest: CaseManifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("case.json is not a case manifest: {e}"))?;
    if manifest.id != id {
        return Err(format!(
            "case.json is for case {:?}, not for this folder",
            manifest.id
        ));
    }
    let received_on = Day::parse(&manifest.received_on).ok_or_else(|| {
        format!(
            "case.json gives no valid received date ({:?})",
            manifest.received_on
        )
    })?;
    let mut problems = Vec::new();
    let mut history: Vec<StatusChange> = Vec::new();
    for h in &manifest.history {
        match Day::parse(&h.on) {
            Some(on) => history.push(StatusChange {
                status: h.status,
                on,
            }),
            None => problems.push(format!(
                "a status change to {} has no valid date ({:?}); left out of the clocks",
                h.status.as_str(),
                h.on
            )),
        }
    }
    history.sort_by_key(|h| h.on);

    let report = match read_limited(&folder.join("report.json"), MAX_DOCUMENT) {
        Ok(Some(bytes)) => match Report::parse(&bytes) {
            Ok(r) => Some(r),
            Err(_) => {
                problems.push("report.json is not a valid report".into());
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let attachments = match &report {
        Some(r) => local_attachments(&folder.join("attachments"), &r.attachments, &mut problems),
        None => Vec::new(),
    };
    let authenticated = report.as_ref().is_some_and(|r| r.thread_key.is_some());

    let thread = folder.join("thread");
    let mut followups = Vec::new();
    let mut replies_sent = Vec::new();
    let names = list(&thread).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    for name in &names {
        if let Some(stem) = name.strip_suffix(".json") {
            if let Some((on, n)) = parse_followup_stem(stem) {
                match read_followup(&thread, stem, &mut problems) {
                    Some(f) => followups.push(FollowUpEntry {
                        n,
                        on,
                        attachments: local_attachments(
                            &thread.join(format!("{stem}-attachments")),
                            &f.attachments,
                            &mut problems,
                        ),
                        body: f.body,
                        authenticated,
                        path: thread.join(name),
                    }),
                    None => continue,
                }
            }
        } else if let Some(stem) = name.strip_suffix(".md") {
            if let Some((on, item)) = parse_sent_reply_stem(stem) {
                let path = thread.join(name);
                match read_limited(&path, MAX_DOCUMENT) {
                    Ok(Some(bytes)) => {
                        let text = String::from_utf8_lossy(&bytes);
                        let (status, body) = parse_sent_record(&text);
                        replies_sent.push(SentReply {
                            item: item.to_string(),
                            on,
                            status,
                            body,
                            path,
                        });
                    }
                    Ok(None) => {}
                    Err(e) => problems.push(e),
                }
            }
        }
    }
    followups.sort_by_key(|f| f.n);
    replies_sent.sort_by(|a, b| (a.on, &a.item).cmp(&(b.on, &b.item)));

    // Entries kept apart: one `.md` each.
    let unverified = list(&folder.join("unverified"))
        .unwrap_or_else(|e| {
            problems.push(e);
            Vec::new()
        })
        .iter()
        .filter(|n| n.ends_with(".md"))
        .count();

    Ok(Some(Case {
        id: id.to_string(),
        folder: folder.to_path_buf(),
        received_on,
        status: manifest.status,
        history,
        report,
        attachments,
        followups,
        replies_sent,
        unverified,
        problems,
    }))
}

fn read_followup(thread: &Path, stem: &str, problems: &mut Vec<String>) -> Option<FollowUp> {
    let path = thread.join(format!("{stem}.json"));
    match read_limited(&path, MAX_DOCUMENT) {
        Ok(Some(bytes)) => match FollowUp::parse(&bytes) {
            Ok(f) => Some(f),
            Err(_) => {
                problems.push(format!("thread/{stem}.json is not a valid follow-up"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// The files listed in a report or follow-up, matched to the decrypted
/// files `<i>-<name>` in `dir` by their index.
fn local_attachments(
    dir: &Path,
    listed: &[wbs_protocol::message::AttachmentMeta],
    problems: &mut Vec<String>,
) -> Vec<Attachment> {
    let names = if listed.is_empty() {
        Vec::new()
    } else {
        list(dir).unwrap_or_else(|e| {
            problems.push(e);
            Vec::new()
        })
    };
    (1u32..)
        .zip(listed)
        .map(|(index, meta)| {
            let prefix = format!("{index}-");
            let path = names
                .iter()
                .find(|n| n.starts_with(&prefix))
                .map(|n| dir.join(n))
                .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
            Attachment {
                index,
                name: meta.name.clone(),
                media_type: meta.media_type.clone(),
                size: meta.size,
                sha256: meta.sha256.clone(),
                path,
            }
        })
        .collect()
}

/// `<date>-followup-<NNN>` (the date may be `undated`).
fn parse_followup_stem(stem: &str) -> Option<(Option<Day>, u32)> {
    let (date, n) = stem.split_once("-followup-")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Day::parse(date), n.parse().ok()?))
}

/// `<date>-reply-sent-<item>`.
fn parse_sent_reply_stem(stem: &str) -> Option<(Option<Day>, &str)> {
    let (date, item) = stem.split_once("-reply-sent-")?;
    if !is_valid_id(item) {
        return None;
    }
    Some((Day::parse(date), item))
}

/// The status and the message of a record written by `wbs-inspect reply`:
/// the `| New status | \`<status>\` …` row and the fenced block after
/// `## Message`.
fn parse_sent_record(text: &str) -> (Option<Status>, String) {
    let status = text.lines().find_map(|line| {
        let rest = line.strip_prefix("| New status | `")?;
        let (name, _) = rest.split_once('`')?;
        Status::parse(name)
    });
    let mut body = String::new();
    if let Some((_, after)) = text.split_once("\n## Message\n") {
        let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
        if let Some(open) = lines.next() {
            let fence: String = open.chars().take_while(|c| *c == '`').collect();
            if fence.len() >= 3 {
                for line in lines {
                    if line == fence {
                        break;
                    }
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        let d = Day::parse("2026-11-27");
        assert_eq!(parse_followup_stem("2026-11-27-followup-003"), Some((d, 3)));
        assert_eq!(
            parse_followup_stem("undated-followup-012"),
            Some((None, 12))
        );
        assert_eq!(parse_followup_stem("2026-11-27-followup-x"), None);
        assert_eq!(parse_followup_stem("2026-11-27-reply-001"), None);
        assert_eq!(
            parse_sent_reply_stem("2026-11-27-reply-sent-abc123"),
            Some((d, "abc123"))
        );
        assert_eq!(parse_sent_reply_stem("2026-11-27-reply-sent-../x"), None);
    }

    #[test]
    fn sent_records_give_status_and_message() {
        let text = "# Reply sent to the reporter\n\n| | |\n|---|---|\n| Case | `c1` |\n\
                    | New status | `in_review` (In review / Sedang ditelaah) |\n\n\
                    ## Message\n\n````text\nTerima kasih.\n```\nstill inside\n````\n";
        let (status, body) = parse_sent_record(text);
        assert_eq!(status, Some(Status::InReview));
        assert_eq!(body, "Terima kasih.\n```\nstill inside\n");
        let (status, body) = parse_sent_record("nothing here");
        assert_eq!((status, body.as_str()), (None, ""));
    }
}
