//! The workbench's state and everything it does, apart from drawing: the
//! unlocked identity, the managed case folder, the case book, the filters,
//! the selection, the answers not yet saved, and what each action changes.
//! `ui.rs` only draws this and calls its methods, so the behaviour is
//! tested here without any window.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use wbs_casebook::folders::Case;
use wbs_casebook::stats::Figures;
use wbs_casebook::{CaseBook, Clocks, Day, Policy, Stats};
use wbs_inspect::keyring::{Keyring, PassphraseSource};
use wbs_inspect::reply::{reply_recipients, write_reply, ReplyRequest};
use wbs_protocol::Status;
use zeroize::Zeroizing;

use crate::attachment::{self, Handling, Pixels};
use crate::i18n::{Lang, T};
use crate::picker::{Picker, Purpose};

/// The pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The case list.
    Cases,
    /// One case.
    Case,
    /// The answers not yet saved.
    Answers,
    /// The statistics.
    Statistics,
}

/// What the case list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Full-text search over reports and verified follow-ups.
    pub query: String,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this category.
    pub category: Option<String>,
}

/// A reply being written in the case view.
#[derive(Debug, Default)]
pub struct Draft {
    /// The text (wiped when dropped).
    pub body: Zeroizing<String>,
    /// The new status, if it changes.
    pub status: Option<Status>,
}

/// An answer waiting to be written into the next reply bundle.
#[derive(Debug)]
pub struct Pending {
    /// The case.
    pub case_id: String,
    /// The text.
    pub body: Zeroizing<String>,
    /// The new status.
    pub status: Option<Status>,
    /// Whom it will be encrypted to: the reporter first.
    pub recipients: Vec<String>,
}

/// A message for the investigator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Something worked.
    Done(String),
    /// Something did not; nothing changed.
    Failed(String),
}

/// A preview, once decoded.
#[derive(Debug, Clone)]
pub enum Preview {
    /// The decoded pixels.
    Pixels(Pixels),
    /// Why it could not be decoded.
    Failed(String),
}

/// The statistics page's state.
#[derive(Debug, Clone)]
pub struct StatsPage {
    /// First day, as typed (`YYYY-MM-DD`).
    pub from: String,
    /// Last day, as typed.
    pub to: String,
    /// Figures for publication: small counts hidden.
    pub publish: bool,
}

/// The workbench.
pub struct Workbench {
    /// The interface language.
    pub lang: Lang,
    /// The page shown.
    pub page: Page,
    /// The identity file, as typed or chosen.
    pub identity_path: String,
    /// The case folder, as typed or chosen.
    pub folder_path: String,
    /// The passphrase, as typed (wiped once used).
    pub passphrase: Zeroizing<String>,
    keyring: Option<Keyring>,
    folder: Option<PathBuf>,
    /// The case book of the folder.
    pub book: CaseBook,
    /// The deadline policy of the folder.
    pub policy: Policy,
    /// Today, for the clocks.
    pub today: Day,
    /// The case list's filter.
    pub filter: Filter,
    /// The case shown.
    pub selected: Option<String>,
    /// The reply being written, per case.
    pub drafts: HashMap<String, Draft>,
    /// Answers for the next reply bundle.
    pub pending: Vec<Pending>,
    /// The open file chooser, if any.
    pub picker: Option<Picker>,
    /// The attachment a `SaveAttachment` chooser is for (its path and name).
    pub saving: Option<(PathBuf, String)>,
    /// The latest message.
    pub notice: Option<Notice>,
    /// Decoded previews, by file.
    pub previews: HashMap<PathBuf, Preview>,
    /// The statistics page.
    pub stats: StatsPage,
}

impl std::fmt::Debug for Workbench {
    // Never the keyring or the passphrase.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workbench")
            .field("page", &self.page)
            .field("folder", &self.folder)
            .field("cases", &self.book.cases.len())
            .field("unlocked", &self.keyring.is_some())
            .finish_non_exhaustive()
    }
}

