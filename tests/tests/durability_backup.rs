//! Backups and restores with the real binary.
//!
//! - `wbs-server backup --out FILE` while the server runs and takes
//!   submissions: the running server writes a consistent snapshot through
//!   its control socket; the file is checked and private (0600).
//! - `wbs-server restore FILE --data DIR` refuses a non-empty DIR, and a
//!   server started on the restored directory exports the same cases with
//!   the same objects, answers the same receipt codes, and accepts the
//!   same investigator token.
//! - Backups of an unchanged store are byte for byte the same; a damaged
//!   or truncated backup is refused and leaves nothing behind; a damaged
//!   blob in the store fails the backup, naming it.

mod durability;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use durability::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wbs_e2e::{files_under, ServerOptions, TestServer};
use wbs_protocol::message::{Document, FollowUp, FOLLOWUP_FORMAT};

/// Case id → (status, [(path, size, sha256)]), from an export.
type Summary = BTreeMap<String, (String, Vec<(String, u64, String)>)>;

fn summary(cases: &[ExportedCase]) -> Summary {
    cases
        .iter()
        .map(|c| {
            let mut objects: Vec<_> = c
                .manifest
                .objects
                .iter()
                .map(|o| (o.path.clone(), o.size, o.sha256.clone()))
                .collect();
            objects.sort();
            (
                c.manifest.id.clone(),
                (serde_json::to_string(&c.manifest.history).unwrap(), objects),
            )
        })
        .collect()
}

