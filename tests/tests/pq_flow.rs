//! A post-quantum deployment, end to end with the real binaries: the
//! inspectorate's key is made with `wbs-inspect keygen --pq`, its `.pub` is
//! the server's only recipient; a reporter submits with `wbs-report`, the
//! desk pulls, the air-gapped tool opens with the post-quantum identity and
//! answers, the desk pushes, and the reporter reads the verified reply.
//! Every object the server stored is an age file whose only recipient
//! stanzas are `mlkem768x25519`. Then the refusals: a classic reply
//! recipient (422 `invalid_recipient`), and a recipient folder mixing
//! classic and post-quantum keys (the server does not start).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wbs_e2e::{bin, files_under, run_ok, ServerOptions, TestServer};
use wbs_protocol::ReceiptCode;

const REPORT_MARKER: &str = "PQ-MARKER-laporan-4e1d";
const REPLY_MARKER: &str = "PQ-MARKER-balasan-77aa";
const FOLLOWUP_MARKER: &str = "PQ-MARKER-susulan-31c0";
const PASSPHRASE: &[u8] = b"kata sandi kunci pasca-kuantum yang panjang\n";

fn only_dir(dir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one case folder in {}", dir.display());
    dirs.into_iter().next().unwrap()
}

/// The recipient stanza tags of the age header at the start of `file`.
fn stanza_tags(file: &[u8]) -> Vec<String> {
    let head = String::from_utf8_lossy(&file[..file.len().min(70_000)]).into_owned();
    let end = head.find("\n--- ").expect("a complete age header");
    head[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("-> "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

/// Replaces the test server's classic keys by a post-quantum pair made with
/// `wbs-inspect keygen --pq` (passphrase-protected), as an operator would:
/// the `.key` stays in `air_gap`, the `.pub` goes to the server.
fn switch_to_pq(server: &mut TestServer, air_gap: &Path) -> (PathBuf, PathBuf, String) {
    server.stop();
    for f in files_under(&server.keys_dir) {
        std::fs::remove_file(f).unwrap();
    }
    let pw = air_gap.join("pw.txt");
    std::fs::write(&pw, PASSPHRASE).unwrap();
    let out = run_ok(
        Command::new(bin("wbs-inspect"))
            .args(["keygen", "--pq", "--name", "inspektorat-pq", "--out"])
            .arg(air_gap)
            .arg("--passphrase-file")
            .arg(&pw),
    );
    let recipient = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(recipient.starts_with("age1pq1"), "{recipient}");
    std::fs::copy(
        air_gap.join("inspektorat-pq.pub"),
        server.keys_dir.join("inspektorat-pq.pub"),
    )
    .unwrap();
    server.spawn();
    (air_gap.join("inspektorat-pq.key"), pw, recipient)
}

#[test]
fn a_post_quantum_deployment_from_report_to_verified_reply() {
    let mut server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let air_gap = w.join("air-gap");
    std::fs::create_dir(&air_gap).unwrap();
    let (key, pw, recipient) = switch_to_pq(&mut server, &air_gap);

    // The server lists the post-quantum recipient.
    let config: serde_json::Value = reqwest::blocking::get(format!("{}/api/v1/config", server.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["recipients"], serde_json::json!([recipient]));

    // 1. Submit, with an attachment.
    std::fs::write(
        w.join("laporan.txt"),
        format!("{REPORT_MARKER}\nPengadaan alat kesehatan digelembungkan."),
    )
    .unwrap();
    let evidence: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(w.join("bukti.bin"), &evidence).unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("laporan.txt"))
            .args(["--title", "Alkes", "--attach"])
            .arg(w.join("bukti.bin")),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let receipt = stdout.lines().last().unwrap().trim().to_owned();
    let code = ReceiptCode::parse(&receipt).expect("the last line is the receipt");
    // A long code: seven groups of four.
    assert_eq!(receipt.len(), 34, "{receipt}");
    assert!(code.is_long());

    // Every object stored is an age file to the post-quantum key only.
    let stored: Vec<Vec<u8>> = files_under(&server.data)
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.starts_with(b"age-encryption.org/v1\n"))
        .collect();
    assert_eq!(stored.len(), 2, "the report and its attachment");
    for object in &stored {
        let tags: Vec<String> = stanza_tags(object)
            .into_iter()
            .filter(|t| !t.ends_with("-grease"))
            .collect();
        assert_eq!(tags, ["mlkem768x25519"]);
    }

    // 2. Status.
    let out = run_ok(
        server
            .cli("wbs-report", "status")
            .arg("--receipt")
            .arg(&receipt),
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(REPLY_MARKER));

    // 3. Pull, and open with the post-quantum identity.
    let export = w.join("export.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );
    let cases = w.join("cases");
    run_ok(
        Command::new(bin("wbs-inspect"))
            .arg("open")
            .arg(&export)
            .arg("--identity")
            .arg(&key)
            .arg("--passphrase-file")
            .arg(&pw)
            .arg("--out")
            .arg(&cases),
    );
    let case_dir = only_dir(&cases);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case_dir.join("report.json")).unwrap()).unwrap();
    assert!(report["body"].as_str().unwrap().starts_with(REPORT_MARKER));
    assert_eq!(report["reply_recipient"], code.case_reply_recipient());
    assert!(code.case_reply_recipient().starts_with("age1pq1"));

    // 4. Reply, and push.
    std::fs::write(
        w.join("jawaban.txt"),
        format!("{REPLY_MARKER}\nSedang ditelaah."),
    )
    .unwrap();
    let replies = w.join("replies.tar");
    run_ok(
        Command::new(bin("wbs-inspect"))
            .arg("reply")
            .arg("--case")
            .arg(&case_dir)
            .arg("--message")
            .arg(w.join("jawaban.txt"))
            .args(["--status", "in_review", "--out"])
            .arg(&replies),
    );
    run_ok(server.cli("wbs-desk", "push").arg(&replies));

    // 5. The reporter reads the verified reply.
    let out = run_ok(
        server
            .cli("wbs-report", "status")
            .arg("--receipt")
            .arg(&receipt),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(REPLY_MARKER), "{shown}");
    assert!(!shown.to_lowercase().contains("unverified"), "{shown}");

    // 6. A follow-up, authenticated with the thread key and the case's
    //    post-quantum reply recipient, lands in the thread, not apart.
    std::fs::write(
        w.join("susulan.txt"),
        format!("{FOLLOWUP_MARKER}\nKuitansi kedua."),
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
    let second = w.join("export-2.tar");
    run_ok(server.cli("wbs-desk", "pull").arg("--out").arg(&second));
    run_ok(
        Command::new(bin("wbs-inspect"))
            .arg("open")
            .arg(&second)
            .arg("--identity")
            .arg(&key)
            .arg("--passphrase-file")
            .arg(&pw)
            .arg("--out")
            .arg(&cases),
    );
    let holds_marker = |dir: &Path| {
        files_under(dir).into_iter().any(|p| {
            std::fs::read_to_string(p)
                .map(|t| t.contains(FOLLOWUP_MARKER))
                .unwrap_or(false)
        })
    };
    assert!(holds_marker(&case_dir.join("thread")));
    assert!(!holds_marker(&case_dir.join("unverified")));

    // The stored reply, too, is to post-quantum keys only: the reporter's
    // and the inspectorate's.
    let replies_stored: Vec<Vec<String>> = files_under(&server.data)
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.starts_with(b"age-encryption.org/v1\n"))
        .map(|b| {
            stanza_tags(&b)
                .into_iter()
                .filter(|t| !t.ends_with("-grease"))
                .collect()
        })
        .filter(|tags: &Vec<String>| tags.len() == 2)
        .collect();
    assert_eq!(replies_stored, [["mlkem768x25519", "mlkem768x25519"]]);

    // 7. A classic reply recipient is refused in this deployment. The meta
    //    part alone: the server answers from it, before any report part
    //    (a body still being sent when the answer comes would race).
    let classic = ReceiptCode::generate();
    let meta = serde_json::json!({
        "lookup": classic.lookup_key().to_base64url(),
        "reply_recipient": classic.reply_recipient().to_string(),
    })
    .to_string();
    let form = reqwest::blocking::multipart::Form::new().part(
        "meta",
        reqwest::blocking::multipart::Part::text(meta)
            .mime_str("application/json")
            .unwrap(),
    );
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/submissions", server.url))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let body: serde_json::Value = answer.json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_recipient", "{body}");
}

