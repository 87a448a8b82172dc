//! The export visitor: turns each case of a bundle into its folder.
//!
//! Evidence (the decrypted report, follow-ups, replies, attachments) is
//! written once and never changed. The tool's own files (`case.json`,
//! `report.md`, `reply-to.json`) are written when a case is complete, so a
//! case whose first object fails (a wrong identity, typically) leaves
//! nothing behind.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use wbs_protocol::bundle::{
    BundleError, CaseManifest, ExportManifest, ExportVisitor, ObjectEntry, ObjectKind,
};
use wbs_protocol::keys::parse_recipient;
use wbs_protocol::message::{AttachmentMeta, Document, FollowUp, Reply, Report, MAX_DOCUMENT_LEN};
use wbs_protocol::parse_sha256_hex;
use wbs_protocol::thread::{self, Verification};

use super::decrypt::{copy_exact_hashed, decrypt_object, read_document};
use super::markdown::{self, LocalFile};
use super::merge::merge;
use super::Stats;
use crate::casedir::{
    attachment_file_name, followup_stem, reply_stem, CaseDir, Place, ReplyTo, ATTACHMENTS_DIR,
    CASE_JSON, REPLY_TO_JSON, REPORT_JSON, REPORT_MD, THREAD_DIR, UNVERIFIED_DIR,
};
use crate::error::{one_line, Error, Result};
use crate::fsutil::{read_if_exists, Batch, Placed, TempFile};
use crate::json;
use crate::keyring::Keyring;

/// Largest `case.json` read back from an earlier run.
const MAX_CASE_JSON: u64 = 256 << 20;

/// Small files written before they are all made durable at once (see
/// [`Batch`]): about 250 cases' worth. Attachments are not batched; each
/// gets its own `fsync`, which costs little next to its size.
const BATCH_FILES: usize = 1024;

/// Decrypts a bundle into `out`, one case at a time.
pub struct Opener<'a> {
    out: &'a Path,
    keyring: &'a Keyring,
    /// Our own recipients: the inspectorate side of every `reply-to.json`.
    inspectorate: Vec<String>,
    /// The recipients `export.json` lists, kept apart from ours.
    listed_by_server: Vec<String>,
    current: Option<CaseWork>,
    /// Small files of the cases so far, waiting for their durability barrier.
    batch: Batch,
    stats: Stats,
    failure: Option<Error>,
}

/// The case being read.
struct CaseWork {
    dir: CaseDir,
    /// This bundle's `case.json` merged with the one from earlier runs.
    merged: CaseManifest,
    /// The report, from this bundle or from an earlier run.
    report: Option<Report>,
    /// Follow-ups seen, with their file stem and where they went, for
    /// their attachments.
    followups: HashMap<u32, (FollowUp, String, Place)>,
    /// Stems of the entries kept apart in this run (not yet on disk: the
    /// batch puts them there).
    kept_apart: std::collections::BTreeSet<String>,
}

impl<'a> Opener<'a> {
    /// A visitor writing into `out` with the keys of `keyring`.
    pub fn new(out: &'a Path, keyring: &'a Keyring) -> Self {
        Opener {
            out,
            keyring,
            inspectorate: keyring.recipients(),
            listed_by_server: Vec::new(),
            current: None,
            batch: Batch::default(),
            stats: Stats::default(),
            failure: None,
        }
    }

    /// The error that stopped the visit, if it was ours.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Completes the last case and returns what was done.
    pub fn finish(mut self) -> Result<Stats> {
        self.finish_case()?;
        self.commit()?;
        Ok(self.stats)
    }

    /// Makes the files written so far durable and puts them in place. Also
    /// called when the bundle fails part-way, so the cases before the
    /// failure are kept, as they were before files were batched.
    pub fn commit(&mut self) -> Result<()> {
        self.stats.already_there += self.batch.commit()?;
        Ok(())
    }

    /// Keeps our precise error and hands wbs-protocol a summary of it.
    fn keep<T>(&mut self, result: Result<T>) -> Result<T, BundleError> {
        result.map_err(|e| {
            let message = e.to_string();
            self.failure = Some(e);
            BundleError::Visitor(message)
        })
    }

