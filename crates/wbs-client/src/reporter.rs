//! The reporter's side of API v1: submitting a report, checking its status
//! and reading replies, adding follow-ups.
//!
//! Everything the reporter writes is encrypted here, before it leaves the
//! device (DESIGN.md, "What gets encrypted"). The receipt code never leaves
//! it: the server sees only the lookup key and the reply recipient derived
//! from it.

use std::borrow::Cow;
use std::fs::File;

use base64::Engine;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::{Method, StatusCode, Url};
use wbs_protocol::api::{
    ConfigResponse, FollowupMeta, FollowupReceipt, HistoryEntry, PowChallenge, PowSolution,
    StatusRequest, StatusResponse, SubmissionMeta, SubmissionReceipt, PART_ATTACHMENT,
    PART_MESSAGE, PART_META, PART_REPORT,
};
use wbs_protocol::keys::Recipient;
use wbs_protocol::message::{Document, FollowUp, Reply, Report, FOLLOWUP_FORMAT, REPORT_FORMAT};
use wbs_protocol::thread::{ThreadKey, Verification};
use wbs_protocol::{ReceiptCode, Status};

use crate::compose::{
    check_document_len, placeholder_attachments, recipients, require_message, resolve_category,
    resolve_title, FollowUpInput, SubmissionInput, WithAttachments,
};
use crate::limits::{check_attachments, check_objects};
use crate::resumable::{Pending, PendingObject};
use crate::staging::{describe_attachment, plan_attachments, StagedObject, Staging};
use crate::transport::{read_json, ClientOptions, Http};
use crate::{ClientError, PreparedAttachment, Progress};

/// Hardest proof of work the client agrees to solve (about 2^28 hashes,
/// under a minute); anything harder is a misconfigured or hostile server.
pub const MAX_POW_DIFFICULTY: u8 = 28;

/// The report's `channel` (PROTOCOL.md §4.1): the command-line client.
pub const CHANNEL: &str = "cli";

/// A stored submission.
pub struct Submitted {
    /// The receipt code: the reporter's only key to the case. It cannot be
    /// recovered by anyone if lost.
    pub code: ReceiptCode,
    /// The day the server stored the report (UTC), when known: after a
    /// broken connection the server's answer may have been lost, and the
    /// date is then asked again with a status request, which can fail.
    pub received_on: Option<String>,
}

/// A reply from the inspectorate, decrypted and checked against the case's
/// thread key (PROTOCOL.md §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedReply {
    /// The reply's identifier (the server's number for it).
    pub id: String,
    /// The day the server received it.
    pub on: String,
    /// What it holds, if it may be shown.
    pub content: ReplyContent,
}

/// What a reply holds, as far as the reporter may be shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyContent {
    /// Its authenticator checks out under the thread key derived from the
    /// receipt code: the inspectorate wrote it, unchanged.
    Verified {
        /// The text (may be empty when the reply only sets a status).
        body: String,
        /// The status it sets, if any.
        status: Option<Status>,
    },
    /// It decrypts but does not verify as the inspectorate's: anyone who
    /// knows the reply recipient (the server, a stolen desk token) could
    /// have written it. Its text is never shown.
    Withheld,
    /// A verified reply whose message id was already shown: a replayed copy.
    Duplicate,
    /// It cannot be decrypted with this receipt code (damaged, or not
    /// encrypted to it).
    Undecryptable,
}

/// Where a report stands, with its replies decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStatus {
    /// Current status, as the server shows it.
    pub status: Status,
    /// The day the report was received.
    pub received_on: String,
    /// Every status change, oldest first, as the server shows it.
    pub history: Vec<HistoryEntry>,
    /// Replies, oldest first.
    pub replies: Vec<ReceivedReply>,
    /// How many follow-ups the reporter has sent.
    pub followups: u32,
}

impl CaseStatus {
    /// Replies whose text was withheld because they did not verify.
    pub fn withheld(&self) -> usize {
        self.replies
            .iter()
            .filter(|r| r.content == ReplyContent::Withheld)
            .count()
    }

    /// Whether `status` was set by a verified reply: the inspectorate's own
    /// signed word, not only the server's. `received` needs no confirming:
    /// it is where every case starts.
    pub fn confirmed(&self, status: Status) -> bool {
        status == Status::Received
            || self.replies.iter().any(|r| {
                matches!(&r.content, ReplyContent::Verified { status: Some(s), .. } if *s == status)
            })
    }
}

