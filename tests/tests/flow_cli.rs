//! The whole product, end to end, on the embedded store (sled): the flow of
//! common/flow.rs; then replies that reach every inspectorate key, and
//! pinned recipients.

use wbs_e2e::{run_fail, run_ok, ServerOptions, TestServer};

mod common;

use common::flow::only_dir;

#[test]
fn report_pull_open_reply_push_status_followup_pull() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    common::flow::report_pull_open_reply_push_status_followup_pull(&server, &server);
}

/// With two inspectorate keys, a reply written with one of them reaches both
/// once the investigator trusts the server's list or names a trusted local
/// copy of the keys.
#[test]
fn replies_reach_every_inspectorate_key() {
    let server = TestServer::start(ServerOptions {
        keys: 2,
        ..Default::default()
    });
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    std::fs::write(w.join("m.txt"), "Laporan dengan dua kunci").unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("m.txt")),
    );
    let receipt = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(w.join("e.tar")),
    );
    run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(w.join("e.tar"))
            .arg("--identity")
            .arg(&server.keys[1].identity_file)
            .arg("--out")
            .arg(w.join("cases")),
    );
    let case_dir = only_dir(&w.join("cases"));
    std::fs::write(w.join("r1.txt"), "first answer").unwrap();
    std::fs::write(w.join("r2.txt"), "second answer").unwrap();
    // The server listed a key that is not this identity's own: refused,
    // and named, until the investigator says whom to trust.
    let reply = |extra: &[&str]| {
        let mut cmd = server.cli("wbs-inspect", "reply");
        cmd.arg("--case")
            .arg(&case_dir)
            .arg("--message")
            .arg(w.join("r1.txt"))
            .arg("--out")
            .arg(w.join("replies.tar"))
            .args(extra);
        cmd
    };
    let out = run_fail(&mut reply(&[]));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&server.keys[0].recipient));
    let out = run_ok(&mut reply(&["--trust-server-recipients"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&server.keys[0].recipient));
    run_ok(
        server
            .cli("wbs-inspect", "reply")
            .arg("--case")
            .arg(&case_dir)
            .arg("--message")
            .arg(w.join("r2.txt"))
            .arg("--recipients")
            .arg(&server.keys_dir)
            .arg("--out")
            .arg(w.join("replies.tar")),
    );
    let out = run_ok(server.cli("wbs-desk", "push").arg(w.join("replies.tar")));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains('2'), "{said}");
    // Both replies decrypt for the reporter and for the key that did not write them.
    let code = wbs_protocol::ReceiptCode::parse(&receipt).unwrap();
    let status: wbs_protocol::api::StatusResponse = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/status", server.url))
        .json(&serde_json::json!({"lookup": code.lookup_key().to_base64url()}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status.replies.len(), 2);
    use base64::Engine;
    use wbs_protocol::message::{Document, Reply};
    for r in &status.replies {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&r.age)
            .unwrap();
        let mine = Reply::open(&code.reply_identity(), &bytes).unwrap();
        let theirs = Reply::open(&server.keys[0].identity, &bytes).unwrap();
        assert_eq!(mine, theirs);
    }
}

/// A reporter who got the inspectorate's keys from a trusted source pins
/// them: the submission goes through when the server lists the same keys,
/// and is refused before anything is encrypted or sent when it lists others.
#[test]
fn pinned_recipients_refuse_a_server_that_lists_other_keys() {
    let server = TestServer::start(ServerOptions::default());
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    std::fs::write(w.join("m.txt"), "Laporan").unwrap();
    run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--recipients")
            .arg(&server.keys_dir)
            .arg("--message")
            .arg(w.join("m.txt")),
    );
    let other = w.join("other");
    std::fs::create_dir(&other).unwrap();
    wbs_e2e::make_key(&other, "impostor");
    let out = run_fail(
        server
            .cli("wbs-report", "submit")
            .arg("--recipients")
            .arg(&other)
            .arg("--message")
            .arg(w.join("m.txt")),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--recipients"));
    let cases: wbs_protocol::api::DeskCases = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/desk/cases", server.desk_url))
        .bearer_auth(std::fs::read_to_string(server.token_file()).unwrap().trim())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(cases.cases.len(), 1, "only the first report is stored");
}