fn follow_up(server: &TestServer, s: &Submission) {
    use reqwest::blocking::multipart::{Form, Part};
    let message = FollowUp {
        format: FOLLOWUP_FORMAT.into(),
        id: None,
        body: "Ada bukti tambahan".into(),
        attachments: vec![],
        auth: None,
    }
    .seal(&recipients(server))
    .unwrap();
    let form = Form::new()
        .part(
            "meta",
            Part::text(serde_json::json!({ "lookup": s.lookup() }).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "message",
            Part::bytes(message)
                .file_name("m.age")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let resp = client()
        .post(format!("{}/api/v1/followups", server.url))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
}

fn set_status(server: &TestServer, case: &str, status: &str) {
    let resp = client()
        .post(format!(
            "{}/api/v1/desk/cases/{case}/status",
            server.desk_url
        ))
        .bearer_auth(token(server))
        .json(&serde_json::json!({ "status": status }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_backup_taken_under_load_restores_to_the_same_cases() {
    let mut server = TestServer::start(ServerOptions {
        extra_config: GENEROUS_LIMITS.into(),
        ..Default::default()
    });
    let client = client();
    let recipients = Arc::new(recipients(&server));
    let mut rng = StdRng::seed_from_u64(42);
    let mut before: Vec<Submission> = Vec::new();
    for i in 0..5 {
        let sizes = random_sizes(&mut rng);
        let s = Submission::new(format!("before {i}"), &sizes, &recipients, &mut rng);
        assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
        before.push(s);
    }
    follow_up(&server, &before[0]);
    let (cases, _) = export(&server, 0);
    set_status(&server, &cases[1].manifest.id, "investigating");

    // Reporters keep submitting while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let during: Arc<Mutex<Vec<Submission>>> = Arc::default();
    let load = {
        let (stop, during, recipients, url) = (
            stop.clone(),
            during.clone(),
            recipients.clone(),
            server.url.clone(),
        );
        std::thread::spawn(move || {
            let client = durability::client();
            let mut rng = StdRng::seed_from_u64(43);
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 500 {
                let sizes = random_sizes(&mut rng);
                let s = Submission::new(format!("during {n}"), &sizes, &recipients, &mut rng);
                assert_eq!(submit(&client, &url, &s).unwrap().0, 201);
                during.lock().unwrap().push(s);
                n += 1;
            }
        })
    };
    wait_until(
        "the load to start",
        std::time::Duration::from_secs(30),
        || during.lock().unwrap().len() >= 3,
    );
    let backup = server.dir.path().join("wbs-backup.tar");
    let out = wbs_server(&server, &["backup", "--out", path_str(&backup)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("backup written to"),
        "{}",
        text(&out)
    );
    let acked_before_backup_ended = during.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    wait_until(
        "the running server to log the backup it wrote",
        std::time::Duration::from_secs(10),
        || {
            server
                .log_text()
                .contains("backup taken through the control socket")
        },
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is readable by others");
    }
    let leftovers: Vec<_> = files_under(server.dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Never overwrites.
    let bytes = std::fs::read(&backup).unwrap();
    let out = wbs_server(&server, &["backup", "--out", path_str(&backup)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert_eq!(std::fs::read(&backup).unwrap(), bytes);

    let original = export(&server, 0).0;
    let original_summary = summary(&original);

    // Never into a directory that holds anything.
    let busy = server.dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"x").unwrap();
    let out = wbs_server(
        &server,
        &["restore", path_str(&backup), "--data", path_str(&busy)],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(files_under(&busy), vec![busy.join("keep.txt")]);

    let restored = server.dir.path().join("restored");
    let out = wbs_server(
        &server,
        &["restore", path_str(&backup), "--data", path_str(&restored)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = wbs_server(&server, &["verify", "--data", path_str(&restored)]);
    assert!(out.status.success(), "{}", text(&out));

    // A server on the restored directory.
    server.stop();
    let config = std::fs::read_to_string(&server.config).unwrap();
    let data_line = format!("data = {:?}", server.data.display().to_string());
    assert!(config.contains(&data_line));
    let restored_config = server.dir.path().join("restored.toml");
    std::fs::write(
        &restored_config,
        config.replace(
            &data_line,
            &format!("data = {:?}", restored.display().to_string()),
        ),
    )
    .unwrap();
    server.config = restored_config;
    server.data = restored.clone();
    server.spawn();

    let (restored_cases, _) = export(&server, 0);
    let restored_summary = summary(&restored_cases);
    // Every case in the backup is the original case, object for object;
    // all acknowledged before the backup began are in it, and at most
    // those acknowledged before it ended.
    for (id, case) in &restored_summary {
        assert_eq!(
            Some(case),
            original_summary.get(id),
            "case {id} differs from the original"
        );
    }
    let recipients_in: HashSet<&str> = restored_cases
        .iter()
        .map(|c| c.manifest.reply_recipient.as_str())
        .collect();
    for s in &before {
        assert!(
            recipients_in.contains(s.reply_recipient().as_str()),
            "{} lost",
            s.title
        );
        assert_eq!(status_of(&client, &server.url, &s.lookup()), 200);
    }
    let during = during.lock().unwrap();
    assert!(restored_cases.len() >= before.len());
    assert!(restored_cases.len() <= before.len() + acked_before_backup_ended);
    for case in &restored_cases {
        let s = before
            .iter()
            .chain(during.iter())
            .find(|s| s.reply_recipient() == case.manifest.reply_recipient)
            .expect("a restored case no one submitted");
        if s.title != "before 0" {
            check_case_matches(case, s, &server.keys[0].identity);
        } else {
            assert_eq!(
                case.objects.len(),
                s.objects() + 1,
                "the follow-up is missing"
            );
        }
    }
    // The restored store goes on: new submissions, the same token.
    let s = Submission::new("after the restore".into(), &[100], &recipients, &mut rng);
    assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
    eprintln!(
        "backup under load: {} cases before, {} submitted during the backup; the backup \
         holds {} cases, all identical after the restore",
        before.len(),
        acked_before_backup_ended,
        restored_cases.len()
    );
}

#[test]
fn backups_are_reproducible_and_damage_is_refused() {
    let mut server = TestServer::start(ServerOptions::default());
    let client = client();
    let recipients = recipients(&server);
    let mut rng = StdRng::seed_from_u64(44);
    let subs: Vec<Submission> = (0..3)
        .map(|i| {
            let s = Submission::new(
                format!("case {i}"),
                &[2000 + i * 1000],
                &recipients,
                &mut rng,
            );
            assert_eq!(submit(&client, &server.url, &s).unwrap().0, 201);
            s
        })
        .collect();
    server.stop();
    let dir = server.dir.path();

    // Server stopped: the command opens the store itself. The same store
    // gives the same bytes (unless the date turned between two backups).
    let backup = |name: &str| {
        let path = dir.join(name);
        let out = wbs_server(&server, &["backup", "--out", path_str(&path)]);
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read(&path).unwrap()
    };
    let (a, b) = (backup("a.tar"), backup("b.tar"));
    if a != b {
        assert_eq!(b, backup("c.tar"), "backups of an unchanged store differ");
    }

    // A damaged backup: one byte of a blob inside the tar.
    let blob = &subs[1].attachments_age[0];
    let at = a
        .windows(blob.len())
        .position(|w| w == &blob[..])
        .expect("the blob in the backup");
    let mut damaged = a.clone();
    damaged[at + blob.len() / 2] ^= 1;
    std::fs::write(dir.join("damaged.tar"), &damaged).unwrap();
    let target = dir.join("from-damaged");
    let out = wbs_server(
        &server,
        &[
            "restore",
            path_str(&dir.join("damaged.tar")),
            "--data",
            path_str(&target),
        ],
    );
    assert!(!out.status.success(), "a damaged backup was restored");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match its SHA-256"),
        "{}",
        text(&out)
    );
    assert!(!target.exists(), "a half restore was left behind");

    // A truncated backup: the last blob and the end of the archive cut off.
    std::fs::write(dir.join("short.tar"), &a[..at + 10]).unwrap();
    let out = wbs_server(
        &server,
        &[
            "restore",
            path_str(&dir.join("short.tar")),
            "--data",
            path_str(&target),
        ],
    );
    assert!(!out.status.success(), "a truncated backup was restored");
    assert!(!target.exists(), "a half restore was left behind");

    // Into an empty directory that exists (a mount point, say): fine, once
    // only its owner can enter it (durability_permissions.rs).
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let out = wbs_server(
        &server,
        &[
            "restore",
            path_str(&dir.join("a.tar")),
            "--data",
            path_str(&target),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    // A damaged blob in the store fails the backup, naming it, and leaves
    // no file behind.
    let in_store = files_under(&server.data.join("blobs"))
        .into_iter()
        .find(|p| std::fs::read(p).unwrap() == *blob)
        .unwrap();
    flip_byte(&in_store);
    let out = wbs_server(
        &server,
        &["backup", "--out", path_str(&dir.join("bad.tar"))],
    );
    assert!(!out.status.success(), "a damaged store was backed up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("attachments/1.age of case"), "{stderr}");
    assert!(stderr.contains("verify"), "{stderr}");
    assert!(!dir.join("bad.tar").exists());
    assert!(
        !files_under(dir)
            .iter()
            .any(|p| p.to_string_lossy().contains(".partial-")),
        "a partial backup was left behind"
    );
}