/// The blocking HTTP client for API v1, reporter side.
pub struct Client {
    http: Http,
    /// Trusted inspectorate recipients; when set, the server's list must match.
    pinned: Option<Vec<String>>,
    /// Where pending resumable uploads are kept ([`crate::resumable`]).
    state_dir: Option<std::path::PathBuf>,
    /// Whether to go on with a pending upload instead of starting afresh.
    resume: bool,
}

impl Client {
    /// A client for the server at `server` (`http://` or `https://`),
    /// through `proxy` if given (only `socks5h://HOST:PORT`).
    pub fn new(server: &str, proxy: Option<&str>) -> Result<Self, ClientError> {
        Self::with_options(server, proxy, ClientOptions::default())
    }

    /// Like [`Client::new`] with explicit network settings.
    pub fn with_options(
        server: &str,
        proxy: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        Ok(Client {
            http: Http::new(server, proxy, options)?,
            pinned: None,
            state_dir: crate::resumable::default_state_dir(),
            resume: false,
        })
    }

    /// Where pending resumable uploads are kept (by default
    /// [`default_state_dir`](crate::resumable::default_state_dir)); `None`
    /// keeps them in a temporary folder, so they cannot be resumed by a
    /// later run.
    pub fn set_state_dir(&mut self, dir: Option<std::path::PathBuf>) {
        self.state_dir = dir;
    }

    /// Goes on with the pending upload of an earlier, interrupted run for
    /// this server (`wbs-report --resume`), if its attachments are the same
    /// files; otherwise starts afresh.
    pub fn set_resume(&mut self, resume: bool) {
        self.resume = resume;
    }

    /// Pins the inspectorate's recipients: from now on, submissions and
    /// follow-ups are refused unless the server lists exactly these keys (in
    /// any order). This protects a reporter who got the keys from a trusted
    /// source against a compromised server that swaps in its own.
    pub fn pin_recipients(&mut self, recipients: Vec<String>) {
        self.pinned = Some(recipients);
    }

    /// The server's recipients, checked against the pinned ones if any.
    fn checked_recipients(&self, config: &ConfigResponse) -> Result<Vec<Recipient>, ClientError> {
        let parsed = recipients(config)?;
        if let Some(pinned) = &self.pinned {
            let mut theirs: Vec<String> = parsed.iter().map(|r| r.to_string()).collect();
            let mut ours: Vec<String> = pinned.iter().map(|r| r.trim().to_string()).collect();
            theirs.sort();
            theirs.dedup();
            ours.sort();
            ours.dedup();
            if theirs != ours {
                return Err(ClientError::Protocol(
                    "the server's inspectorate keys differ from the trusted keys given with                      --recipients; nothing was encrypted or sent"
                        .into(),
                ));
            }
        }
        Ok(parsed)
    }

    /// Calls `f` for each step of long operations (for a command line to
    /// show). It is never given a secret.
    pub fn on_progress(&mut self, f: impl Fn(Progress) + Send + Sync + 'static) {
        self.http.set_progress(std::sync::Arc::new(f));
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        self.http.base()
    }

    /// `GET /api/v1/config`.
    pub fn config(&self) -> Result<ConfigResponse, ClientError> {
        let response = self
            .http
            .send_ok(&mut || Ok(self.http.request(Method::GET, "api/v1/config")))?;
        read_json(response)
    }

    /// `GET /api/v1/pow`: a fresh single-use challenge.
    pub fn pow_challenge(&self) -> Result<PowChallenge, ClientError> {
        let response = self
            .http
            .send_ok(&mut || Ok(self.http.request(Method::GET, "api/v1/pow")))?;
        read_json(response)
    }

    /// Gets and solves a challenge if `config` asks for proof of work.
    fn proof_of_work(&self, config: &ConfigResponse) -> Result<Option<PowSolution>, ClientError> {
        if config.pow.difficulty == 0 {
            return Ok(None);
        }
        let challenge = self.pow_challenge()?;
        if challenge.difficulty > MAX_POW_DIFFICULTY {
            return Err(ClientError::Protocol(format!(
                "the server asks for proof of work of difficulty {}, more than the {} this client solves",
                challenge.difficulty, MAX_POW_DIFFICULTY
            )));
        }
        self.http.progress(Progress::SolvingPow {
            difficulty: challenge.difficulty,
        });
        let nonce = wbs_protocol::pow::solve(&challenge.challenge, challenge.difficulty);
        Ok(Some(PowSolution {
            challenge: challenge.challenge,
            nonce,
        }))
    }

