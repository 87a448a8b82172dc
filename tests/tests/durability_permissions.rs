//! The data directory and everything in it belong to the server's user
//! alone: 0700 for directories, 0600 for files, whatever the umask the
//! server was started under, and a data directory other users can enter is
//! refused at start with a message that says what to run. Backups written
//! by `wbs-server backup` are 0600 too.

mod durability;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use durability::{run_bounded, submit, text, Submission};
use wbs_e2e::{bin, run_ok, ServerOptions, TestServer};

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Every path under `root` (itself included) that is not 0700 (directory)
/// or 0600 (anything else).
fn not_private(root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode_of(&p) != want {
            bad.push(format!("{} is {:04o}", p.display(), mode_of(&p)));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    bad
}

#[test]
fn under_umask_000_the_data_directory_and_every_file_in_it_are_private() {
    let mut server = TestServer::start(ServerOptions {
        umask: Some(0o000),
        ..Default::default()
    });
    let mut files = 0;
    let mut rng = rand::thread_rng();
    let recipients = durability::recipients(&server);
    for i in 0..3 {
        let sizes = &[3_000, 70_000][..i % 3];
        let s = Submission::new(format!("laporan {i}"), sizes, &recipients, &mut rng);
        let (status, body) = submit(&durability::client(), &server.url, &s).unwrap();
        assert_eq!(status, 201, "{body}");
    }
    // A desk export and a backup through the running server.
    let (cases, _) = durability::export(&server, 0);
    assert_eq!(cases.len(), 3);
    let backup = server.dir.path().join("backup.tar");
    let out = run_ok(
        server
            .server_command()
            .arg("--config")
            .arg(&server.config)
            .arg("backup")
            .arg("--out")
            .arg(&backup),
    );
    assert!(out.status.success());
    assert_eq!(mode_of(&backup), 0o600, "the backup file");

    // The server sets its own umask, so that what sled creates later (its
    // snapshots, after many writes) is private too.
    let status = format!("/proc/{}/status", server.pid().unwrap());
    if let Ok(status) = std::fs::read_to_string(status) {
        let umask = status.lines().find(|l| l.starts_with("Umask:"));
        assert_eq!(
            umask.map(|l| l.split_whitespace().nth(1)),
            Some(Some("0077"))
        );
    }
    // While running (sled's files, blobs, the control socket) ...
    assert_eq!(not_private(&server.data), Vec::<String>::new());
    // ... and after a clean stop (sled writes its snapshot then).
    server.stop();
    assert_eq!(not_private(&server.data), Vec::<String>::new());
    for p in wbs_e2e::files_under(&server.data) {
        files += usize::from(p.starts_with(server.data.join("db")));
    }
    assert!(files >= 2, "sled's files were checked");

    // A restore under umask 000, into a new directory.
    let restored = server.dir.path().join("restored");
    let out = run_ok(
        server
            .server_command()
            .arg("--config")
            .arg(&server.config)
            .arg("restore")
            .arg(&backup)
            .arg("--data")
            .arg(&restored),
    );
    assert!(out.status.success());
    assert_eq!(not_private(&restored), Vec::<String>::new());
}

/// Starts `wbs-server` on `config`; it must refuse. Returns its stderr.
fn start_must_fail(server: &TestServer, args: &[&str]) -> String {
    let mut cmd = Command::new(bin("wbs-server"));
    cmd.arg("--config").arg(&server.config).args(args);
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert!(!out.status.success(), "it ran: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("serving"), "it listened: {stderr}");
    stderr
}

#[test]
fn a_data_directory_other_users_can_read_is_refused() {
    let mut server = TestServer::start(ServerOptions::default());
    let s = Submission::new(
        "laporan".into(),
        &[],
        &durability::recipients(&server),
        &mut rand::thread_rng(),
    );
    let (status, body) = submit(&durability::client(), &server.url, &s).unwrap();
    assert_eq!(status, 201, "{body}");
    server.stop();
    let before = not_private(&server.data);
    assert_eq!(before, Vec::<String>::new());

    for mode in [0o755, 0o750, 0o711] {
        std::fs::set_permissions(&server.data, std::fs::Permissions::from_mode(mode)).unwrap();
        let want = format!("chmod 700 {}", server.data.display());
        for args in [&[][..], &["token", "add", "someone"], &["verify"]] {
            let stderr = start_must_fail(&server, args);
            assert!(stderr.contains(&want), "{args:?}: {stderr}");
            assert!(stderr.contains("other users"), "{args:?}: {stderr}");
        }
        // Refused, not "fixed": the operator must see it.
        assert_eq!(mode_of(&server.data), mode);
    }

    // A restore into an existing empty directory others can enter: refused.
    let target = server.dir.path().join("mount-point");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backup = server.dir.path().join("b.tar");
    std::fs::set_permissions(&server.data, std::fs::Permissions::from_mode(0o700)).unwrap();
    run_ok(
        Command::new(bin("wbs-server"))
            .arg("--config")
            .arg(&server.config)
            .args(["backup", "--out"])
            .arg(&backup),
    );
    let stderr = start_must_fail(
        &server,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--data",
            target.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("chmod 700"), "{stderr}");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);

    // Fixed as the message says, the server starts and serves the case.
    server.spawn();
    assert_eq!(durability::export(&server, 0).0.len(), 1);
}
