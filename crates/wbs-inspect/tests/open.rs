//! `wbs-inspect open` on real bundles: what it writes, and that doing it
//! again, or with later bundles of the same cases, is harmless.

mod common;

use std::fs;
use std::path::Path;

use age::x25519;
use common::*;
use wbs_protocol::bundle::{CaseManifest, ObjectKind};
use wbs_protocol::message::{Document, Report};
use wbs_protocol::{ReceiptCode, Status};

struct World {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    inspectorate: x25519::Identity,
    colleague: x25519::Identity,
    key_file: std::path::PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let inspectorate = x25519::Identity::generate();
        let key_file = write_identity(&root, "inspektorat.key", &inspectorate);
        World {
            _tmp: tmp,
            root,
            inspectorate,
            colleague: x25519::Identity::generate(),
            key_file,
        }
    }

    /// Every report is encrypted to all configured inspectorate recipients.
    fn to(&self) -> Vec<x25519::Recipient> {
        vec![self.colleague.to_public(), self.inspectorate.to_public()]
    }

    fn out(&self) -> std::path::PathBuf {
        self.root.join("out")
    }

    fn open(&self, bundle: &[u8], name: &str) -> Run {
        let path = write(&self.root, name, bundle);
        run([
            "open".as_ref(),
            path.as_os_str(),
            "--identity".as_ref(),
            self.key_file.as_os_str(),
            "--out".as_ref(),
            self.out().as_os_str(),
        ])
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn opens_several_cases_with_attachments_followups_and_replies() {
    let w = World::new();
    let to = w.to();
    let receipt_a = ReceiptCode::generate();
    let receipt_b = ReceiptCode::generate();
    let reporter_a = receipt_a.reply_recipient().to_string();
    let reporter_b = receipt_b.reply_recipient().to_string();

    // Case A: a report with two binary attachments (one spans several age
    // chunks), a follow-up with an attachment, and a reply.
    let evidence = binary(200_000, 7);
    let photo = binary(1000, 99);
    let scan = binary(70_001, 3);
    let report_a = report(
        "Mark-up pengadaan",
        &reporter_a,
        vec![meta("evidence.bin", &evidence), meta("foto.jpg", &photo)],
    );
    let fu = followup("Ada bukti tambahan.", vec![meta("scan.pdf", &scan)]);
    let mut objs_a = report_objects(&to, &report_a, &[evidence.clone(), photo.clone()]);
    objs_a.extend(followup_objects(
        &to,
        1,
        &fu,
        std::slice::from_ref(&scan),
        "2026-11-28",
    ));
    let mut reply_to_a = vec![receipt_a.reply_recipient()];
    reply_to_a.extend(to.iter().cloned());
    objs_a.push(
        Obj::new(
            ObjectKind::Reply { n: 1 },
            reply("Terima kasih, sedang ditelaah.")
                .seal(&reply_to_a)
                .unwrap(),
        )
        .on("2026-11-29"),
    );
    let case_a = CaseBuild::new("case-a", &reporter_a, objs_a)
        .with_history(&[Status::Received, Status::InReview]);

    // Case B: the server's case.json names another reply recipient than the
    // encrypted report: the report's wins, loudly.
    let intruder = x25519::Identity::generate().to_public().to_string();
    let report_b = report("Pungli perizinan", &reporter_b, vec![]);
    let case_b = CaseBuild::new("case-b", &intruder, report_objects(&to, &report_b, &[]));

    // Case C: only a follow-up arrived this time.
    let fu_c = followup("Masih menunggu.", vec![]);
    let case_c = CaseBuild::new(
        "case-c",
        &reporter_a,
        followup_objects(&to, 2, &fu_c, &[], "2026-11-30"),
    );

    // A compromised server slips its own key into export.json.
    let server_key = x25519::Identity::generate().to_public().to_string();
    let bytes = bundle(&[case_a, case_b, case_c], std::slice::from_ref(&server_key));
    let run = w.open(&bytes, "export.tar");
    let out = w.out();
    assert_eq!(
        run.success(),
        format!(
            "opened 3 cases (2 reports, 1 follow-up, 0 replies, 3 attachments verified) into {}; \
             2 objects FAILED VERIFICATION and kept apart in <case>/unverified/ (see the warnings)\n",
            out.display()
        )
    );

    // The stderr: the reply that came in an export (case A, which exports
    // never carry), the warning about case B, and case C's follow-up, which
    // came without its report and so cannot be checked.
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 4, "{}", run.stderr);
    assert!(warnings[0]
        .starts_with("wbs-inspect: WARNING: case case-a: the bundle carries a reply (1)"));
    assert!(
        warnings[1].starts_with("wbs-inspect: warning: case case-a:")
            && warnings[1].contains("FAILED VERIFICATION")
    );
    assert!(warnings[2].starts_with("wbs-inspect: warning: case case-b:"));
    assert!(warnings[2].contains(&reporter_b));
    assert!(warnings[3]
        .starts_with("wbs-inspect: WARNING: case case-c: follow-up 2 FAILED VERIFICATION"));

    // Attachments: the exact bytes, truncated from their padding.
    let a = out.join("case-a");
    assert_eq!(
        fs::read(a.join("attachments/1-evidence.bin")).unwrap(),
        evidence
    );
    assert_eq!(fs::read(a.join("attachments/2-foto.jpg")).unwrap(), photo);
    assert_eq!(
        fs::read(a.join("thread/2026-11-28-followup-001-attachments/1-scan.pdf")).unwrap(),
        scan
    );

    // The report exactly as sent, and for people.
    let back = Report::parse(&fs::read(a.join("report.json")).unwrap()).unwrap();
    assert_eq!(back, report_a);
    let md = fs::read_to_string(a.join("report.md")).unwrap();
    for needle in [
        // Punctuation in what the reporter wrote is escaped in markdown.
        "# Mark\\-up pengadaan",
        "in_review",
        "Sedang ditelaah",
        "Harga dinaikkan 300%",
        "Kepala bagian pengadaan",
        "evidence\\.bin",
        &sha256_hex(&evidence),
        "`attachments/1-evidence.bin`",
        "195.3 KiB (200000 bytes)",
        "EXIF",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    // Only the reply the bundle should not carry is warned about.
    assert!(md.contains("FAILED VERIFICATION"), "{md}");

    // The thread, in order.
    let thread: Vec<String> = fs::read_dir(a.join("thread"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        thread,
        [
            "2026-11-28-followup-001-attachments",
            "2026-11-28-followup-001.json",
            "2026-11-28-followup-001.md",
        ]
    );
    // The report came from a client older than authenticated threads: its
    // follow-up opens as before, marked as unauthenticated.
    let fu_md = fs::read_to_string(a.join("thread/2026-11-28-followup-001.md")).unwrap();
    assert!(fu_md.contains("Ada bukti tambahan.") && fu_md.contains("scan\\.pdf"));
    assert!(
        fu_md.starts_with("# Follow-up 1 (unauthenticated)"),
        "{fu_md}"
    );
    // The reply is kept apart, never titled as ours.
    let reply_md = fs::read_to_string(a.join("unverified/2026-11-29-reply-001.md")).unwrap();
    assert!(reply_md.contains("Terima kasih, sedang ditelaah."));
    assert!(reply_md.starts_with("# UNVERIFIED reply 1"), "{reply_md}");

    // Reply recipients: the reporter's from inside the report, ours from
    // our identity; the server's list is kept apart, never mixed into ours.
    let reply_to: serde_json::Value = read_json(&a.join("reply-to.json"));
    assert_eq!(reply_to["reporter"], reporter_a.as_str());
    assert_eq!(
        reply_to["inspectorate"],
        serde_json::json!([w.inspectorate.to_public().to_string()])
    );
    assert_eq!(
        reply_to["listed_by_server"],
        serde_json::json!([server_key])
    );

    // case.json is the case manifest.
    let manifest: CaseManifest = read_json(&a.join("case.json"));
    assert_eq!(manifest.id, "case-a");
    assert_eq!(manifest.status, Status::InReview);
    assert_eq!(manifest.objects.len(), 6);

    // Case B: the report's recipient, and the warning in report.md too.
    let b = out.join("case-b");
    let reply_to: serde_json::Value = read_json(&b.join("reply-to.json"));
    assert_eq!(reply_to["reporter"], reporter_b.as_str());
    let md_b = fs::read_to_string(b.join("report.md")).unwrap();
    assert!(
        md_b.contains("WARNING") && md_b.contains(&intruder),
        "{md_b}"
    );
    assert!(md_b.contains("## Attachments\n\nNone."));

    // Case C: a follow-up alone, which without its report cannot be
    // verified: kept apart.
    let c = out.join("case-c");
    assert!(c.join("unverified/2026-11-30-followup-002.md").is_file());
    assert!(!c.join("thread").exists());
    assert!(!c.join("report.md").exists() && !c.join("reply-to.json").exists());

    // Private files, and no temporary file left anywhere.
    for path in tree(&out) {
        assert!(
            !path.contains(".wbs-inspect-") && !path.contains(".partial-"),
            "{path}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(out.join(&path)).unwrap().permissions().mode() & 0o777;
            let expected = if path.ends_with('/') { 0o700 } else { 0o600 };
            assert_eq!(mode, expected, "{path}");
        }
    }
}

#[test]
fn reopening_the_same_bundle_is_harmless() {
    let w = World::new();
    let receipt = ReceiptCode::generate();
    let r = receipt.reply_recipient().to_string();
    let file = binary(5000, 1);
    let rep = report("Double open", &r, vec![meta("a.bin", &file)]);
    let case = CaseBuild::new("case-1", &r, report_objects(&w.to(), &rep, &[file]));
    let bytes = bundle(&[case], &[]);

    w.open(&bytes, "b.tar").success();
    let before = snapshot(&w.out());
    let again = w.open(&bytes, "b.tar");
    assert!(
        again.success().contains("1 report") && again.stdout.contains("2 files were already there"),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(&w.out()), before);
}

#[test]
fn later_bundles_of_a_case_add_to_its_folder() {
    let w = World::new();
    let to = w.to();
    let receipt = ReceiptCode::generate();
    let r = receipt.reply_recipient().to_string();
    let rep = report("Bertahap", &r, vec![]);
    let first = CaseBuild::new("case-1", &r, report_objects(&to, &rep, &[]));
    let first = bundle(&[first], &[]);

    // The follow-up arrives in a second bundle, its attachment in a third,
    // and the status moved on meanwhile.
    let extra = binary(3000, 5);
    let fu = followup("Lampiran menyusul.", vec![meta("late.bin", &extra)]);
    let objs = followup_objects(&to, 1, &fu, std::slice::from_ref(&extra), "2026-12-01");
    let second = CaseBuild::new("case-1", &r, vec![objs[0].clone()])
        .with_history(&[Status::Received, Status::NeedInfo]);
    let third = CaseBuild::new("case-1", &r, vec![objs[1].clone()]).with_history(&[
        Status::Received,
        Status::NeedInfo,
        Status::Investigating,
    ]);

    w.open(&first, "1.tar").success();
    w.open(&bundle(&[second], &[]), "2.tar").success();
    let run = w.open(&bundle(&[third], &[]), "3.tar");
    assert!(
        run.success().contains("1 attachment verified"),
        "{}",
        run.stdout
    );

    let case = w.out().join("case-1");
    assert_eq!(
        fs::read(case.join("thread/2026-12-01-followup-001-attachments/1-late.bin")).unwrap(),
        extra
    );
    let manifest: CaseManifest = read_json(&case.join("case.json"));
    assert_eq!(manifest.status, Status::Investigating);
    let paths: Vec<&str> = manifest.objects.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(
        paths,
        ["report.age", "followups/1.age", "followups/1/1.age"]
    );
    assert!(fs::read_to_string(case.join("report.md"))
        .unwrap()
        .contains("`investigating`"));

    // An older bundle opened afterwards does not turn the status back.
    w.open(&first, "1.tar").success();
    let manifest: CaseManifest = read_json(&case.join("case.json"));
    assert_eq!(manifest.status, Status::Investigating);
    assert_eq!(manifest.objects.len(), 3);
}

#[test]
fn an_identity_file_with_several_keys_opens_cases_of_each() {
    let w = World::new();
    let old = x25519::Identity::generate();
    let new = x25519::Identity::generate();
    let ring = w.root.join("ring.key");
    fs::write(
        &ring,
        format!(
            "# rotated keys\n{}\n{}\n",
            secrecy::ExposeSecret::expose_secret(&old.to_string()),
            secrecy::ExposeSecret::expose_secret(&new.to_string())
        ),
    )
    .unwrap();
    let r = ReceiptCode::generate().reply_recipient().to_string();
    let c1 = CaseBuild::new(
        "old-case",
        &r,
        report_objects(&[old.to_public()], &report("Lama", &r, vec![]), &[]),
    );
    let c2 = CaseBuild::new(
        "new-case",
        &r,
        report_objects(&[new.to_public()], &report("Baru", &r, vec![]), &[]),
    );
    let path = write(&w.root, "b.tar", &bundle(&[c1, c2], &[]));
    let out = w.out();
    run([
        "open".as_ref(),
        path.as_os_str(),
        "--identity".as_ref(),
        ring.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .success();
    let reply_to: serde_json::Value = read_json(&out.join("new-case/reply-to.json"));
    assert_eq!(
        reply_to["inspectorate"],
        serde_json::json!([old.to_public().to_string(), new.to_public().to_string()])
    );
    assert!(out.join("old-case/report.json").is_file());
}

#[test]
fn a_reply_written_with_another_key_is_skipped_with_a_warning() {
    let w = World::new();
    let receipt = ReceiptCode::generate();
    let r = receipt.reply_recipient().to_string();
    let mut objs = report_objects(&w.to(), &report("Balasan", &r, vec![]), &[]);
    // A colleague's air-gapped machine encrypted this reply to its own key only.
    objs.push(Obj::new(
        ObjectKind::Reply { n: 1 },
        reply("Dari rekan.")
            .seal(&[receipt.reply_recipient(), w.colleague.to_public()])
            .unwrap(),
    ));
    let run = w.open(&bundle(&[CaseBuild::new("case-1", &r, objs)], &[]), "b.tar");
    assert!(
        run.success().contains("1 report, 0 follow-ups, 0 replies"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "wbs-inspect: WARNING: case case-1: the bundle carries a reply (1), which exports never \
         do, and it is not encrypted to this identity; skipped\n"
    );
    assert!(!w.out().join("case-1/thread").exists());
}
