//! Helpers for the integration tests: run the real binary, and build real
//! export bundles (wbs-protocol's ExportWriter, objects really encrypted
//! with wbs-protocol to freshly generated keys).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use age::x25519;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use wbs_protocol::api::HistoryEntry;
use wbs_protocol::bundle::{
    CaseManifest, ExportManifest, ExportWriter, ManifestCase, ObjectEntry, ObjectKind,
    EXPORT_FORMAT,
};
use wbs_protocol::envelope::encrypt_padded;
use wbs_protocol::message::{
    AttachmentMeta, Details, Document, FollowUp, Reply, Report, FOLLOWUP_FORMAT, REPLY_FORMAT,
    REPORT_FORMAT,
};
use wbs_protocol::padding::FILE_PAD;
use wbs_protocol::{hex, Status};

/// The result of one run of the binary.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn success(&self) -> &str {
        assert!(
            self.ok,
            "wbs-inspect failed ({:?}):\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts failure with exactly one `wbs-inspect: ` line on stderr and
    /// returns it.
    #[track_caller]
    pub fn failure(&self) -> &str {
        assert!(
            !self.ok,
            "wbs-inspect should have failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got {:?}",
            self.stderr
        );
        assert!(lines[0].starts_with("wbs-inspect: "), "{:?}", lines[0]);
        lines[0]
    }
}

fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wbs-inspect"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Runs `wbs-inspect ARGS` with no standard input (and so no terminal).
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Run::from(command(args).output().expect("run wbs-inspect"))
}

/// Runs `wbs-inspect ARGS` in a new session, so it has no controlling
/// terminal to prompt on even when the tests run in one (they would hang).
pub fn run_without_terminal<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_wbs-inspect"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run setsid (util-linux) wbs-inspect");
    Run::from(out)
}

/// Runs `wbs-inspect ARGS` with `input` on standard input.
pub fn run_with_stdin<I, S>(args: I, input: &[u8]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wbs-inspect");
    child.stdin.take().unwrap().write_all(input).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

/// Writes `identity` as a plain identity file, as age-keygen would.
pub fn write_identity(dir: &Path, name: &str, identity: &x25519::Identity) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "# created: 2026-11-27T00:00:00Z\n# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        ),
    )
    .unwrap();
    path
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// An attachment as the reporter's device describes it.
pub fn meta(name: &str, bytes: &[u8]) -> AttachmentMeta {
    AttachmentMeta {
        name: name.into(),
        media_type: "application/octet-stream".into(),
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        metadata: None,
    }
}