/// Posts a submission: `report` as the report part.
fn submit_raw(
    server: &TestServer,
    reply_recipient: &str,
    report: Vec<u8>,
) -> (u16, serde_json::Value) {
    let code = ReceiptCode::generate_long();
    let meta = serde_json::json!({
        "lookup": code.lookup_key().to_base64url(),
        "reply_recipient": reply_recipient,
    })
    .to_string();
    let form = reqwest::blocking::multipart::Form::new()
        .part(
            "meta",
            reqwest::blocking::multipart::Part::text(meta)
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "report",
            reqwest::blocking::multipart::Part::bytes(report)
                .file_name("report.age")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/submissions", server.url))
        .multipart(form)
        .send()
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_post_quantum_server_takes_only_post_quantum_objects() {
    let mut server = TestServer::start(ServerOptions::default());
    let air_gap = tempfile::tempdir().unwrap();
    let (_, _, recipient) = switch_to_pq(&mut server, air_gap.path());
    let reply = ReceiptCode::generate_long().case_reply_recipient();
    let pq: wbs_protocol::keys::Recipient = recipient.parse().unwrap();
    let classic = age::x25519::Identity::generate().to_public();

    // Encrypted to a classic key: refused by the object check, nothing stored.
    let wrong = wbs_protocol::envelope::encrypt_document(&[classic], b"{}").unwrap();
    let (status, body) = submit_raw(&server, &reply, wrong);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_object", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mlkem768x25519"), "{message}");

    // The same document to the post-quantum key is stored.
    let right = wbs_protocol::envelope::encrypt_document(&[pq], b"{}").unwrap();
    let (status, body) = submit_raw(&server, &reply, right);
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_mixed_recipient_folder_keeps_the_server_from_starting() {
    let mut server = TestServer::start(ServerOptions::default());
    let air_gap = tempfile::tempdir().unwrap();
    let (_, _, _) = switch_to_pq(&mut server, air_gap.path());
    server.stop();
    // A classic key put beside the post-quantum one.
    let classic = age::x25519::Identity::generate().to_public().to_string();
    std::fs::write(server.keys_dir.join("lama.pub"), format!("{classic}\n")).unwrap();

    let mut child = server
        .server_command()
        .arg("--config")
        .arg(&server.config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started with a mixed recipient folder");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success());
    assert!(stderr.contains("lama.pub"), "{stderr}");
    assert!(
        stderr.contains("all classic (age1…) or all post-quantum (age1pq1…), never both"),
        "{stderr}"
    );
}