    /// Submits a report: encrypts it and its attachments to every recipient
    /// the server lists, and uploads them under a fresh receipt code.
    ///
    /// Sizes are checked against the server's limits before anything is
    /// uploaded. If the connection breaks, the upload is repeated once with
    /// the same receipt code and a fresh proof of work; a 409 then means the
    /// first attempt was stored. If the repeat breaks too, a status request
    /// tells whether one of them was stored. The receipt code is returned
    /// only once the server has confirmed it holds the report.
    pub fn submit(&self, input: &SubmissionInput) -> Result<Submitted, ClientError> {
        let body = require_message(&input.message)?;
        let title = resolve_title(input.title.as_deref(), body)?;
        let files = PreparedAttachment::all(&input.attachments, &input.prepared);
        let planned = plan_attachments(&files)?;
        let config = self.config()?;
        let recipients = self.checked_recipients(&config)?;
        let category = resolve_category(&config, input.category.as_deref())?;
        check_attachments(&config.limits, recipients.len(), &planned)?;

        // A post-quantum deployment gets a long code, and with it a
        // post-quantum reply key (PROTOCOL.md §2, §2.1).
        let code = ReceiptCode::generate_for(crate::compose::is_post_quantum(&recipients));
        let lookup = code.lookup_key().to_base64url();
        let reply_recipient = code.case_reply_recipient();
        let mut report = Report {
            format: REPORT_FORMAT.into(),
            category,
            title,
            body: body.to_string(),
            details: input.details.clone().filter(|d| !d.is_empty()),
            attachments: placeholder_attachments(&planned),
            reply_recipient: reply_recipient.clone(),
            thread_key: Some(code.thread_key().to_base64url().to_string()),
            // Tells the inspectorate, inside the encryption, that `wbs-report`
            // sent it (statistics per channel); nothing about the device.
            channel: Some(CHANNEL.into()),
            contact: input
                .contact
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        };
        let mut sealed = self.seal("report", &mut report, &files, &recipients, &config, None)?;
        self.upload_large(&mut sealed, &config)?;

        let mut build = || {
            let meta = SubmissionMeta {
                lookup: lookup.clone(),
                reply_recipient: reply_recipient.clone(),
                pow: self.proof_of_work(&config)?,
            };
            let form = sealed.form(json_part(&meta), PART_REPORT)?;
            self.http.progress(Progress::Uploading {
                bytes: sealed.inline_len(),
            });
            Ok(self
                .http
                .request(Method::POST, "api/v1/submissions")
                .timeout(self.http.options().upload_timeout(sealed.inline_len()))
                .multipart(form))
        };
        let sent = match self.http.send(&mut build) {
            Ok(sent) => sent,
            Err(error @ ClientError::Network(_)) => {
                // The last attempt broke too, but an upload may have been
                // stored before the connection dropped: if so the code must
                // not be lost. Otherwise the report is not there and the
                // error stands.
                return match self.status(&code) {
                    Ok(status) => {
                        sealed.confirmed();
                        Ok(Submitted {
                            code,
                            received_on: Some(status.received_on),
                        })
                    }
                    Err(_) => Err(error),
                };
            }
            Err(other) => return Err(other),
        };
        if sent.response.status() == StatusCode::CONFLICT && sent.after_transport_error {
            // The first attempt reached the server and was stored; only its
            // answer was lost. The date is asked again.
            let received_on = self.status(&code).ok().map(|s| s.received_on);
            sealed.confirmed();
            return Ok(Submitted { code, received_on });
        }
        let response = sent.success()?;
        // Stored: the pending upload, if any, has served its purpose.
        sealed.confirmed();
        let received_on = match read_json::<SubmissionReceipt>(response) {
            Ok(receipt) => Some(receipt.received_on),
            // The status said stored: an answer that broke off after it
            // does not undo that.
            Err(_) => self.status(&code).ok().map(|s| s.received_on),
        };
        Ok(Submitted { code, received_on })
    }

