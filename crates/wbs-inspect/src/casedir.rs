//! The layout of a decrypted case folder, `DIR/<case-id>/`:
//!
//! ```text
//! case.json          the case manifest, merged across bundles   (tool-owned, kept up to date)
//! report.json        the decrypted report                        (evidence, never overwritten)
//! report.md          the report for people                       (tool-owned, regenerated)
//! reply-to.json      who replies are encrypted to                (tool-owned)
//! attachments/<i>-<name>
//! thread/<date>-followup-<NNN>.json / .md
//! thread/<date>-followup-<NNN>-attachments/<i>-<name>
//! thread/<date>-reply-<NNN>.md              replies the server exported back
//! thread/<date>-reply-sent-<item>.md        replies written here with `reply`
//! unverified/<date>-followup-<NNN>.json / .md   kept apart: failed verification
//! unverified/<date>-followup-<NNN>-attachments/<i>-<name>
//! unverified/<date>-reply-<NNN>.json / .md      kept apart: exports never carry replies
//! ```
//!
//! `thread/` holds only what is the reporter's or the inspectorate's own: a
//! follow-up whose authenticator verifies under the case's thread key (or,
//! for a report from a client older than authenticated threads, one marked
//! as unauthenticated). Everything else goes to `unverified/` (PROTOCOL.md
//! §4.4).
//!
//! Thread entries start with the day the server stored them, so a plain
//! `ls` lists follow-ups and replies in the order they happened.
//!
//! Every name here is built from a validated case id, numbers, a validated
//! date and sanitised reporter names: none can leave the case folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wbs_protocol::bundle::is_valid_id;

use crate::error::{Error, Result};
use crate::fsutil::{ensure_dir, sanitize_file_name};

/// The case manifest.
pub const CASE_JSON: &str = "case.json";
/// The decrypted report.
pub const REPORT_JSON: &str = "report.json";
/// The report for people.
pub const REPORT_MD: &str = "report.md";
/// Reply recipients.
pub const REPLY_TO_JSON: &str = "reply-to.json";
/// The report's attachments.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// Follow-ups and replies.
pub const THREAD_DIR: &str = "thread";
/// Objects that failed verification, kept apart from the thread.
pub const UNVERIFIED_DIR: &str = "unverified";

/// `reply-to.json`: who a reply to this case is encrypted to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyTo {
    /// The case.
    pub case_id: String,
    /// The reporter's reply recipient, taken from inside the decrypted
    /// report (never from the server's `case.json`). `None` if the report
    /// carried no valid one: the reporter cannot be answered.
    pub reporter: Option<String>,
    /// The inspectorate's recipients: those of the identity that opened
    /// the case (never the list the server put in `export.json`).
    pub inspectorate: Vec<String>,
    /// The recipients the server listed in `export.json`: the keys reports
    /// are encrypted to (the server accepts a reply encrypted to the
    /// reporter and any of them). `reply` refuses while it holds
    /// keys that are not ours, unless `--recipients` names a trusted local
    /// list or `--trust-server-recipients` is given; never trusted silently.
    #[serde(default)]
    pub listed_by_server: Vec<String>,
}

/// A case folder under the output folder.
#[derive(Debug, Clone)]
pub struct CaseDir {
    id: String,
    root: PathBuf,
}

impl CaseDir {
    /// `out/<id>`, refusing any id that is not a safe single path component.
    pub fn new(out: &Path, id: &str) -> Result<Self> {
        if !is_valid_id(id) {
            return Err(Error::Usage(format!("invalid case id {id:?}")));
        }
        Ok(CaseDir {
            id: id.to_string(),
            root: out.join(id),
        })
    }

