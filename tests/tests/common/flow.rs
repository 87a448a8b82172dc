//! The whole product, end to end, with the real binaries: a reporter submits
//! with two attachments, the desk pulls, the air-gapped tool opens and
//! answers, the desk pushes, the reporter reads the answer and follows up,
//! and the next pull brings only the follow-up. Afterwards, no plaintext and
//! no receipt code appears anywhere on the server's disk or in its output.
//!
//! Shared by the suites that run it against each store backend
//! (flow_cli.rs on sled, pg_flow.rs on PostgreSQL).

use std::path::{Path, PathBuf};

use wbs_e2e::{files_under, find_bytes_under, run_fail, run_ok, TestServer};

const REPORT_MARKER: &str = "PLAINTEXT-MARKER-laporan-7f3a9c";
const ATTACHMENT_MARKER: &[u8] = b"ATTACHMENT-MARKER-bukti-51be02";
const FOLLOWUP_MARKER: &str = "FOLLOWUP-MARKER-susulan-c0ffee";
const REPLY_MARKER: &str = "REPLY-MARKER-balasan-9d41";

pub fn only_dir(dir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "expected one case folder in {}",
        dir.display()
    );
    dirs.into_iter().next().unwrap()
}

pub fn find_file(dir: &Path, suffix: &str) -> PathBuf {
    files_under(dir)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no file ending in {suffix} under {}", dir.display()))
}

