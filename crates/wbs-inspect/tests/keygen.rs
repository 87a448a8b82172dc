//! `wbs-inspect keygen`: the files it writes, that other age tools accept
//! them, and that it never overwrites anything.
//!
//! The interoperability tests run the `age` command line tool. It must be
//! installed (Debian: `apt-get install age`); set WBS_SKIP_AGE_CLI=1 to
//! skip those tests on a machine without it.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use wbs_protocol::envelope::{encrypt_document, parse_recipient};
use wbs_protocol::ReceiptCode;

fn keygen(dir: &Path, name: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "keygen".to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--name".into(),
        name.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args)
}

/// The recipient in a .pub file: comment lines, then `age1…`.
fn recipient_of(pub_file: &Path) -> String {
    let text = fs::read_to_string(pub_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (last, comments) = lines.split_last().unwrap();
    assert!(!comments.is_empty(), "a .pub file says what it is");
    assert!(comments.iter().all(|l| l.starts_with('#')), "{text}");
    parse_recipient(last).unwrap();
    last.to_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn age_cli_available() -> bool {
    if std::env::var_os("WBS_SKIP_AGE_CLI").is_some() {
        return false;
    }
    let found = Command::new("age")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "the `age` command is needed for this test (apt-get install age), \
         or set WBS_SKIP_AGE_CLI=1"
    );
    true
}

#[test]
fn no_passphrase_key_is_plain_private_and_read_by_the_age_cli() {
    let dir = tempfile::tempdir().unwrap();
    let run = keygen(dir.path(), "demo", &["--no-passphrase"]);
    let printed = run.success().trim_end().to_string();
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("NOT protected"),
        "{}",
        run.stderr
    );

    let key = dir.path().join("demo.key");
    let public = dir.path().join("demo.pub");
    #[cfg(unix)]
    {
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&public), 0o644);
    }
    let recipient = recipient_of(&public);
    assert_eq!(printed, recipient);
    let text = fs::read_to_string(&key).unwrap();
    assert!(
        text.contains(&format!("# public key: {recipient}\n")),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .count(),
        1
    );

    if age_cli_available() {
        let ct =
            encrypt_document(&[parse_recipient(&recipient).unwrap()], b"laporan rahasia").unwrap();
        let ct_path = write(dir.path(), "msg.age", &ct);
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key)
            .arg(&ct_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.starts_with(b"laporan rahasia"));
    }
}

#[test]
fn passphrase_key_is_an_age_scrypt_file_that_opens_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(
        dir.path(),
        "pw.txt",
        b"kata sandi panjang sekali\nignored second line\n",
    );
    let run = keygen(
        dir.path(),
        "inspektorat",
        &["--passphrase-file", pw.to_str().unwrap()],
    );
    let printed = run.success().trim_end().to_string();
    assert_eq!(run.stderr, "");

    let key = dir.path().join("inspektorat.key");
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
    let bytes = fs::read(&key).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    assert!(!String::from_utf8_lossy(&bytes).contains("AGE-SECRET-KEY"));
    let recipient = recipient_of(&dir.path().join("inspektorat.pub"));
    assert_eq!(printed, recipient);

    // A bundle encrypted to the new .pub opens with the protected key.
    let r = ReceiptCode::generate().reply_recipient().to_string();
    let rep = report("Kunci baru", &r, vec![]);
    let case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[parse_recipient(&recipient).unwrap()], &rep, &[]),
    );
    let bundle_path = write(dir.path(), "b.tar", &bundle(&[case], &[]));
    let out = dir.path().join("out");
    let open = |pw: &Path| {
        common::run([
            "open".as_ref(),
            bundle_path.as_os_str(),
            "--identity".as_ref(),
            key.as_os_str(),
            "--passphrase-file".as_ref(),
            pw.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
    };
    let wrong = write(dir.path(), "wrong.txt", b"kata sandi pendek\n");
    assert_eq!(
        open(&wrong).failure(),
        format!(
            "wbs-inspect: wrong passphrase for identity file {}",
            key.display()
        )
    );
    open(&pw).success();
    let reply_to = fs::read_to_string(out.join("case-1/reply-to.json")).unwrap();
    assert!(reply_to.contains(&recipient));
}

#[test]
fn passphrase_key_is_read_by_the_age_cli() {
    // `age` asks for the passphrase on a terminal only: `script` gives it one.
    if !age_cli_available() {
        return;
    }
    let has_script = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        has_script,
        "`script` (util-linux) is needed, or set WBS_SKIP_AGE_CLI=1"
    );

    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw.txt", b"rahasia negara\n");
    let recipient = keygen(
        dir.path(),
        "k",
        &["--passphrase-file", pw.to_str().unwrap()],
    )
    .success()
    .trim_end()
    .to_string();
    let ct = encrypt_document(&[parse_recipient(&recipient).unwrap()], b"isi laporan").unwrap();
    write(dir.path(), "msg.age", &ct);
    let mut child = Command::new("script")
        .args(["-qec", "age -d -i k.key -o plain.txt msg.age", "/dev/null"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"rahasia negara\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(fs::read(dir.path().join("plain.txt"))
        .unwrap()
        .starts_with(b"isi laporan"));
}

#[test]
fn keygen_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "k", &["--no-passphrase"]).success();
    let key_before = fs::read(dir.path().join("k.key")).unwrap();
    let pub_before = fs::read(dir.path().join("k.pub")).unwrap();
    let again = keygen(dir.path(), "k", &["--no-passphrase"]);
    assert_eq!(
        again.failure(),
        format!(
            "wbs-inspect: {} already exists; refusing to overwrite it",
            dir.path().join("k.key").display()
        )
    );
    assert_eq!(fs::read(dir.path().join("k.key")).unwrap(), key_before);
    assert_eq!(fs::read(dir.path().join("k.pub")).unwrap(), pub_before);

    // A lone .pub in the way: no key is made either.
    fs::write(dir.path().join("j.pub"), b"mine").unwrap();
    assert!(keygen(dir.path(), "j", &["--no-passphrase"])
        .failure()
        .contains("j.pub already exists"));
    assert!(!dir.path().join("j.key").exists());
    assert_eq!(fs::read(dir.path().join("j.pub")).unwrap(), b"mine");
}

#[test]
fn keygen_without_a_terminal_asks_for_a_passphrase_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    let run = run_without_terminal([
        "keygen".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--name".as_ref(),
        "k".as_ref(),
    ]);
    assert!(
        run.failure().contains("--passphrase-file"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn keygen_refuses_bad_names_and_flag_combinations() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["../k", "a/b", ".k", ""] {
        let run = keygen(dir.path(), name, &["--no-passphrase"]);
        assert!(
            run.failure().contains("invalid key name"),
            "{name:?}: {}",
            run.stderr
        );
    }
    let pw = write(dir.path(), "pw", b"x\n");
    let run = keygen(
        dir.path(),
        "k",
        &["--no-passphrase", "--passphrase-file", pw.to_str().unwrap()],
    );
    assert_eq!(run.code, Some(2));
    run.failure();
    let empty = write(dir.path(), "empty", b"\n");
    assert!(keygen(
        dir.path(),
        "k",
        &["--passphrase-file", empty.to_str().unwrap()]
    )
    .failure()
    .contains("empty"));
    assert_eq!(tree(dir.path()), ["empty", "pw"]);
}