impl Workbench {
    /// A locked workbench, suggesting the given identity file and folder.
    pub fn new(identity: Option<&Path>, folder: &Path, today: Day) -> Workbench {
        let (y, _, _) = today.ymd();
        Workbench {
            lang: Lang::Id,
            page: Page::Cases,
            identity_path: identity
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            folder_path: folder.display().to_string(),
            passphrase: Zeroizing::new(String::new()),
            keyring: None,
            folder: None,
            book: CaseBook::default(),
            policy: Policy::default(),
            today,
            filter: Filter::default(),
            selected: None,
            drafts: HashMap::new(),
            pending: Vec::new(),
            picker: None,
            saving: None,
            notice: None,
            previews: HashMap::new(),
            stats: StatsPage {
                from: format!("{y:04}-01-01"),
                to: format!("{y:04}-12-31"),
                publish: true,
            },
        }
    }

    /// Whether the identity is unlocked.
    pub fn is_unlocked(&self) -> bool {
        self.keyring.is_some()
    }

    /// The managed case folder, once unlocked.
    pub fn folder(&self) -> Option<&Path> {
        self.folder.as_deref()
    }

    /// Unlocks the identity with the passphrase typed, opens (or makes) the
    /// case folder and reads its policy and cases. The passphrase is wiped
    /// whatever happens.
    pub fn unlock(&mut self) -> Result<(), String> {
        let passphrase = SecretString::from(std::mem::take(&mut *self.passphrase));
        let identity = PathBuf::from(self.identity_path.trim());
        let folder = PathBuf::from(self.folder_path.trim());
        if folder.as_os_str().is_empty() {
            return self.fail(T::NoFolderChosen.get(self.lang).to_string());
        }
        let keyring = match Keyring::load(&identity, PassphraseSource::Given(&passphrase)) {
            Ok(k) => k,
            Err(e) => return self.fail(e.to_string()),
        };
        let new_folder = !folder.exists();
        if let Err(e) = fs::create_dir_all(&folder) {
            return self.fail(format!("{}: {e}", folder.display()));
        }
        // A folder made here holds decrypted reports: its owner's alone.
        // One chosen that already existed keeps the permissions it has.
        #[cfg(unix)]
        if new_folder {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&folder, fs::Permissions::from_mode(0o700));
        }
        // The same policy file, read the same way, as `wbs-inspect cases`.
        let policy = match wbs_casebook::folders::load_policy(&folder, None) {
            Ok((policy, _)) => policy,
            Err(e) => return self.fail(e.to_string()),
        };
        self.keyring = Some(keyring);
        self.folder = Some(folder);
        self.policy = policy;
        self.notice = None;
        self.reload()
    }

    fn fail(&mut self, message: String) -> Result<(), String> {
        self.notice = Some(Notice::Failed(message.clone()));
        Err(message)
    }

    /// Reads the case book again from the folder.
    pub fn reload(&mut self) -> Result<(), String> {
        let Some(folder) = &self.folder else {
            return Ok(());
        };
        match CaseBook::load(folder) {
            Ok(book) => {
                self.book = book;
                Ok(())
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// Decrypts an export bundle into the case folder, merging it with the
    /// cases already there, and reads the case book again.
    pub fn import(&mut self, bundle: &Path) -> Result<wbs_inspect::open::Stats, String> {
        let (Some(keyring), Some(folder)) = (&self.keyring, &self.folder) else {
            return Err("locked".to_string());
        };
        match wbs_inspect::open::open_bundle(bundle, keyring, folder) {
            Ok(stats) => {
                self.reload()?;
                let lang = self.lang;
                let mut text = format!(
                    "{} {}: {}",
                    T::Imported.get(lang),
                    bundle.display(),
                    T::ImportedCounts
                        .get(lang)
                        .replace("{cases}", &stats.cases.to_string())
                        .replace("{reports}", &stats.reports.to_string())
                        .replace("{followups}", &stats.followups.to_string())
                        .replace("{attachments}", &stats.attachments.to_string())
                );
                if stats.unverified > 0 {
                    text.push_str("; ");
                    text.push_str(
                        &T::UnverifiedKeptApart
                            .get(lang)
                            .replace("{n}", &stats.unverified.to_string()),
                    );
                }
                self.notice = Some(Notice::Done(text));
                Ok(stats)
            }
            Err(e) => {
                // What was complete before the failure is kept: show it.
                let _ = self.reload();
                let message = e.to_string();
                self.notice = Some(Notice::Failed(message.clone()));
                Err(message)
            }
        }
    }

    /// The cases the list shows: filtered, most urgent first.
    pub fn visible_cases(&self) -> Vec<(&Case, Clocks)> {
        self.book
            .by_urgency(&self.policy, self.today)
            .into_iter()
            .filter(|(c, _)| self.filter.status.is_none_or(|s| c.status == s))
            .filter(|(c, _)| {
                self.filter
                    .category
                    .as_deref()
                    .is_none_or(|cat| c.category() == cat)
            })
            .filter(|(c, _)| c.matches(&self.filter.query))
            .collect()
    }

    /// Every category in the book, sorted.
    pub fn categories(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .book
            .cases
            .iter()
            .map(|c| c.category().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Shows a case.
    pub fn open_case(&mut self, id: &str) {
        if self.book.get(id).is_some() {
            self.selected = Some(id.to_string());
            self.page = Page::Case;
        }
    }

    /// The case shown.
    pub fn selected_case(&self) -> Option<&Case> {
        self.selected.as_deref().and_then(|id| self.book.get(id))
    }

    /// The objects kept apart in the case's `unverified/`: each record's
    /// name and text (the first 64 KiB), sorted by name. They failed
    /// verification: shown apart, never as the thread.
    pub fn unverified_entries(case: &Case) -> Vec<(String, String)> {
        const MAX: u64 = 64 * 1024;
        let dir = case.folder.join("unverified");
        let mut names: Vec<String> = fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".md"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let mut bytes = Vec::new();
                if let Ok(f) = fs::File::open(dir.join(&name)) {
                    let _ =
                        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX), &mut bytes);
                }
                (name, String::from_utf8_lossy(&bytes).into_owned())
            })
            .collect()
    }

    /// Whom a reply to the case would be encrypted to (the reporter first).
    pub fn recipients(&self, case_id: &str) -> Result<Vec<String>, String> {
        let case = self.book.get(case_id).ok_or("no such case")?;
        reply_recipients(&case.folder, None, false).map_err(|e| e.to_string())
    }

    /// Moves the case's draft into the answers for the next bundle.
    pub fn queue_answer(&mut self, case_id: &str) -> Result<(), String> {
        let recipients = match self.recipients(case_id) {
            Ok(r) => r,
            Err(e) => return self.fail(e),
        };
        let Some(draft) = self.drafts.get(case_id) else {
            return self.fail(T::EmptyMessage.get(self.lang).to_string());
        };
        if draft.body.trim().is_empty() {
            return self.fail(T::EmptyMessage.get(self.lang).to_string());
        }
        let draft = self.drafts.remove(case_id).unwrap_or_default();
        self.pending.push(Pending {
            case_id: case_id.to_string(),
            body: draft.body,
            status: draft.status,
            recipients,
        });
        self.notice = None;
        Ok(())
    }

    /// Writes every pending answer into one new reply bundle in `dir` and
    /// returns its path. Answers written are removed from the list; if one
    /// fails, those before it are in the bundle and the rest stay.
    pub fn save_answers(&mut self, dir: &Path) -> Result<PathBuf, String> {
        if self.pending.is_empty() {
            return Err("no answers to save".into());
        }
        let out = (1..1000)
            .map(|n| {
                if n == 1 {
                    dir.join(format!("replies-{}.tar", self.today))
                } else {
                    dir.join(format!("replies-{}-{n}.tar", self.today))
                }
            })
            .find(|p| !p.exists())
            .ok_or("too many reply bundles in that folder")?;
        while let Some(answer) = self.pending.first() {
            let folder = match self.book.get(&answer.case_id) {
                Some(c) => c.folder.clone(),
                None => {
                    let msg = format!("case {} is no longer in the folder", answer.case_id);
                    self.notice = Some(Notice::Failed(msg.clone()));
                    return Err(msg);
                }
            };
            let written = write_reply(&ReplyRequest {
                case: &folder,
                body: &answer.body,
                status: answer.status,
                out: &out,
                recipients: None,
                trust_server_recipients: false,
            });
            match written {
                Ok(_) => {
                    self.pending.remove(0);
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.notice = Some(Notice::Failed(msg.clone()));
                    let _ = self.reload();
                    return Err(msg);
                }
            }
        }
        let _ = self.reload();
        self.notice = Some(Notice::Done(format!(
            "{}: {}",
            T::BundleSaved.get(self.lang),
            out.display()
        )));
        Ok(out)
    }

    /// How the app may treat an attachment.
    pub fn handling(att: &wbs_casebook::Attachment) -> Handling {
        attachment::handling(&att.name, att.path.as_deref())
    }

    /// Decodes an image attachment for its preview (once). Anything that
    /// is not an image by its bytes, or is dangerous, is never decoded.
    pub fn preview(&mut self, att: &wbs_casebook::Attachment) -> Option<&Preview> {
        let path = att.path.clone()?;
        if Self::handling(att) != Handling::Image {
            return None;
        }
        if !self.previews.contains_key(&path) {
            let p = match attachment::decode_image(&path) {
                Ok(px) => Preview::Pixels(px),
                Err(e) => Preview::Failed(e),
            };
            self.previews.insert(path.clone(), p);
        }
        self.previews.get(&path)
    }

    /// Copies an attachment into `dir` (never opening it).
    pub fn save_attachment(
        &mut self,
        path: &Path,
        name: &str,
        dir: &Path,
    ) -> Result<PathBuf, String> {
        match attachment::save_elsewhere(path, name, dir) {
            Ok(p) => {
                self.notice = Some(Notice::Done(format!(
                    "{}: {}",
                    T::Saved.get(self.lang),
                    p.display()
                )));
                Ok(p)
            }
            Err(e) => {
                let msg = e.to_string();
                self.notice = Some(Notice::Failed(msg.clone()));
                Err(msg)
            }
        }
    }

    /// Opens the file chooser.
    pub fn choose(&mut self, purpose: Purpose) {
        let start = match purpose {
            Purpose::Identity => PathBuf::from(self.identity_path.trim())
                .parent()
                .map(Path::to_path_buf),
            Purpose::CaseFolder => Some(PathBuf::from(self.folder_path.trim())),
            _ => None,
        }
        .filter(|p| p.is_dir())
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"));
        self.picker = Some(Picker::new(purpose, &start));
    }

    /// Acts on the chooser's choice.
    pub fn chosen(&mut self, path: PathBuf) {
        let Some(picker) = self.picker.take() else {
            return;
        };
        match picker.purpose {
            Purpose::Identity => self.identity_path = path.display().to_string(),
            Purpose::CaseFolder => self.folder_path = path.display().to_string(),
            Purpose::ImportBundle => {
                let _ = self.import(&path);
            }
            Purpose::SaveAnswers => {
                let _ = self.save_answers(&path);
            }
            Purpose::SaveAttachment => {
                if let Some((file, name)) = self.saving.take() {
                    let _ = self.save_attachment(&file, &name, &path);
                }
            }
            Purpose::ExportStats => {
                let _ = self.export_stats(&path);
            }
        }
    }

    /// The period of the statistics page.
    pub fn period(&self) -> Result<(Day, Day), String> {
        let from = Day::parse(self.stats.from.trim()).ok_or("from: not a date (YYYY-MM-DD)")?;
        let to = Day::parse(self.stats.to.trim()).ok_or("to: not a date (YYYY-MM-DD)")?;
        if to < from {
            return Err("the period ends before it starts".into());
        }
        Ok((from, to))
    }

    /// The statistics of the period, and the figures as shown.
    pub fn figures(&self) -> Result<(Stats, Figures), String> {
        let (from, to) = self.period()?;
        let stats = Stats::of_cases(&self.book.cases, &self.policy, from, to, self.today);
        let figures = stats.figures(self.stats.publish);
        Ok((stats, figures))
    }

    /// Writes `stats.csv` and `stats.html` into a new folder under `dir`.
    pub fn export_stats(&mut self, dir: &Path) -> Result<PathBuf, String> {
        let result: Result<PathBuf, String> = (|| {
            let (stats, figures) = self.figures()?;
            let name = format!(
                "stats-{}-{}{}",
                stats.from,
                stats.to,
                if figures.publish { "-publish" } else { "" }
            );
            let out = (1..1000)
                .map(|n| {
                    if n == 1 {
                        dir.join(&name)
                    } else {
                        dir.join(format!("{name}-{n}"))
                    }
                })
                .find(|p| !p.exists())
                .ok_or("too many exports in that folder")?;
            fs::create_dir(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            for (file, text) in [
                ("stats.csv", figures.to_csv(&stats)),
                ("stats.html", figures.to_html(&stats, &self.policy)),
            ] {
                fs::write(out.join(file), text).map_err(|e| format!("{file}: {e}"))?;
            }
            Ok(out)
        })();
        self.notice = Some(match &result {
            Ok(p) => Notice::Done(format!("{}: {}", T::Exported.get(self.lang), p.display())),
            Err(e) => Notice::Failed(e.clone()),
        });
        result
    }
}