/// Runs the whole flow: submissions and follow-ups through `server`; the
/// desk's pulls and pushes, and the reporter's status look-ups, through
/// `desk` (the same server, or another instance on the same store).
///
/// Returns every secret the flow handled (markers of the plaintext, the
/// receipt code and the lookup key), which must appear nowhere on the
/// server's side; this checks the data directory and both logs, the caller
/// any other place the store keeps data.
pub fn report_pull_open_reply_push_status_followup_pull(
    server: &TestServer,
    desk: &TestServer,
) -> Vec<Vec<u8>> {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    // The reporter's material.
    let message = format!(
        "{REPORT_MARKER}\nKepala dinas meminta uang pelicin untuk izin usaha.\nSaksi: dua orang."
    );
    std::fs::write(w.join("laporan.txt"), &message).unwrap();
    let photo: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .chain(ATTACHMENT_MARKER.iter().copied())
        .collect();
    std::fs::write(w.join("foto bukti.jpg"), &photo).unwrap();
    let invoice = b"%PDF-1.4 invoice 42 x Rp 1.000.000\n".repeat(50);
    std::fs::write(w.join("invoice.pdf"), &invoice).unwrap();

    // 1. Submit with two attachments.
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("laporan.txt"))
            .args(["--title", "Pungli izin usaha", "--category", "illegal_levy"])
            .arg("--attach")
            .arg(w.join("foto bukti.jpg"))
            .arg("--attach")
            .arg(w.join("invoice.pdf")),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let receipt = stdout.lines().last().unwrap().trim().to_string();
    let code = wbs_protocol::ReceiptCode::parse(&receipt).expect("last stdout line is the receipt");
    assert_eq!(receipt.len(), 23, "grouped form XXXXX-XXXXX-XXXXX-XXXXX");

    // 2. The desk pulls everything.
    let first = w.join("export-1.tar");
    run_ok(
        desk.cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&first)
            .arg("--all"),
    );

    // 3. The air-gapped tool opens it: exact text and bytes back.
    let cases = w.join("cases");
    let out = run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(&first)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(&cases),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 case"));
    let case_dir = only_dir(&cases);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["body"].as_str().unwrap(), message);
    assert_eq!(report["title"], "Pungli izin usaha");
    assert_eq!(report["category"], "illegal_levy");
    assert_eq!(
        report["reply_recipient"],
        code.reply_recipient().to_string()
    );
    let md = std::fs::read_to_string(case_dir.join("report.md")).unwrap();
    assert!(md.contains(REPORT_MARKER));
    assert_eq!(
        std::fs::read(find_file(&case_dir, "bukti.jpg")).unwrap(),
        photo
    );
    assert_eq!(
        std::fs::read(find_file(&case_dir, "invoice.pdf")).unwrap(),
        invoice
    );

    // 4. An answer with a status change, into a reply bundle.
    std::fs::write(
        w.join("jawaban.txt"),
        format!("{REPLY_MARKER}\nTerima kasih. Mohon kirim nomor izin usahanya."),
    )
    .unwrap();
    let replies = w.join("replies.tar");
    run_ok(
        server
            .cli("wbs-inspect", "reply")
            .arg("--case")
            .arg(&case_dir)
            .arg("--message")
            .arg(w.join("jawaban.txt"))
            .args(["--status", "need_info", "--out"])
            .arg(&replies),
    );

    // 5. The desk pushes it back.
    let out = run_ok(desk.cli("wbs-desk", "push").arg(&replies));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("applied")
            || String::from_utf8_lossy(&out.stderr).contains("applied")
    );

    // 6. The reporter sees the status and reads the reply.
    let out = run_ok(
        desk.cli("wbs-report", "status")
            .arg("--receipt")
            .arg(&receipt),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("need_info") || shown.contains("Perlu informasi tambahan"),
        "{shown}"
    );
    assert!(shown.contains(REPLY_MARKER), "{shown}");
    // A typo in the code is caught before any request.
    let mut typo = receipt.clone().into_bytes();
    typo[3] = if typo[3] == b'7' { b'8' } else { b'7' };
    let out = run_fail(
        desk.cli("wbs-report", "status")
            .arg("--receipt")
            .arg(String::from_utf8(typo).unwrap()),
    );
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());

    // 7. A follow-up.
    std::fs::write(
        w.join("susulan.txt"),
        format!("{FOLLOWUP_MARKER}\nNomor izin: 503/123/2026"),
    )
    .unwrap();
    run_ok(
        server
            .cli("wbs-report", "follow-up")
            .arg("--receipt")
            .arg(&receipt)
            .arg("--message")
            .arg(w.join("susulan.txt")),
    );

    // 8. The next pull brings only what is new: the follow-up. (The reply
    //    came from the air gap, which keeps its own copy.)
    let second = w.join("export-2.tar");
    run_ok(desk.cli("wbs-desk", "pull").arg("--out").arg(&second));
    let kinds = bundle_kinds(&second);
    assert_eq!(kinds, vec!["followup".to_string()]);
    let out = run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(&second)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(&cases),
    );
    assert!(!String::from_utf8_lossy(&out.stdout).is_empty());
    let thread = files_under(&case_dir.join("thread"));
    let followup = thread.iter().find(|p| {
        std::fs::read_to_string(p)
            .map(|t| t.contains(FOLLOWUP_MARKER))
            .unwrap_or(false)
    });
    assert!(followup.is_some(), "follow-up not in thread: {thread:?}");

    // 9. Nothing secret or plaintext on the server's disk or in its output.
    let lookup = code.lookup_key().to_base64url();
    let needles: Vec<Vec<u8>> = [
        REPORT_MARKER.as_bytes(),
        ATTACHMENT_MARKER,
        FOLLOWUP_MARKER.as_bytes(),
        REPLY_MARKER.as_bytes(),
        receipt.as_bytes(),
        code.canonical().as_bytes(),
        lookup.as_bytes(),
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    for needle in &needles {
        assert_eq!(
            find_bytes_under(&server.data, needle),
            None,
            "{:?} found in the data directory",
            String::from_utf8_lossy(needle)
        );
        for log in [server.log_text(), desk.log_text()] {
            assert!(
                !log.as_bytes().windows(needle.len()).any(|w| w == needle),
                "{:?} found in the server output",
                String::from_utf8_lossy(needle)
            );
        }
    }
    needles
}

/// The object kinds in an export bundle.
pub fn bundle_kinds(path: &Path) -> Vec<String> {
    struct Kinds(Vec<String>);
    impl wbs_protocol::bundle::ExportVisitor for Kinds {
        fn object(
            &mut self,
            _: &wbs_protocol::bundle::CaseManifest,
            e: &wbs_protocol::bundle::ObjectEntry,
            _: &mut dyn std::io::Read,
        ) -> Result<(), wbs_protocol::bundle::BundleError> {
            let v = serde_json::to_value(e.kind).unwrap();
            self.0.push(v["kind"].as_str().unwrap().to_string());
            Ok(())
        }
    }
    let mut k = Kinds(Vec::new());
    wbs_protocol::bundle::read_export(
        std::fs::File::open(path).unwrap(),
        &wbs_protocol::bundle::Limits::EXPORT,
        &mut k,
    )
    .unwrap();
    k.0
}