    fn start_case(&mut self, case: &CaseManifest) -> Result<()> {
        self.finish_case()?;
        if self.batch.len() >= BATCH_FILES {
            self.commit()?;
        }
        let dir = CaseDir::new(self.out, &case.id)?;
        let earlier = match read_if_exists(&dir.file(CASE_JSON), MAX_CASE_JSON)? {
            Some(bytes) => Some(serde_json::from_slice::<CaseManifest>(&bytes).map_err(|_| {
                Error::case(
                    &case.id,
                    format!(
                        "{} is not a case manifest written by wbs-inspect; refusing to touch it",
                        dir.file(CASE_JSON).display()
                    ),
                )
            })?),
            None => None,
        };
        let merged = merge(earlier, case)?;
        let report = match read_if_exists(&dir.file(REPORT_JSON), 2 * MAX_DOCUMENT_LEN)? {
            Some(bytes) => Some(Report::parse(&bytes).map_err(|_| {
                Error::case(
                    &case.id,
                    format!(
                        "{} is not a report written by wbs-inspect; refusing to touch it",
                        dir.file(REPORT_JSON).display()
                    ),
                )
            })?),
            None => None,
        };
        self.current = Some(CaseWork {
            dir,
            merged,
            report,
            followups: HashMap::new(),
            kept_apart: Default::default(),
        });
        self.stats.cases += 1;
        Ok(())
    }

    fn object(
        &mut self,
        case: &CaseManifest,
        entry: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<()> {
        let Opener {
            keyring,
            current,
            batch,
            stats,
            ..
        } = self;
        let work = current
            .as_mut()
            .filter(|w| w.dir.id() == case.id)
            .ok_or_else(|| Error::case(&case.id, "an object came outside its case"))?;
        let ctx = Ctx {
            keyring,
            batch,
            stats,
            entry,
        };
        match entry.kind {
            ObjectKind::Report => work.report(ctx, data),
            ObjectKind::Attachment { index } => work.attachment(ctx, data, index),
            ObjectKind::Followup { n } => work.followup(ctx, data, n),
            ObjectKind::FollowupAttachment { n, index } => {
                work.followup_attachment(ctx, data, n, index)
            }
            ObjectKind::Reply { n } => work.reply(ctx, data, n),
        }
    }

    /// Writes the tool's own files of the current case.
    fn finish_case(&mut self) -> Result<()> {
        let Some(work) = self.current.take() else {
            return Ok(());
        };
        let dir = &work.dir;
        dir.ensure(dir.root())?;
        self.batch
            .write_owned(&dir.file(CASE_JSON), &json::pretty(&work.merged))?;
        let Some(report) = &work.report else {
            return Ok(());
        };

        let mut warnings = Vec::new();
        // The reply recipient inside the report is the reporter's own: it was
        // encrypted and authenticated on their device. The one in case.json
        // is only what the server says.
        let reporter = match parse_recipient(&report.reply_recipient) {
            Ok(r) => Some(r.to_string()),
            Err(_) => {
                warnings.push(
                    "the report carries no valid reply recipient: the reporter cannot be answered"
                        .to_string(),
                );
                None
            }
        };
        if let Some(ours) = &reporter {
            let server = parse_recipient(&work.merged.reply_recipient)
                .ok()
                .map(|r| r.to_string());
            if server.as_deref() != Some(ours.as_str()) {
                warnings.push(format!(
                    "the server's case.json gives the reply recipient {:?}, but the encrypted \
                     report says {ours}. The server's copy may have been altered to intercept \
                     replies: replies are encrypted to the one in the report.",
                    work.merged.reply_recipient
                ));
            }
        }
        // A report from a client older than authenticated threads opens as
        // before; its follow-ups say they are unauthenticated.
        if report.thread_key.is_some() && report.thread_key().is_none() {
            warnings.push(
                "the report's thread key is malformed: no follow-up can be verified as the \
                 reporter's"
                    .to_string(),
            );
        }
        let mut kept_apart = entries(&dir.unverified_dir())?;
        kept_apart.extend(work.kept_apart.iter().cloned());
        let kept_apart = kept_apart.len();
        if kept_apart > 0 {
            warnings.push(format!(
                "{kept_apart} object(s) of this case FAILED VERIFICATION and are kept apart in \
                 {UNVERIFIED_DIR}/: they were not written by the reporter (nor are they replies \
                 of ours). Somebody else, such as whoever controls the server or learned the \
                 case's lookup key, made or changed them. Do not act on them as the reporter's \
                 word."
            ));
        }
        for w in &warnings {
            eprintln!("wbs-inspect: warning: case {}: {}", dir.id(), one_line(w));
        }

        let reply_to = ReplyTo {
            case_id: dir.id().to_string(),
            reporter,
            inspectorate: self.inspectorate.clone(),
            listed_by_server: self.listed_by_server.clone(),
        };
        self.batch
            .write_owned(&dir.file(REPLY_TO_JSON), &json::pretty(&reply_to))?;

        let files: Vec<LocalFile> = (1u32..)
            .zip(&report.attachments)
            .map(|(i, a)| LocalFile {
                relative: format!("{ATTACHMENTS_DIR}/{}", attachment_file_name(i, &a.name)),
                present: Some(dir.attachment(i, &a.name).is_file()),
            })
            .collect();
        let md = markdown::report(&work.merged, report, &warnings, &files);
        self.batch
            .write_owned(&dir.file(REPORT_MD), md.as_bytes())?;
        Ok(())
    }
}

impl ExportVisitor for Opener<'_> {
    fn manifest(&mut self, manifest: &ExportManifest) -> Result<(), BundleError> {
        // The server's recipient list is recorded apart from our own keys:
        // `reply` shows it and lets a trusted local list replace it.
        self.listed_by_server = manifest.recipients.clone();
        Ok(())
    }

