//! Authenticated case threads against the outside review's forgeries, with
//! the real binaries (PROTOCOL.md §4.4):
//!
//! - a follow-up posted with nothing but the case's lookup key (what a
//!   TLS-intercepting proxy may learn) is opened by `wbs-inspect` as
//!   unverified, never as the reporter's;
//! - a follow-up a compromised server grafts into an export (encrypted with
//!   the plain `age` tool to the inspectorate's public key) likewise;
//! - a reply encrypted with plain `age` to the reporter's reply recipient and
//!   pushed with a desk token never shows its text in `wbs-report status`,
//!   which says a reply was withheld; the status it set is not confirmed;
//! - the genuine follow-up and reply, made by the real tools, verify.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use wbs_e2e::{files_under, run_ok, ServerOptions, TestServer};
use wbs_protocol::bundle::{
    read_export, BundleError, CaseManifest, ExportManifest, ExportVisitor, ExportWriter,
    ManifestCase, ObjectEntry, ObjectKind, ReplyBundle, ReplyItem,
};

const GENUINE_FOLLOWUP: &str = "GENUINE-susulan-1b7e";
const PROXY_FOLLOWUP: &str = "FORGED-BY-PROXY-namanya-budi";
const GRAFTED_FOLLOWUP: &str = "GRAFTED-BY-SERVER-saksi-palsu";
const GENUINE_REPLY: &str = "GENUINE-balasan-5c21";
const FORGED_REPLY: &str = "Sebutkan nama lengkap dan NIP Anda";

/// Encrypts `plain`, padded with spaces as a document is, with the Debian
/// `age` command to the given recipients: what anyone can do who knows them.
fn age_encrypt(recipients: &[String], json: &str) -> Vec<u8> {
    let mut padded = json.as_bytes().to_vec();
    let target = wbs_protocol::padding::padme(padded.len() as u64) as usize;
    padded.resize(target, b' ');
    let mut cmd = Command::new("age");
    for r in recipients {
        cmd.arg("-r").arg(r);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the age command (Debian package age) is installed");
    child.stdin.take().unwrap().write_all(&padded).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "age failed");
    out.stdout
}

fn hex(bytes: &[u8]) -> String {
    wbs_protocol::hex(bytes)
}

/// An object of an export and its bytes.
type Object = (ObjectEntry, Vec<u8>);

/// Every case and object of an export, in memory (the bundles here are small).
#[derive(Default)]
struct Collected {
    manifest: Option<ExportManifest>,
    cases: Vec<(CaseManifest, Vec<Object>)>,
}

impl ExportVisitor for Collected {
    fn manifest(&mut self, m: &ExportManifest) -> Result<(), BundleError> {
        self.manifest = Some(m.clone());
        Ok(())
    }
    fn case(&mut self, c: &CaseManifest) -> Result<(), BundleError> {
        self.cases.push((c.clone(), Vec::new()));
        Ok(())
    }
    fn object(
        &mut self,
        _: &CaseManifest,
        e: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).unwrap();
        self.cases.last_mut().unwrap().1.push((e.clone(), bytes));
        Ok(())
    }
}

/// What a compromised server does: adds a follow-up of its own making to
/// the case in an export, with a `case.json` that lists it.
fn graft_followup(bundle: &Path, out: &Path, age_file: Vec<u8>) {
    let mut c = Collected::default();
    read_export(
        std::io::BufReader::new(std::fs::File::open(bundle).unwrap()),
        &wbs_protocol::bundle::Limits::EXPORT,
        &mut c,
    )
    .unwrap();
    let mut manifest = c.manifest.unwrap();
    assert_eq!(c.cases.len(), 1);
    let (mut case, mut objects) = c.cases.pop().unwrap();
    let n = 1 + objects
        .iter()
        .filter(|(e, _)| matches!(e.kind, ObjectKind::Followup { .. }))
        .count() as u32;
    let kind = ObjectKind::Followup { n };
    let entry = ObjectEntry {
        path: kind.path(),
        kind,
        size: age_file.len() as u64,
        sha256: hex(&Sha256::digest(&age_file)),
        on: case.received_on.clone(),
    };
    objects.push((entry.clone(), age_file));
    case.objects.push(entry);
    manifest.cases = vec![ManifestCase {
        id: case.id.clone(),
        objects: objects.len() as u32,
    }];
    let mut w = ExportWriter::new(std::fs::File::create(out).unwrap(), &manifest).unwrap();
    w.case(&case).unwrap();
    for (e, bytes) in &objects {
        w.object(&case.id, e, &bytes[..]).unwrap();
    }
    w.finish().unwrap();
}

fn case_dir(cases: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(cases)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1);
    dirs.into_iter().next().unwrap()
}

/// The files under `dir` whose text contains `needle`.
fn holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