    /// Checks a report's status and decrypts the inspectorate's replies with
    /// the reply key derived from `code`.
    ///
    /// An unknown code is [`ClientError::UnknownReceipt`].
    pub fn status(&self, code: &ReceiptCode) -> Result<CaseStatus, ClientError> {
        let request = StatusRequest {
            lookup: code.lookup_key().to_base64url(),
        };
        let sent = self.http.send(&mut || {
            Ok(self
                .http
                .request(Method::POST, "api/v1/status")
                .json(&request))
        })?;
        if sent.response.status() == StatusCode::NOT_FOUND {
            return Err(ClientError::UnknownReceipt);
        }
        let answer: StatusResponse = read_json(sent.success()?)?;
        let identity = code.case_reply_identity();
        let thread = code.thread_key();
        let case = code.case_reply_recipient();
        let mut seen = std::collections::HashSet::new();
        let replies = answer
            .replies
            .into_iter()
            .map(|item| {
                let reply = base64::engine::general_purpose::STANDARD
                    .decode(item.age.trim())
                    .ok()
                    .and_then(|bytes| Reply::open(&identity, &bytes).ok());
                let content = match reply {
                    None => ReplyContent::Undecryptable,
                    Some(reply) => check_reply(&thread, &case, reply, &mut seen),
                };
                ReceivedReply {
                    id: item.id,
                    on: item.on,
                    content,
                }
            })
            .collect();
        Ok(CaseStatus {
            status: answer.status,
            received_on: answer.received_on,
            history: answer.history,
            replies,
            followups: answer.followups,
        })
    }

    /// Adds a follow-up message, with attachments, to the report of `code`.
    /// Returns the day it was stored, if the server's answer arrived whole.
    ///
    /// A broken upload is repeated only if the connection could not even be
    /// opened: the server cannot tell a repeated follow-up from a new one.
    pub fn follow_up(
        &self,
        code: &ReceiptCode,
        input: &FollowUpInput,
    ) -> Result<Option<String>, ClientError> {
        let body = require_message(&input.message)?;
        let files = PreparedAttachment::all(&input.attachments, &input.prepared);
        let planned = plan_attachments(&files)?;
        let config = self.config()?;
        let recipients = self.checked_recipients(&config)?;
        check_attachments(&config.limits, recipients.len(), &planned)?;

        let lookup = code.lookup_key().to_base64url();
        // Authenticated in `seal`, once the attachments' digests are known.
        let mut followup = FollowUp {
            format: FOLLOWUP_FORMAT.into(),
            id: Some(wbs_protocol::thread::new_message_id()),
            body: body.to_string(),
            attachments: placeholder_attachments(&planned),
            // A stand-in of the right length, for the size checks.
            auth: Some("A".repeat(43)),
        };
        let mut sealed = self.seal(
            "follow-up",
            &mut followup,
            &files,
            &recipients,
            &config,
            Some((&code.thread_key(), &code.case_reply_recipient())),
        )?;
        self.upload_large(&mut sealed, &config)?;

        let mut build = || {
            let meta = FollowupMeta {
                lookup: lookup.clone(),
                pow: self.proof_of_work(&config)?,
            };
            let form = sealed.form(json_part(&meta), PART_MESSAGE)?;
            self.http.progress(Progress::Uploading {
                bytes: sealed.inline_len(),
            });
            Ok(self
                .http
                .request(Method::POST, "api/v1/followups")
                .timeout(self.http.options().upload_timeout(sealed.inline_len()))
                .multipart(form))
        };
        let sent = self.http.send(&mut build)?;
        if sent.response.status() == StatusCode::NOT_FOUND {
            // A 404 for an upload named in it (expired meanwhile) is not
            // an unknown receipt: its code says which.
            let err = crate::transport::error_from_response(sent.response);
            return Err(match &err {
                ClientError::Http { code, .. } if code == "upload_not_found" => err,
                _ => ClientError::UnknownReceipt,
            });
        }
        let response = sent.success()?;
        sealed.confirmed();
        // The status said stored: an answer that broke off after it does
        // not undo that, only the date is then unknown.
        Ok(read_json::<FollowupReceipt>(response)
            .ok()
            .map(|receipt| receipt.received_on))
    }