    fn case(&mut self, case: &CaseManifest) -> Result<(), BundleError> {
        let result = self.start_case(case);
        self.keep(result)
    }

    fn object(
        &mut self,
        case: &CaseManifest,
        entry: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let result = Opener::object(self, case, entry, data);
        self.keep(result)
    }
}

/// What every object handler needs besides the case.
struct Ctx<'a, 'b> {
    keyring: &'b Keyring,
    batch: &'a mut Batch,
    stats: &'a mut Stats,
    entry: &'a ObjectEntry,
}

impl CaseWork {
    fn id(&self) -> &str {
        self.dir.id()
    }

    /// Writes an evidence file (put in place, or counted as already there,
    /// when the batch is committed).
    fn place(&self, batch: &mut Batch, path: &Path, bytes: &[u8]) -> Result<()> {
        self.dir.ensure(
            path.parent()
                .expect("case files are inside the case folder"),
        )?;
        batch.write_new(path, bytes)
    }

    fn document(
        &self,
        ctx: &Ctx<'_, '_>,
        data: &mut dyn Read,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let id = self.id();
        decrypt_object(ctx.keyring, id, ctx.entry, data, |plain| {
            read_document(plain, id)
        })
    }

    fn invalid(&self, entry: &ObjectEntry, format: &str) -> Error {
        Error::case(
            self.id(),
            format!(
                "{:?} decrypted, but it is not a valid {format} document",
                entry.path
            ),
        )
    }

    fn report(&mut self, ctx: Ctx<'_, '_>, data: &mut dyn Read) -> Result<()> {
        let plain = self.document(&ctx, data)?;
        let report = Report::parse(&plain).map_err(|_| self.invalid(ctx.entry, Report::FORMAT))?;
        let value: Value =
            serde_json::from_slice(&plain).map_err(|_| self.invalid(ctx.entry, Report::FORMAT))?;
        self.place(
            ctx.batch,
            &self.dir.file(REPORT_JSON),
            &json::pretty_sorted(&value),
        )?;
        ctx.stats.reports += 1;
        self.report = Some(report);
        Ok(())
    }

    fn attachment(&mut self, ctx: Ctx<'_, '_>, data: &mut dyn Read, index: u32) -> Result<()> {
        let report = self.report.as_ref().ok_or_else(|| {
            Error::case(
                self.id(),
                format!(
                    "{:?} came without its report; open the bundle holding report.age first",
                    ctx.entry.path
                ),
            )
        })?;
        let meta = attachment_meta(self.id(), &report.attachments, index, "report")?;
        let dest = self.dir.attachment(index, &meta.name);
        self.file(ctx, data, &meta, index, &dest, "report")
    }

