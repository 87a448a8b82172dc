//! The server's log says who did which desk action and whether it was
//! done, and nothing more: no count, cursor, case id or size. The journal
//! puts a time on every line, so an export's cursor or case count there
//! would tell, export after export, when each report arrived. The detail
//! stays in the audit store, which dates entries by the day only.

use sha2::{Digest, Sha256};
use std::process::Command;

use wbs_e2e::{bin, run_fail, run_ok, ServerOptions, TestServer};
use wbs_protocol::bundle::{ReplyBundle, ReplyFile, ReplyItem};
use wbs_protocol::envelope::encrypt_document;
use wbs_protocol::Status;
use wbs_store::MetaStore;

/// A token name without digits, so any digit on a desk line is a leak.
const ACTOR: &str = "inspektur";

/// A reply bundle of one item for `case_id`, sealed to `to`.
fn reply_bundle(case_id: &str, to: &[age::x25519::Recipient]) -> Vec<u8> {
    let json = serde_json::json!({"format": "wbs-reply/1", "body": "Terima kasih."}).to_string();
    let reply = encrypt_document(to, json.as_bytes()).unwrap();
    let mut b = ReplyBundle::default();
    b.push(
        ReplyItem {
            id: "r1".into(),
            case_id: case_id.into(),
            status: Some(Status::InReview),
            reply: Some(ReplyFile {
                path: "replies/r1.age".into(),
                size: reply.len() as u64,
                sha256: wbs_protocol::hex(&Sha256::digest(&reply)),
            }),
        },
        Some(reply),
    );
    b.write(Vec::new()).unwrap()
}

#[test]
fn desk_actions_log_who_and_what_but_no_count_cursor_or_case() {
    let mut server = TestServer::start(ServerOptions {
        tokens: vec![ACTOR.into()],
        ..Default::default()
    });
    let w = tempfile::tempdir().unwrap();

    // Three reports, one with an attachment.
    let mut receipts = Vec::new();
    for i in 0..3 {
        let message = w.path().join(format!("laporan-{i}.txt"));
        std::fs::write(&message, format!("Laporan nomor {i}.")).unwrap();
        let mut cmd = server.cli("wbs-report", "submit");
        cmd.arg("--message").arg(&message);
        if i == 0 {
            cmd.arg("--attach").arg(&message);
        }
        let out = run_ok(&mut cmd);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let receipt = stdout.lines().last().unwrap().trim().to_string();
        receipts.push(wbs_protocol::ReceiptCode::parse(&receipt).unwrap());
    }
    let log_start = server.log_text().len();

    // Every desk action, with the real desk tool.
    let listed = run_ok(&mut server.cli("wbs-desk", "cases"));
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let export = w.path().join("export.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );
    let mut cursor_file = server.token_file().as_os_str().to_owned();
    cursor_file.push(".cursor");
    let cursor = std::fs::read_to_string(&cursor_file).unwrap();
    let cursor = cursor.trim().to_string();
    assert!(cursor.parse::<u64>().unwrap() >= 4, "cursor {cursor}");

    let cases: Vec<String> = {
        let token = std::fs::read_to_string(server.token_file()).unwrap();
        let body: serde_json::Value = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/desk/cases", server.desk_url))
            .bearer_auth(token.trim())
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(cases.len(), 3);
    for id in &cases {
        assert!(listed.contains(id.as_str()), "{listed}");
    }

    // A reply for the case of the first receipt (any case will do: the
    // server only checks the count of recipients).
    let mut to = vec![receipts[0].reply_recipient()];
    to.extend(server.keys.iter().map(|k| k.identity.to_public()));
    let bundle = w.path().join("replies.tar");
    std::fs::write(&bundle, reply_bundle(&cases[0], &to)).unwrap();
    run_ok(server.cli("wbs-desk", "push").arg(&bundle));
    run_ok(
        server
            .cli("wbs-desk", "status")
            .arg(&cases[1])
            .arg("investigating"),
    );
    // Refused actions: a case that does not exist, a bundle for it.
    let unknown = "zzzzzzzzzzzzzzzzzzzz";
    run_fail(
        server
            .cli("wbs-desk", "status")
            .arg(unknown)
            .arg("investigating"),
    );
    std::fs::write(&bundle, reply_bundle(unknown, &to)).unwrap();
    run_fail(server.cli("wbs-desk", "push").arg(&bundle));

    // The refused push is the last action: once its line is in, so are
    // the lines before it.
    let log = server.log_after(log_start, &["action=\"import\" code="]);
    eprintln!("{log}");
    let desk_lines: Vec<&str> = log.lines().filter(|l| l.contains("desk action")).collect();
    for action in ["list_cases", "export", "import", "set_status"] {
        assert!(
            desk_lines
                .iter()
                .any(|l| l.contains(action) && !l.contains("refused")),
            "no log line for {action}:\n{log}"
        );
    }
    for action in ["import", "set_status"] {
        assert!(
            desk_lines
                .iter()
                .any(|l| l.contains(action) && l.contains("refused")),
            "no log line for the refused {action}:\n{log}"
        );
    }
    for line in &desk_lines {
        assert!(line.contains(ACTOR), "no actor: {line}");
        // Counts, cursors, sizes and sequence numbers are all digits.
        assert!(
            !line.bytes().any(|b| b.is_ascii_digit()),
            "a number in a desk log line: {line}"
        );
    }
    for id in cases.iter().map(String::as_str).chain([unknown]) {
        assert!(!log.contains(id), "case id {id} in the log:\n{log}");
    }
    for word in ["cursor", "since", "applied", "skipped"] {
        assert!(!log.contains(word), "{word:?} in the log:\n{log}");
    }

    // The operator's backup and verify through the running server: their
    // counts go to the operator, not to the journal.
    let log_start = server.log_text().len();
    let backup = w.path().join("backup.wbs");
    for args in [
        vec!["backup".as_ref(), "--out".as_ref(), backup.as_os_str()],
        vec!["verify".as_ref()],
    ] {
        run_ok(
            Command::new(bin("wbs-server"))
                .arg("--config")
                .arg(&server.config)
                .args(args),
        );
    }
    let log = server.log_after(log_start, &["backup taken", "verify through"]);
    for line in log.lines().filter(|l| l.contains("control socket")) {
        assert!(
            !line.bytes().any(|b| b.is_ascii_digit()),
            "a number in a control log line: {line}"
        );
    }

    // The audit store, dated by the day, keeps the detail.
    server.stop();
    let store = wbs_store::SledStore::create_or_open(&server.data).unwrap();
    let audit = store.all_audit().unwrap();
    let details: Vec<String> = audit
        .iter()
        .filter(|e| e.actor == ACTOR)
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("export") && d.contains(&format!("cursor={cursor}"))),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("set_status") && d.contains(&cases[1])),
        "{details:?}"
    );
    assert!(
        audit.iter().all(|e| e.on.to_string().len() == 10),
        "dates only"
    );
}