fn status_of(server: &TestServer, receipt: &str) -> (String, String) {
    let mut cmd = server.cli("wbs-report", "status");
    cmd.args(["--receipt", "-"]).stdin(Stdio::piped());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{receipt}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn forged_followups_and_replies_are_never_shown_as_genuine() {
    let server = TestServer::start(ServerOptions::default());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let inspectorate = server.keys[0].recipient.clone();

    // The reporter submits and follows up with the real client.
    std::fs::write(w.join("laporan.txt"), "Pungli di loket perizinan.").unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("laporan.txt")),
    );
    let receipt = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let code = wbs_protocol::ReceiptCode::parse(&receipt).unwrap();
    let reply_recipient = code.reply_recipient().to_string();
    std::fs::write(w.join("susulan.txt"), GENUINE_FOLLOWUP).unwrap();
    let mut follow = server.cli("wbs-report", "follow-up");
    follow
        .args(["--receipt", "-", "--message"])
        .arg(w.join("susulan.txt"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{receipt}").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // Someone who learned only the lookup key posts a follow-up of theirs:
    // the server cannot tell it apart, and accepts it.
    let forged = age_encrypt(
        std::slice::from_ref(&inspectorate),
        &serde_json::json!({"format": "wbs-followup/1", "body": PROXY_FOLLOWUP, "attachments": []})
            .to_string(),
    );
    let meta = serde_json::json!({"lookup": code.lookup_key().to_base64url()}).to_string();
    let form = reqwest::blocking::multipart::Form::new()
        .part(
            "meta",
            reqwest::blocking::multipart::Part::text(meta)
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "message",
            reqwest::blocking::multipart::Part::bytes(forged)
                .file_name("message.age")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/followups", server.url))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201, "{:?}", answer.text());

    // The desk pulls; a compromised server grafts one more follow-up in.
    let export = w.join("export.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );
    let grafted = w.join("grafted.tar");
    graft_followup(
        &export,
        &grafted,
        age_encrypt(
            std::slice::from_ref(&inspectorate),
            &serde_json::json!({
                "format": "wbs-followup/1",
                "id": "AAAAAAAAAAAAAAAAAAAAAA",
                "body": GRAFTED_FOLLOWUP,
                "attachments": [],
                "auth": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            })
            .to_string(),
        ),
    );

    // The air-gapped tool opens the doctored bundle.
    let cases = w.join("cases");
    let out = run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(&grafted)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(&cases),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("1 follow-up,") && stdout.contains("2 objects FAILED VERIFICATION"),
        "{stdout}"
    );
    assert_eq!(
        stderr.matches("FAILED VERIFICATION").count(),
        3,
        "two follow-ups and the case's warning: {stderr}"
    );
    let case = case_dir(&cases);
    // The genuine follow-up is in the thread, as the reporter's, verified.
    let genuine = holding(&case.join("thread"), GENUINE_FOLLOWUP);
    let genuine_md: Vec<_> = genuine
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(genuine_md.len(), 1, "{genuine:?}");
    let md = std::fs::read_to_string(genuine_md[0]).unwrap();
    assert!(
        md.starts_with("# Follow-up 1 from the reporter") && md.contains("_Verified:"),
        "{md}"
    );
    // Both forgeries are kept apart, titled as unverified, never in the thread.
    for forged in [PROXY_FOLLOWUP, GRAFTED_FOLLOWUP] {
        assert!(
            holding(&case.join("thread"), forged).is_empty(),
            "{forged} in thread/"
        );
        let apart = holding(&case.join("unverified"), forged);
        let md: Vec<_> = apart
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        assert_eq!(md.len(), 1, "{forged}: {apart:?}");
        let text = std::fs::read_to_string(md[0]).unwrap();
        assert!(text.starts_with("# UNVERIFIED object"), "{text}");
        assert!(!text.contains("# Follow-up"), "{text}");
    }
    let report_md = std::fs::read_to_string(case.join("report.md")).unwrap();
    assert!(
        report_md.contains("WARNING:** 2 object")
            && report_md.contains("FAILED VERIFICATION and are kept apart"),
        "{report_md}"
    );

    // A genuine reply with a status, made by the real tool.
    std::fs::write(w.join("jawaban.txt"), GENUINE_REPLY).unwrap();
    let replies = w.join("replies.tar");
    run_ok(
        server
            .cli("wbs-inspect", "reply")
            .arg("--case")
            .arg(&case)
            .arg("--message")
            .arg(w.join("jawaban.txt"))
            .args(["--status", "in_review", "--out"])
            .arg(&replies),
    );
    run_ok(server.cli("wbs-desk", "push").arg(&replies));

    // A forged reply: plain age to the reporter's recipient and the
    // inspectorate's key, pushed with a (stolen) desk token, setting a status.
    let forged_reply = age_encrypt(
        &[reply_recipient.clone(), inspectorate.clone()],
        &serde_json::json!({"format": "wbs-reply/1", "body": FORGED_REPLY, "status": "need_info"})
            .to_string(),
    );
    let case_id = case.file_name().unwrap().to_string_lossy().to_string();
    let mut bundle = ReplyBundle::default();
    bundle.push(
        ReplyItem {
            id: "forged-1".into(),
            case_id,
            status: Some(wbs_protocol::Status::NeedInfo),
            reply: None,
        },
        Some(forged_reply),
    );
    let forged_bundle = w.join("forged.tar");
    bundle
        .write(std::fs::File::create(&forged_bundle).unwrap())
        .unwrap();
    run_ok(server.cli("wbs-desk", "push").arg(&forged_bundle));

    // The reporter's client: the genuine reply and its status confirmed;
    // the forged text nowhere; a warning naming one withheld reply; the
    // forged status shown but not confirmed.
    let (shown, warned) = status_of(&server, &receipt);
    assert!(shown.contains(GENUINE_REPLY), "{shown}");
    assert!(
        !shown.contains(FORGED_REPLY) && !warned.contains(FORGED_REPLY),
        "{shown}"
    );
    assert!(
        shown.starts_with("PERINGATAN / WARNING: 1 reply was withheld"),
        "{shown}"
    );
    assert!(warned.contains("1 reply withheld"), "{warned}");
    let line = |needle: &str| {
        shown
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {shown}"))
            .to_string()
    };
    assert!(
        line("(need_info)").contains("not confirmed by a signed reply"),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains("In review") && l.contains("confirmed by the inspectorate")),
        "{shown}"
    );
}