    fn followup(&mut self, ctx: Ctx<'_, '_>, data: &mut dyn Read, n: u32) -> Result<()> {
        let plain = self.document(&ctx, data)?;
        let followup =
            FollowUp::parse(&plain).map_err(|_| self.invalid(ctx.entry, FollowUp::FORMAT))?;
        let value: Value = serde_json::from_slice(&plain)
            .map_err(|_| self.invalid(ctx.entry, FollowUp::FORMAT))?;
        let check = self.verify_followup(&followup);
        let place = match check {
            Check::Verified | Check::Unauthenticated => Place::Thread,
            Check::Failed(_) => Place::Unverified,
        };
        let stem = followup_stem(n, &ctx.entry.on);
        let folder = match place {
            Place::Thread => THREAD_DIR,
            Place::Unverified => UNVERIFIED_DIR,
        };
        let files: Vec<LocalFile> = (1u32..)
            .zip(&followup.attachments)
            .map(|(i, a)| LocalFile {
                relative: format!(
                    "{folder}/{stem}-attachments/{}",
                    attachment_file_name(i, &a.name)
                ),
                present: None,
            })
            .collect();
        let md = markdown::followup(self.id(), n, &ctx.entry.on, &followup, &files, &check);
        self.place(
            ctx.batch,
            &self.dir.entry_file(place, &stem, ".json"),
            &json::pretty_sorted(&value),
        )?;
        self.place(
            ctx.batch,
            &self.dir.entry_file(place, &stem, ".md"),
            md.as_bytes(),
        )?;
        match &check {
            Check::Failed(why) => {
                ctx.stats.unverified += 1;
                self.kept_apart.insert(stem.clone());
                eprintln!(
                    "wbs-inspect: WARNING: case {}: follow-up {n} FAILED VERIFICATION ({why}): \
                     it is NOT the reporter's; kept apart in {}",
                    self.id(),
                    self.dir.unverified_dir().display()
                );
            }
            Check::Verified | Check::Unauthenticated => ctx.stats.followups += 1,
        }
        self.followups.insert(n, (followup, stem, place));
        Ok(())
    }

    /// Whether a follow-up is the reporter's: its authenticator against the
    /// thread key inside the report (PROTOCOL.md §4.4).
    fn verify_followup(&self, followup: &FollowUp) -> Check {
        let Some(report) = &self.report else {
            return Check::Failed(
                "its report has not been opened, so it cannot be checked; open the bundle \
                 holding report.age, then this one again"
                    .into(),
            );
        };
        if report.thread_key.is_none() {
            return Check::Unauthenticated;
        }
        let key = report.thread_key();
        match thread::verify_followup(key.as_ref(), &report.reply_recipient, followup) {
            Verification::Verified => Check::Verified,
            Verification::Unauthenticated => {
                Check::Failed("the report's thread key is malformed".into())
            }
            Verification::Failed if followup.auth.is_none() => Check::Failed(
                "it carries no authenticator, though the reporter's client makes one".into(),
            ),
            Verification::Failed => {
                Check::Failed("its authenticator does not match the case's thread key".into())
            }
        }
    }

    fn followup_attachment(
        &mut self,
        ctx: Ctx<'_, '_>,
        data: &mut dyn Read,
        n: u32,
        index: u32,
    ) -> Result<()> {
        if !self.followups.contains_key(&n) {
            let loaded = self.load_followup(ctx.entry, n)?;
            self.followups.insert(n, loaded);
        }
        let (followup, stem, place) = &self.followups[&n];
        let source = format!("follow-up {n}");
        let meta = attachment_meta(self.id(), &followup.attachments, index, &source)?;
        let dest = self
            .dir
            .followup_attachments_dir(*place, stem)
            .join(attachment_file_name(index, &meta.name));
        self.file(ctx, data, &meta, index, &dest, &source)
    }

    /// A follow-up opened in an earlier run, for attachments that came in a
    /// later bundle than the follow-up itself.
    fn load_followup(&self, entry: &ObjectEntry, n: u32) -> Result<(FollowUp, String, Place)> {
        let on = self
            .merged
            .objects
            .iter()
            .find(|o| o.kind == ObjectKind::Followup { n })
            .map_or(entry.on.as_str(), |o| o.on.as_str());
        let stem = followup_stem(n, on);
        let missing = || {
            Error::case(
                self.id(),
                format!(
                    "{:?} came without follow-up {n}; open the bundle holding followups/{n}.age first",
                    entry.path
                ),
            )
        };
        for place in [Place::Thread, Place::Unverified] {
            let path = self.dir.entry_file(place, &stem, ".json");
            if let Some(bytes) = read_if_exists(&path, 2 * MAX_DOCUMENT_LEN)? {
                let followup = FollowUp::parse(&bytes).map_err(|_| missing())?;
                return Ok((followup, stem, place));
            }
        }
        Err(missing())
    }

