//! A full disk: submissions get 507 with a clear message, nothing stored
//! before is damaged, and the server takes submissions again once there is
//! space.
//!
//! Two ways a disk fills, with different recoveries (see the wbs-store crate
//! doc and docs/OPERATIONS.md):
//!
//! 1. While a blob is written (the common case: a large upload). The
//!    partial blob is removed, the store stays healthy, and the very next
//!    submission that fits is accepted: no restart.
//! 2. While sled writes its log (the metadata). sled then fails every later
//!    write even after space is freed, so the store refuses writes and
//!    `/healthz` answers 503 until the server is restarted; the restart
//!    brings back exactly what was acknowledged.
//!
//! The server runs on a real 16 MiB tmpfs: the test runs itself again
//! inside a private mount namespace (`unshare`), with the tmpfs as its
//! temporary directory, so nothing outside the test is touched and the mount
//! disappears with the namespace. Where that is impossible (not Linux, not
//! root) the test says so and passes; CI runs as root.

mod durability;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use durability::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wbs_e2e::{ServerOptions, TestServer};

const CHILD_ENV: &str = "WBS_E2E_FULL_DISK_CHILD";
const TEST_NAME: &str = "a_full_disk_answers_507_keeps_everything_and_recovers";
/// Exit code of the wrapper shell when it cannot mount the tmpfs.
const CANNOT_MOUNT: i32 = 77;
/// The size of the file system the server gets.
const DISK: &str = "16m";