    /// An existing case folder given on the command line; its name must be
    /// a valid case id.
    pub fn existing(root: &Path) -> Result<Self> {
        let id = root
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_valid_id(n))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{} is not a case folder (its name must be a case id)",
                    root.display()
                ))
            })?;
        if !root.is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a folder; give the case folder written by `wbs-inspect open`",
                root.display()
            )));
        }
        Ok(CaseDir {
            id: id.to_string(),
            root: root.to_path_buf(),
        })
    }

    /// Creates `dir`, a folder inside the case folder, checking that the
    /// case folder and every folder on the way is a real folder and not a
    /// link that would lead writes elsewhere.
    pub fn ensure(&self, dir: &Path) -> Result<()> {
        ensure_dir(&self.root)?;
        let inside = dir
            .strip_prefix(&self.root)
            .expect("case paths are built inside the case folder");
        let mut path = self.root.clone();
        for part in inside.components() {
            path.push(part);
            ensure_dir(&path)?;
        }
        Ok(())
    }

    /// The case id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file directly in the case folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The folder of the report's attachments.
    pub fn attachments_dir(&self) -> PathBuf {
        self.root.join(ATTACHMENTS_DIR)
    }

    /// The thread folder.
    pub fn thread_dir(&self) -> PathBuf {
        self.root.join(THREAD_DIR)
    }

    /// Where report attachment `index` goes.
    pub fn attachment(&self, index: u32, name: &str) -> PathBuf {
        self.attachments_dir()
            .join(attachment_file_name(index, name))
    }

    /// A thread file: `thread/<stem><suffix>`.
    pub fn thread_file(&self, stem: &str, suffix: &str) -> PathBuf {
        self.thread_dir().join(format!("{stem}{suffix}"))
    }

    /// The folder of objects kept apart because they failed verification.
    pub fn unverified_dir(&self) -> PathBuf {
        self.root.join(UNVERIFIED_DIR)
    }

    /// `thread/` for what verified, `unverified/` for what did not.
    pub fn entry_dir(&self, place: Place) -> PathBuf {
        match place {
            Place::Thread => self.thread_dir(),
            Place::Unverified => self.unverified_dir(),
        }
    }

    /// A thread or unverified file: `<folder>/<stem><suffix>`.
    pub fn entry_file(&self, place: Place, stem: &str, suffix: &str) -> PathBuf {
        self.entry_dir(place).join(format!("{stem}{suffix}"))
    }

    /// The folder of follow-up attachments.
    pub fn followup_attachments_dir(&self, place: Place, followup_stem: &str) -> PathBuf {
        self.entry_dir(place)
            .join(format!("{followup_stem}-attachments"))
    }
}

/// Where a follow-up or reply is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `thread/`: the reporter's or the inspectorate's own.
    Thread,
    /// `unverified/`: kept apart, never shown as either party's.
    Unverified,
}

/// `<index>-<sanitised name>`: the index keeps names unique and never lets
/// one start with a dot.
pub fn attachment_file_name(index: u32, name: &str) -> String {
    format!("{index}-{}", sanitize_file_name(name))
}

/// A server-given day, only if it really is `YYYY-MM-DD` (it ends up in file
/// names).
pub fn safe_date(on: &str) -> &str {
    if wbs_protocol::date::unix_days_from_date(on).is_some() {
        on
    } else {
        "undated"
    }
}

/// `<date>-followup-<NNN>`.
pub fn followup_stem(n: u32, on: &str) -> String {
    format!("{}-followup-{n:03}", safe_date(on))
}

/// `<date>-reply-<NNN>`.
pub fn reply_stem(n: u32, on: &str) -> String {
    format!("{}-reply-{n:03}", safe_date(on))
}

/// `<date>-reply-sent-<item id>`.
pub fn sent_reply_stem(on: &str, item_id: &str) -> String {
    format!("{}-reply-sent-{item_id}", safe_date(on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_refused() {
        for id in [
            "",
            "..",
            "../x",
            "/abs",
            "a/b",
            "A",
            "-x",
            "x y",
            &"a".repeat(65),
        ] {
            assert!(CaseDir::new(Path::new("/out"), id).is_err(), "{id:?}");
        }
        assert!(CaseDir::new(Path::new("/out"), "case_01-x").is_ok());
    }

    #[test]
    fn server_dates_cannot_smuggle_paths() {
        assert_eq!(followup_stem(1, "2026-11-27"), "2026-11-27-followup-001");
        assert_eq!(reply_stem(12, "../../etc"), "undated-reply-012");
        assert_eq!(
            sent_reply_stem("2026-02-30", "abc"),
            "undated-reply-sent-abc"
        );
    }

    #[test]
    fn attachment_paths_stay_in_the_case() {
        let case = CaseDir::new(Path::new("/out"), "c1").unwrap();
        let p = case.attachment(3, "../../../etc/passwd");
        assert_eq!(p.parent(), Some(Path::new("/out/c1/attachments")));
        assert_eq!(p.file_name().unwrap(), "3-_._._etc_passwd");
    }
}