    /// A reply in an export. The reference server never exports the
    /// inspectorate's replies (the air gap keeps its own copy of each), so
    /// one that comes in a bundle was put there by somebody else: it is kept
    /// apart, whatever its authenticator says, and never shown as ours.
    fn reply(&mut self, ctx: Ctx<'_, '_>, data: &mut dyn Read, n: u32) -> Result<()> {
        let plain = match self.document(&ctx, data) {
            Ok(plain) => plain,
            Err(Error::NotRecipient { .. }) => {
                ctx.stats.unverified += 1;
                eprintln!(
                    "wbs-inspect: WARNING: case {}: the bundle carries a reply ({n}), which \
                     exports never do, and it is not encrypted to this identity; skipped",
                    self.id()
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let reply = Reply::parse(&plain).map_err(|_| self.invalid(ctx.entry, Reply::FORMAT))?;
        let value: Value =
            serde_json::from_slice(&plain).map_err(|_| self.invalid(ctx.entry, Reply::FORMAT))?;
        let md = markdown::reply(self.id(), n, &ctx.entry.on, &reply);
        let stem = reply_stem(n, &ctx.entry.on);
        self.place(
            ctx.batch,
            &self.dir.entry_file(Place::Unverified, &stem, ".json"),
            &json::pretty_sorted(&value),
        )?;
        self.place(
            ctx.batch,
            &self.dir.entry_file(Place::Unverified, &stem, ".md"),
            md.as_bytes(),
        )?;
        ctx.stats.unverified += 1;
        self.kept_apart.insert(stem);
        eprintln!(
            "wbs-inspect: WARNING: case {}: the bundle carries a reply ({n}), which exports \
             never do: it is NOT shown as the inspectorate's; kept apart in {}",
            self.id(),
            self.dir.unverified_dir().display()
        );
        Ok(())
    }

    /// Decrypts an attachment into `dest`: truncated to its real size,
    /// checked against the SHA-256 from the authenticated report or
    /// follow-up, and only then put in place.
    fn file(
        &self,
        ctx: Ctx<'_, '_>,
        data: &mut dyn Read,
        meta: &AttachmentMeta,
        index: u32,
        dest: &Path,
        source_doc: &str,
    ) -> Result<()> {
        let id = self.id();
        let expected = parse_sha256_hex(&meta.sha256).ok_or_else(|| {
            Error::case(
                id,
                format!("the {source_doc} gives attachment {index} a malformed SHA-256"),
            )
        })?;
        let folder = dest.parent().expect("attachment paths are inside a folder");
        self.dir.ensure(folder)?;
        let (tmp, digest) = decrypt_object(ctx.keyring, id, ctx.entry, data, |plain| {
            let mut tmp = TempFile::new_for(dest)?;
            let tmp_path = tmp.path().to_path_buf();
            let digest =
                copy_exact_hashed(plain, meta.size, &mut tmp, |e| Error::write(&tmp_path, e))?;
            Ok((tmp, digest))
        })?;
        let hash_error = || Error::AttachmentHash {
            case: id.to_string(),
            object: ctx.entry.path.clone(),
            index,
            name: meta.name.clone(),
            source_doc: source_doc.to_string(),
        };
        // Shorter than announced cannot match the announced SHA-256 either.
        let digest = digest.ok_or_else(hash_error)?;
        if digest != expected {
            return Err(hash_error());
        }
        if tmp.persist_new()? == Placed::AlreadyThere {
            ctx.stats.already_there += 1;
        }
        ctx.stats.attachments += 1;
        Ok(())
    }
}

/// What the check of a follow-up found.
pub enum Check {
    /// Its authenticator verifies: the reporter's own.
    Verified,
    /// Its report predates authenticated threads: nothing can be said.
    Unauthenticated,
    /// It failed, for the reason given: kept apart.
    Failed(String),
}

/// The stems of the `.md` entries in a folder (none if there is no folder).
fn entries(dir: &Path) -> Result<std::collections::BTreeSet<String>> {
    match std::fs::read_dir(dir) {
        Ok(list) => Ok(list
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".md").map(str::to_string)
            })
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(Error::read(dir, e)),
    }
}

fn attachment_meta(
    case_id: &str,
    list: &[AttachmentMeta],
    index: u32,
    source_doc: &str,
) -> Result<AttachmentMeta> {
    index
        .checked_sub(1)
        .and_then(|i| list.get(i as usize))
        .cloned()
        .ok_or_else(|| {
            Error::case(
                case_id,
                format!(
                    "attachment {index} is not in the {source_doc}, which lists {}",
                    list.len()
                ),
            )
        })
}