fn error_code(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn healthz(url: &str) -> (u16, String) {
    let resp = client().get(format!("{url}/healthz")).send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn set_status(server: &TestServer, case: &str, status: &str) -> (u16, String) {
    let resp = client()
        .post(format!(
            "{}/api/v1/desk/cases/{case}/status",
            server.desk_url
        ))
        .bearer_auth(token(server))
        .json(&serde_json::json!({ "status": status }))
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

/// Fills the file system holding `path` completely; returns the bytes
/// written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [1 << 16, 4096, 1] {
        let buf = vec![0x5au8; chunk];
        while f.write_all(&buf).is_ok() {
            written += chunk as u64;
            assert!(written < 1 << 30, "the small file system never filled");
        }
    }
    let _ = f.sync_all();
    written
}

/// The id of the case of a submission, from the desk's list (matched by
/// reply recipient through an export).
fn case_id_of(server: &TestServer, s: &Submission) -> String {
    let (cases, _) = export(server, 0);
    cases
        .iter()
        .find(|c| c.manifest.reply_recipient == s.reply_recipient())
        .map(|c| c.manifest.id.clone())
        .expect("the submission's case")
}

/// Everything acknowledged is there, complete and decrypting.
fn check_all(server: &TestServer, acked: &[Submission], statuses: &[(String, &str)]) {
    let client = client();
    for s in acked {
        assert_eq!(
            status_of(&client, &server.url, &s.lookup()),
            200,
            "{}",
            s.title
        );
    }
    let (cases, _) = export(server, 0);
    assert_eq!(
        cases.len(),
        acked.len(),
        "cases other than the acknowledged ones"
    );
    for s in acked {
        let case = cases
            .iter()
            .find(|c| c.manifest.reply_recipient == s.reply_recipient())
            .unwrap_or_else(|| panic!("{} is not in the export", s.title));
        check_case_matches(case, s, &server.keys[0].identity);
    }
    for (id, status) in statuses {
        let case = cases.iter().find(|c| &c.manifest.id == id).unwrap();
        assert_eq!(
            serde_json::to_value(case.manifest.status).unwrap(),
            *status,
            "case {id} lost an acknowledged status change"
        );
    }
}

fn child(mount: &Path) {
    let mut server = TestServer::start(ServerOptions {
        extra_config: GENEROUS_LIMITS.into(),
        ..Default::default()
    });
    assert!(
        server.data.starts_with(mount),
        "the data directory {} is not on the test's tmpfs",
        server.data.display()
    );
    let client = client();
    let recipients = recipients(&server);
    let mut rng = StdRng::seed_from_u64(507);
    let mut acked: Vec<Submission> = Vec::new();

    // Acknowledged before the disk fills.
    for (i, sizes) in [&[][..], &[3000], &[40_000, 900]].iter().enumerate() {
        let s = Submission::new(format!("before {i}"), sizes, &recipients, &mut rng);
        assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
        acked.push(s);
    }
    let first_case = case_id_of(&server, &acked[0]);
    assert_eq!(set_status(&server, &first_case, "in_review").0, 200);
    let mut statuses = vec![(first_case.clone(), "in_review")];
    let blobs_before = blob_files(&server.data);

    // 1. A blob fills the disk: an attachment larger than the whole disk.
    let big = Submission::new("too big".into(), &[24 << 20], &recipients, &mut rng);
    // Sent over a raw connection: the server answers as soon as the disk is
    // full and closes without reading the rest, which an HTTP client
    // library reports as a broken upload rather than the answer.
    let (status, body) = submit_raw(&server.url, &big);
    assert_eq!(status, 507, "{body}");
    assert_eq!(error_code(&body), "storage_full", "{body}");
    assert!(body.contains("storage"), "not a clear message: {body}");
    assert_eq!(
        tmp_files(&server.data),
        0,
        "the partial blob stayed in tmp/"
    );
    assert_eq!(
        blob_files(&server.data),
        blobs_before,
        "a partial blob stayed"
    );
    assert_eq!(status_of(&client, &server.url, &big.lookup()), 404);
    assert_eq!(
        healthz(&server.url).0,
        200,
        "a full blob write broke the store"
    );
    check_all(&server, &acked, &statuses);
    // Space is back (the partial blob was removed): accepted, no restart.
    let s = Submission::new(
        "after a blob filled the disk".into(),
        &[5000],
        &recipients,
        &mut rng,
    );
    assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
    acked.push(s);
    eprintln!("a blob filled the disk: 507, nothing left behind, accepted again at once");

    // 2. The disk fills under the metadata: every byte taken, then status
    //    changes (metadata only, no blob) until sled's log cannot grow.
    let filler = mount.join("filler");
    let filled = fill(&filler);
    let mut tries = 0;
    let refused = loop {
        tries += 1;
        assert!(
            tries <= 2000,
            "2000 status changes on a full disk all succeeded"
        );
        let status = if tries % 2 == 0 {
            "in_review"
        } else {
            "investigating"
        };
        let (code, body) = set_status(&server, &first_case, status);
        match code {
            200 => statuses[0].1 = status,
            507 => break body,
            other => panic!("status change on a full disk: {other} {body}"),
        }
    };
    assert_eq!(error_code(&refused), "storage_full", "{refused}");
    let (code, body) = healthz(&server.url);
    assert_eq!(code, 503, "{body}");
    assert_eq!(error_code(&body), "storage_unhealthy", "{body}");
    let s = Submission::new("while full".into(), &[], &recipients, &mut rng);
    assert_eq!(submit(&client, &server.url, &s).unwrap().0, 507);

    // Space comes back, but sled stays broken: the store keeps refusing
    // writes (and says so on /healthz) until the restart.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(healthz(&server.url).0, 503);
    let (code, body) = submit(&client, &server.url, &s).unwrap();
    assert_eq!(
        (code, error_code(&body).as_str()),
        (507, "storage_full"),
        "{body}"
    );
    // Reads still work meanwhile.
    assert_eq!(status_of(&client, &server.url, &acked[0].lookup()), 200);

    let exit = server.stop();
    server.spawn();
    assert_eq!(healthz(&server.url).0, 200);
    check_all(&server, &acked, &statuses);
    let s = Submission::new("after the restart".into(), &[7000], &recipients, &mut rng);
    assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
    acked.push(s);
    check_all(&server, &acked, &statuses);
    let verify = wbs_server(&server, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
    eprintln!(
        "the metadata filled the disk ({filled} bytes of filler, {tries} status changes): 507, \
         /healthz 503 until the restart (the stopping server exited {exit}), then everything \
         acknowledged was there and submissions were accepted again"
    );
}

#[test]
fn a_full_disk_answers_507_keeps_everything_and_recovers() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: needs Linux mount namespaces");
        return;
    }
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        eprintln!("skipped: cannot create a mount namespace here (needs root and unshare)");
        return;
    }
    // Build the binaries before entering the namespace (the child's
    // temporary directory is the small tmpfs).
    wbs_e2e::bin("wbs-server");
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "mount -t tmpfs -o size={DISK},mode=0700 wbs-e2e-full-disk \"$0\" || exit {CANNOT_MOUNT}; \
         exec \"$@\""
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(dir.path())
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .env("TMPDIR", dir.path());
    let out = run_bounded(cmd, Duration::from_secs(240));
    match out.status.code() {
        Some(CANNOT_MOUNT) => eprintln!("skipped: cannot mount a tmpfs here (needs root)"),
        _ => {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            assert!(
                out.status.success(),
                "the test inside the namespace failed:\n{}",
                text(&out)
            );
        }
    }
}