/// Bytes that are not text: every byte value, several age chunks long.
pub fn binary(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

pub fn report(title: &str, reply_recipient: &str, attachments: Vec<AttachmentMeta>) -> Report {
    Report {
        format: REPORT_FORMAT.into(),
        category: "procurement".into(),
        title: title.into(),
        body: format!("Body of {title}.\nHarga dinaikkan 300%."),
        details: Some(Details {
            who: Some("Kepala bagian pengadaan".into()),
            r#where: Some("Dinas PU".into()),
            ..Default::default()
        }),
        attachments,
        reply_recipient: reply_recipient.into(),
        contact: None,
        thread_key: None,
        channel: None,
    }
}

pub fn followup(body: &str, attachments: Vec<AttachmentMeta>) -> FollowUp {
    FollowUp {
        format: FOLLOWUP_FORMAT.into(),
        id: None,
        body: body.into(),
        attachments,
        auth: None,
    }
}

pub fn reply(body: &str) -> Reply {
    Reply {
        format: REPLY_FORMAT.into(),
        id: None,
        body: body.into(),
        status: None,
        auth: None,
    }
}

/// An attachment's age file, padded as the reporter's device does it.
pub fn encrypt_file<K: age::Recipient>(recipients: &[K], bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encrypt_padded(recipients, bytes, FILE_PAD, &mut out).unwrap();
    out
}

/// One object to put in a bundle.
#[derive(Clone)]
pub struct Obj {
    pub kind: ObjectKind,
    pub bytes: Vec<u8>,
    /// A SHA-256 to put in case.json instead of the real one.
    pub claimed_sha256: Option<String>,
    pub on: String,
}

impl Obj {
    pub fn new(kind: ObjectKind, bytes: Vec<u8>) -> Self {
        Obj {
            kind,
            bytes,
            claimed_sha256: None,
            on: "2026-11-27".into(),
        }
    }

    pub fn on(mut self, day: &str) -> Self {
        self.on = day.into();
        self
    }

    fn entry(&self) -> ObjectEntry {
        ObjectEntry {
            path: self.kind.path(),
            kind: self.kind,
            size: self.bytes.len() as u64,
            sha256: self
                .claimed_sha256
                .clone()
                .unwrap_or_else(|| sha256_hex(&self.bytes)),
            on: self.on.clone(),
        }
    }
}

/// The encrypted report and its attachments.
pub fn report_objects<K: age::Recipient>(to: &[K], report: &Report, files: &[Vec<u8>]) -> Vec<Obj> {
    let mut objs = vec![Obj::new(ObjectKind::Report, report.seal(to).unwrap())];
    for (i, f) in files.iter().enumerate() {
        objs.push(Obj::new(
            ObjectKind::Attachment {
                index: i as u32 + 1,
            },
            encrypt_file(to, f),
        ));
    }
    objs
}

/// An encrypted follow-up and its attachments.
pub fn followup_objects<K: age::Recipient>(
    to: &[K],
    n: u32,
    followup: &FollowUp,
    files: &[Vec<u8>],
    on: &str,
) -> Vec<Obj> {
    let mut objs = vec![Obj::new(ObjectKind::Followup { n }, followup.seal(to).unwrap()).on(on)];
    for (i, f) in files.iter().enumerate() {
        objs.push(
            Obj::new(
                ObjectKind::FollowupAttachment {
                    n,
                    index: i as u32 + 1,
                },
                encrypt_file(to, f),
            )
            .on(on),
        );
    }
    objs
}

/// A case as the server exports it.
#[derive(Clone)]
pub struct CaseBuild {
    pub id: String,
    pub status: Status,
    pub history: Vec<Status>,
    /// The day the server's case.json says the report came (and every
    /// status changed).
    pub received_on: String,
    /// What the server's case.json says the reply recipient is.
    pub server_reply_recipient: String,
    pub objects: Vec<Obj>,
}

impl CaseBuild {
    pub fn new(id: &str, server_reply_recipient: &str, objects: Vec<Obj>) -> Self {
        CaseBuild {
            id: id.into(),
            status: Status::Received,
            history: vec![Status::Received],
            received_on: "2026-11-27".into(),
            server_reply_recipient: server_reply_recipient.into(),
            objects,
        }
    }

    pub fn with_history(mut self, history: &[Status]) -> Self {
        self.history = history.to_vec();
        self.status = *history.last().unwrap();
        self
    }

    fn manifest(&self) -> CaseManifest {
        CaseManifest {
            id: self.id.clone(),
            received_on: self.received_on.clone(),
            status: self.status,
            history: self
                .history
                .iter()
                .map(|s| HistoryEntry {
                    status: *s,
                    on: self.received_on.clone(),
                })
                .collect(),
            reply_recipient: self.server_reply_recipient.clone(),
            objects: self.objects.iter().map(Obj::entry).collect(),
        }
    }
}

/// Writes an export bundle. `export_recipients` is the list the server
/// claims in export.json (the tool must ignore it).
pub fn bundle(cases: &[CaseBuild], export_recipients: &[String]) -> Vec<u8> {
    let manifest = ExportManifest {
        format: EXPORT_FORMAT.into(),
        since: "0".into(),
        cursor: "42".into(),
        organization: "Inspektorat Daerah".into(),
        recipients: export_recipients.to_vec(),
        cases: cases
            .iter()
            .map(|c| ManifestCase {
                id: c.id.clone(),
                objects: c.objects.len() as u32,
            })
            .collect(),
    };
    let mut w = ExportWriter::new(Vec::new(), &manifest).unwrap();
    for c in cases {
        w.case(&c.manifest()).unwrap();
        for o in &c.objects {
            w.object(&c.id, &o.entry(), &o.bytes[..]).unwrap();
        }
    }
    w.finish().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every file under `root`, relative, sorted, with its bytes.
pub fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Every path (files and folders) under `root`, relative, sorted.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
                out.push(format!("{rel}/"));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}
