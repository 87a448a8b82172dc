//! Storage faults are found and named, never passed on as good data:
//!
//! - `wbs-server verify` re-hashes every blob against the SHA-256 recorded
//!   when it was stored and names each missing or damaged one by case and
//!   object, exiting non-zero; it works with the server stopped (opening
//!   the store) and running (through the control socket).
//! - An export that reaches a damaged blob fails visibly: the bundle does
//!   not verify.
//! - A missing or damaged metadata database stops the server at start
//!   with one clear line on stderr, and nothing is replaced or created.

mod durability;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use durability::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wbs_e2e::{bin, files_under, ServerOptions, TestServer};

/// The blob file holding exactly `bytes`.
fn blob_with(data: &Path, bytes: &[u8]) -> PathBuf {
    files_under(&data.join("blobs"))
        .into_iter()
        .find(|p| std::fs::read(p).map(|b| b == bytes).unwrap_or(false))
        .expect("a blob file with these bytes")
}

fn case_of(server: &TestServer, s: &Submission) -> String {
    let (cases, _) = export(server, 0);
    cases
        .iter()
        .find(|c| c.manifest.reply_recipient == s.reply_recipient())
        .map(|c| c.manifest.id.clone())
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn verify_names_damaged_and_missing_blobs_and_the_export_refuses_them() {
    let mut server = TestServer::start(ServerOptions::default());
    let client = client();
    let recipients = recipients(&server);
    let mut rng = StdRng::seed_from_u64(3);
    let subs: Vec<Submission> = [&[1200][..], &[30_000, 500], &[]]
        .iter()
        .enumerate()
        .map(|(i, sizes)| {
            let s = Submission::new(format!("case {i}"), sizes, &recipients, &mut rng);
            assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
            s
        })
        .collect();
    let ids: Vec<String> = subs.iter().map(|s| case_of(&server, s)).collect();

    // Intact: verify passes, through the running server's control socket.
    let out = wbs_server(&server, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("verified 6 objects"),
        "{}",
        text(&out)
    );
    wait_until(
        "the server to log the verification",
        Duration::from_secs(10),
        || {
            server
                .log_text()
                .contains("verify through the control socket")
        },
    );

    // One attachment damaged on disk, one report gone.
    server.stop();
    let damaged = blob_with(&server.data, &subs[1].attachments_age[0]);
    flip_byte(&damaged);
    let missing = blob_with(&server.data, &subs[2].report_age);
    std::fs::remove_file(&missing).unwrap();

    // Server stopped: verify opens the store itself.
    let out = wbs_server(&server, &["verify"]);
    assert!(!out.status.success(), "verify passed a damaged store");
    let report = stdout(&out);
    assert!(
        report.contains(&format!("damaged: case {} attachments/1.age", ids[1])),
        "{}",
        text(&out)
    );
    assert!(
        report.contains(&format!("missing: case {} report.age", ids[2])),
        "{}",
        text(&out)
    );
    assert!(!report.contains(&ids[0]), "an intact case was reported");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("wbs-server: "))
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s) among 6 objects"), "{stderr}");

    // The server still starts (the other cases are fine), says so loudly,
    // and verify through the running server finds the same.
    server.spawn();
    wait_until(
        "the server to log the missing object",
        Duration::from_secs(10),
        || server.log_text().contains("1 stored object(s) are missing"),
    );
    let out = wbs_server(&server, &["verify"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains(&format!("damaged: case {}", ids[1])));
    assert!(stdout(&out).contains(&format!("missing: case {}", ids[2])));

    // An export through the damaged blob never arrives whole and valid:
    // the server cuts the stream (before the response head when nothing was
    // sent yet, or mid-body), or the bundle refuses it. Which of these
    // happens depends on timing, so try a few times; each must be refused.
    let log_start = server.log_text().len();
    for attempt in 0..5 {
        let refused = match export_raw(&server, 0) {
            Err(cut) => format!("cut: {cut}"),
            Ok((bytes, _)) => match read_bundle(&bytes) {
                Err(e) => format!("bundle: {e}"),
                Ok((_, cases)) => panic!(
                    "an export with a damaged blob verified ({} cases)",
                    cases.len()
                ),
            },
        };
        eprintln!("export {attempt} refused: {refused}");
    }
    // The log says a stored object is damaged, without naming the case
    // next to a time (`wbs-server verify` names it, above).
    let damage = "a stored object does not match its SHA-256: damaged on disk";
    wait_until(
        "the server to log the damage",
        Duration::from_secs(10),
        || server.log_text()[log_start..].contains(damage),
    );
    let log = server.log_text()[log_start..].to_string();
    for id in &ids {
        assert!(!log.contains(id.as_str()), "case {id} in the log:\n{log}");
    }
}

/// Runs `wbs-server` (serving) on `config`; it must fail at start. Returns
/// its stderr.
fn start_must_fail(config: &Path) -> String {
    let mut cmd = Command::new(bin("wbs-server"));
    cmd.arg("--config").arg(config);
    let out = run_bounded(cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "the server started: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("serving"), "it listened: {stderr}");
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("wbs-server: "))
        .collect();
    assert_eq!(ours.len(), 1, "not one clear line: {stderr}");
    assert_eq!(stderr.lines().last(), Some(ours[0]), "{stderr}");
    ours[0].to_string()
}

#[test]
fn damaged_metadata_stops_the_server_with_one_clear_line_and_nothing_is_replaced() {
    let mut server = TestServer::start(ServerOptions::default());
    let client = client();
    let recipients = recipients(&server);
    let mut rng = StdRng::seed_from_u64(4);
    let s = Submission::new("kept".into(), &[800], &recipients, &mut rng);
    assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
    server.stop();
    let db = server.data.join("db");
    let moved = server.dir.path().join("db.moved");

    // 1. The metadata database is gone.
    std::fs::rename(&db, &moved).unwrap();
    let line = start_must_fail(&server.config);
    assert!(line.contains("missing"), "{line}");
    assert!(line.contains("backup"), "{line}");
    assert!(!db.exists(), "an empty database was created in its place");
    std::fs::rename(&moved, &db).unwrap();

    // 2. Its data file is garbled.
    let db_file = db.join("db");
    let original = std::fs::read(&db_file).unwrap();
    let garbage = vec![0xa5u8; original.len().max(4096)];
    std::fs::write(&db_file, &garbage).unwrap();
    let line = start_must_fail(&server.config);
    assert!(line.contains("damaged"), "{line}");
    assert_eq!(
        std::fs::read(&db_file).unwrap(),
        garbage,
        "the damaged database file was changed"
    );
    std::fs::write(&db_file, &original).unwrap();

    // 3. The marker that says a store lives here is gone.
    let marker = server.data.join("WBS-STORE");
    let marker_bytes = std::fs::read(&marker).unwrap();
    std::fs::remove_file(&marker).unwrap();
    let line = start_must_fail(&server.config);
    assert!(line.contains("WBS-STORE"), "{line}");
    assert!(!marker.exists(), "a marker was written over the old store");
    std::fs::write(&marker, marker_bytes).unwrap();

    // Put back, everything is as it was.
    server.spawn();
    assert_eq!(status_of(&client, &server.url, &s.lookup()), 200);
    let (cases, _) = export(&server, 0);
    check_case_matches(&cases[0], &s, &server.keys[0].identity);
}