    /// Encrypts the attachments at `paths` into a private staging folder,
    /// completes the document's attachment list with their real digests,
    /// and seals the document: everything an upload needs, checked against
    /// the server's limits.
    fn seal<D: WithAttachments>(
        &self,
        what: &str,
        document: &mut D,
        files: &[Cow<'_, PreparedAttachment>],
        recipients: &[Recipient],
        config: &ConfigResponse,
        thread: Option<(&ThreadKey, &str)>,
    ) -> Result<Sealed, ClientError> {
        // Before encrypting large files: is the text itself short enough for
        // the inspectorate's tool to open? (The list holds placeholders.)
        check_document_len(what, document)?;
        let threshold = self.http.options().resumable_threshold;
        let planned = plan_attachments(files)?;
        let resumable: Vec<bool> = planned.iter().map(|p| p.size > threshold).collect();
        let server = self.http.base().as_str().to_string();
        // Large attachments are encrypted once into a pending folder that
        // survives this run (`--resume`); otherwise into a temporary one.
        let root = self
            .state_dir
            .clone()
            .filter(|_| resumable.iter().any(|r| *r));
        let mut pending = None;
        let mut staged = Vec::with_capacity(files.len());
        let mut temp = None;
        document.attachments_mut().clear();
        if let (Some(root), true) = (&root, self.resume) {
            if let Some(p) = Pending::load(root, what, &server)? {
                let metas = resumed_metas(&p, files)?;
                for (i, meta) in metas.into_iter().enumerate() {
                    document.attachments_mut().push(meta);
                    staged.push(StagedObject {
                        path: p.object_path(i),
                        len: p.state.attachments[i].len,
                    });
                }
                pending = Some(p);
            }
        }
        if pending.is_none() {
            let mut p = match &root {
                Some(root) => Some(Pending::create(root, what, &server)?),
                None => None,
            };
            let mut staging = match &p {
                Some(p) => Staging::in_dir(&p.dir),
                None => Staging::new()?,
            };
            for file in files {
                self.http.progress(Progress::Encrypting {
                    name: file.report_name()?,
                });
                let (meta, object) = staging.encrypt_attachment(recipients, file)?;
                if let Some(p) = &mut p {
                    p.state.attachments.push(PendingObject {
                        object: object
                            .path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        len: object.len,
                        check: crate::resumable::check_of(&p.state.salt, &meta),
                        upload: None,
                    });
                }
                document.attachments_mut().push(meta);
                staged.push(object);
            }
            if let Some(p) = &p {
                p.save()?;
            }
            pending = p;
            temp = Some(staging);
        }
        if let Some((key, case)) = thread {
            document.authenticate(key, case);
        }
        check_document_len(what, document)?;
        let sealed = document
            .seal(recipients)
            .map_err(|e| ClientError::Crypto(format!("cannot encrypt the {what}: {e}")))?;

        let mut objects = vec![(format!("the {what}"), sealed.len() as u64)];
        objects.extend(
            document
                .attachments_mut()
                .iter()
                .zip(&staged)
                .map(|(m, o)| (format!("attachment {:?}", m.name), o.len)),
        );
        // Generously: the lookup, the reply recipient and a solved challenge.
        const META_LEN: u64 = 1024;
        check_objects(&config.limits, &objects, META_LEN)?;
        let uploads = match &pending {
            Some(p) => p
                .state
                .attachments
                .iter()
                .map(|a| a.upload.clone())
                .collect(),
            None => vec![None; staged.len()],
        };
        Ok(Sealed {
            len: objects.iter().map(|(_, len)| len).sum(),
            document: sealed,
            attachments: staged,
            resumable,
            uploads,
            pending,
            _staging: temp,
        })
    }

    /// Sends the large attachments of `sealed` through resumable uploads
    /// (PROTOCOL.md §7.4), each resumed after every break; the submission
    /// then names them. An older server without resumable uploads gets
    /// them inline, as before.
    fn upload_large(
        &self,
        sealed: &mut Sealed,
        config: &ConfigResponse,
    ) -> Result<(), ClientError> {
        for i in 0..sealed.attachments.len() {
            if !sealed.resumable[i] {
                continue;
            }
            let len = sealed.attachments[i].len;
            let path = sealed.attachments[i].path.clone();
            let mut reopened = 0;
            loop {
                let id = match sealed.uploads[i].clone() {
                    Some(id) => id,
                    None => {
                        let opened = crate::resumable::open_upload(&self.http, len, &mut || {
                            self.proof_of_work(config)
                        })?;
                        let Some(id) = opened else {
                            // No resumable uploads on this server, or no
                            // room for one now: this one goes inline.
                            sealed.resumable[i] = false;
                            break;
                        };
                        sealed.set_upload(i, Some(id.clone()))?;
                        id
                    }
                };
                if crate::resumable::send_object(&self.http, &id, &path, len)? {
                    break;
                }
                // Expired, or the server restarted: the upload starts over.
                sealed.set_upload(i, None)?;
                reopened += 1;
                if reopened > 3 {
                    return Err(ClientError::Protocol(
                        "the server keeps losing the upload; try again later".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The descriptions of the attachments of a pending upload, made again
/// from the files given now, which must be the ones it was made from.
fn resumed_metas(
    p: &Pending,
    files: &[Cow<'_, PreparedAttachment>],
) -> Result<Vec<wbs_protocol::message::AttachmentMeta>, ClientError> {
    let differ = || {
        ClientError::Input(
            "the attachments are not the files of the interrupted upload; \
             run without --resume to start afresh"
                .into(),
        )
    };
    if p.state.attachments.len() != files.len() {
        return Err(differ());
    }
    let mut metas = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let meta = describe_attachment(file)?;
        let saved = &p.state.attachments[i];
        if crate::resumable::check_of(&p.state.salt, &meta) != saved.check {
            return Err(differ());
        }
        let on_disk = std::fs::metadata(p.object_path(i)).map(|m| m.len()).ok();
        if on_disk != Some(saved.len) {
            return Err(ClientError::Input(
                "the pending upload's files are damaged; run without --resume to start afresh"
                    .into(),
            ));
        }
        metas.push(meta);
    }
    Ok(metas)
}

/// An encrypted document and its encrypted attachments, ready to upload
/// (as many times as needed).
struct Sealed {
    document: Vec<u8>,
    attachments: Vec<StagedObject>,
    /// Bytes of encrypted objects.
    len: u64,
    /// Which attachments go through resumable uploads.
    resumable: Vec<bool>,
    /// Their upload ids, once opened.
    uploads: Vec<Option<String>>,
    /// The pending folder that keeps them for `--resume`.
    pending: Option<Pending>,
    /// Holds a temporary staging folder until the upload is over.
    _staging: Option<Staging>,
}

impl Sealed {
    /// The multipart body: `meta`, the document as part `document_part`,
    /// then the attachments in order, streamed from their staged files.
    /// Part file names are generic: the real names are inside the
    /// encrypted document.
    fn form(&self, meta: Part, document_part: &'static str) -> Result<Form, ClientError> {
        let document = Part::bytes(self.document.clone())
            .file_name(format!("{document_part}.age"))
            .mime_str("application/octet-stream")
            .expect("valid media type");
        let mut form = Form::new()
            .part(PART_META, meta)
            .part(document_part, document);
        for (i, object) in self.attachments.iter().enumerate() {
            if let (true, Some(id)) = (self.resumable[i], &self.uploads[i]) {
                // A finished resumable upload, named by its id.
                form = form.part(PART_ATTACHMENT_UPLOAD, Part::text(id.clone()));
                continue;
            }
            let file = File::open(&object.path)
                .map_err(|e| ClientError::io("cannot read the temporary folder", e))?;
            let part = Part::reader_with_length(file, object.len)
                .file_name(format!("attachment-{}.age", i + 1))
                .mime_str("application/octet-stream")
                .expect("valid media type");
            form = form.part(PART_ATTACHMENT, part);
        }
        Ok(form)
    }
}

/// The part naming a finished resumable upload (PROTOCOL.md §7.4).
const PART_ATTACHMENT_UPLOAD: &str = "attachment_upload";

impl Sealed {
    /// Bytes sent inline in the submission itself.
    fn inline_len(&self) -> u64 {
        let uploaded: u64 = self
            .attachments
            .iter()
            .enumerate()
            .filter(|(i, _)| self.resumable[*i] && self.uploads[*i].is_some())
            .map(|(_, o)| o.len)
            .sum();
        self.len - uploaded
    }

    /// Records attachment `i`'s upload id, in the pending state too.
    fn set_upload(&mut self, i: usize, id: Option<String>) -> Result<(), ClientError> {
        self.uploads[i] = id.clone();
        if let Some(p) = &mut self.pending {
            p.state.attachments[i].upload = id;
            p.save()?;
        }
        Ok(())
    }

    /// The server confirmed: the pending folder goes, objects and state.
    fn confirmed(&mut self) {
        if let Some(p) = self.pending.take() {
            // A folder that cannot be removed now holds only objects
            // encrypted to the inspectorate; the next run replaces it.
            let _ = p.remove();
        }
    }
}

fn json_part<T: serde::Serialize>(value: &T) -> Part {
    Part::bytes(serde_json::to_vec(value).expect("meta serializes"))
        .mime_str("application/json")
        .expect("valid media type")
}

/// Checks a decrypted reply against the case's thread key; a verified
/// message id is shown once.
fn check_reply(
    thread: &ThreadKey,
    case: &str,
    reply: Reply,
    seen: &mut std::collections::HashSet<String>,
) -> ReplyContent {
    if thread.verify_reply(case, &reply) != Verification::Verified {
        return ReplyContent::Withheld;
    }
    // A status this client does not know cannot be confirmed, and a reply
    // naming one is not the inspectorate's tool at work.
    let status = match reply.status.as_deref() {
        None => None,
        Some(s) => match s.parse::<Status>() {
            Ok(status) => Some(status),
            Err(_) => return ReplyContent::Withheld,
        },
    };
    let id = reply.id.clone().unwrap_or_default();
    if !seen.insert(id) {
        return ReplyContent::Duplicate;
    }
    ReplyContent::Verified {
        body: reply.body,
        status,
    }
}

#[cfg(test)]
mod thread_tests {
    use super::*;
    use std::collections::HashSet;
    use wbs_protocol::message::REPLY_FORMAT;

    fn new_case() -> (ReceiptCode, ThreadKey, String) {
        let code = ReceiptCode::generate();
        let key = code.thread_key();
        let case = code.reply_recipient().to_string();
        (code, key, case)
    }

    #[test]
    fn only_a_verified_reply_is_shown_and_once() {
        let (_code, key, case) = new_case();
        let mut seen = HashSet::new();
        let genuine =
            Reply::authenticated(&key, &case, "Terima kasih".into(), Some("in_review".into()));
        assert_eq!(
            check_reply(&key, &case, genuine.clone(), &mut seen),
            ReplyContent::Verified {
                body: "Terima kasih".into(),
                status: Some(Status::InReview)
            }
        );
        // The server shows the same verified reply again.
        assert_eq!(
            check_reply(&key, &case, genuine, &mut seen),
            ReplyContent::Duplicate
        );

        // Encrypted by anyone to the reply recipient: no authenticator.
        let forged = Reply {
            format: REPLY_FORMAT.into(),
            id: None,
            body: "Sebutkan nama Anda".into(),
            status: None,
            auth: None,
        };
        assert_eq!(
            check_reply(&key, &case, forged, &mut seen),
            ReplyContent::Withheld
        );

        // Made for another case.
        let (_, other_key, other_case) = new_case();
        let elsewhere = Reply::authenticated(&other_key, &other_case, "x".into(), None);
        assert_eq!(
            check_reply(&key, &case, elsewhere, &mut seen),
            ReplyContent::Withheld
        );
    }

    #[test]
    fn statuses_are_confirmed_only_by_verified_replies() {
        let status = |content| CaseStatus {
            status: Status::ClosedUnsubstantiated,
            received_on: "2026-11-30".into(),
            history: vec![],
            replies: vec![ReceivedReply {
                id: "1".into(),
                on: "2026-11-30".into(),
                content,
            }],
            followups: 0,
        };
        let verified = status(ReplyContent::Verified {
            body: String::new(),
            status: Some(Status::InReview),
        });
        assert!(verified.confirmed(Status::InReview));
        assert!(!verified.confirmed(Status::ClosedUnsubstantiated));
        assert!(verified.confirmed(Status::Received));
        assert_eq!(verified.withheld(), 0);
        let withheld = status(ReplyContent::Withheld);
        assert!(!withheld.confirmed(Status::InReview));
        assert_eq!(withheld.withheld(), 1);
    }
}
