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
    let pw = write(dir.path(), "pw.txt", b"rahasia negara kita\n");
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
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"rahasia negara kita\n").unwrap();
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

#[test]
fn keygen_refuses_a_weak_passphrase_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (weak, why)) in [
        (
            "rahasia negara",
            "it has 14 characters, and at least 16 are needed",
        ),
        ("bukanpasswordku", "it has 15 characters"),
        ("sandisandisandisa", "only of lower-case letters"),
        (
            "Password12345678",
            "patterns that guessing programs try first",
        ),
        (
            "qwerty qwerty qwerty",
            "patterns that guessing programs try first",
        ),
    ]
    .iter()
    .enumerate()
    {
        let pw = write(
            dir.path(),
            &format!("pw{i}"),
            format!("{weak}\n").as_bytes(),
        );
        let run = keygen(
            dir.path(),
            "k",
            &["--passphrase-file", pw.to_str().unwrap()],
        );
        let line = run.failure();
        assert!(
            line.contains("is weak") && line.contains(why),
            "{weak:?}: {line}"
        );
        assert!(line.contains("press Enter"), "{line}");
        assert!(
            !line.contains(weak),
            "the passphrase is never printed: {line}"
        );
    }
    // Nothing was made.
    assert!(tree(dir.path()).iter().all(|f| f.starts_with("pw")));
}

/// Runs `keygen` on a terminal (`script` gives it one) and answers its
/// prompts: a weak passphrase first, then Enter to have one made.
#[test]
fn keygen_makes_a_strong_passphrase_on_request_and_shows_it_once() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "{} keygen --out {} --name k",
        env!("CARGO_BIN_EXE_wbs-inspect"),
        dir.path().join("keys").display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) is needed");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut transcript = String::new();
    // Waits until `needle` is in the transcript after byte `from`.
    let wait_for = |needle: &str, from: usize, transcript: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !transcript[from..].contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(bytes) => transcript.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {needle:?} in:\n{transcript}"),
            }
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let prompt = "or press Enter to have a strong one made";
    wait_for(prompt, 0, &mut transcript);
    let asked = transcript.len();
    stdin.write_all(b"rahasia negara\n").unwrap();
    wait_for(
        "that passphrase is weak: it has 14 characters",
        asked,
        &mut transcript,
    );
    // Asked again.
    wait_for(prompt, asked, &mut transcript);
    let asked = transcript.len();
    stdin.write_all(b"\n").unwrap();
    wait_for("Type it to confirm", asked, &mut transcript);
    let generated = transcript
        .split_whitespace()
        .find(|w| {
            w.len() == 29
                && w.split('-').count() == 6
                && w.split('-')
                    .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .unwrap_or_else(|| panic!("no generated passphrase in:\n{transcript}"))
        .to_string();
    assert!(transcript.contains("120 random bits"), "{transcript}");
    // Shown once by the tool. (Counted before it is typed back: a terminal
    // may echo what is typed before the prompt turns echo off.)
    assert_eq!(
        transcript.matches(&generated).count(),
        1,
        "shown once: {transcript}"
    );

    stdin
        .write_all(format!("{generated}\n").as_bytes())
        .unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    // Whatever is left of the output.
    while let Ok(bytes) = rx.recv_timeout(Duration::from_millis(200)) {
        transcript.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(status.success(), "{transcript}");

    // The key opens with the generated passphrase.
    let key = dir.path().join("keys/k.key");
    let recipient = recipient_of(&dir.path().join("keys/k.pub"));
    let r = ReceiptCode::generate().reply_recipient().to_string();
    let rep = report("Kunci baru", &r, vec![]);
    let case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[parse_recipient(&recipient).unwrap()], &rep, &[]),
    );
    let bundle_path = write(dir.path(), "b.tar", &bundle(&[case], &[]));
    let pw = write(dir.path(), "pw.txt", format!("{generated}\n").as_bytes());
    common::run([
        "open".as_ref(),
        bundle_path.as_os_str(),
        "--identity".as_ref(),
        key.as_os_str(),
        "--passphrase-file".as_ref(),
        pw.as_os_str(),
        "--out".as_ref(),
        dir.path().join("out").as_os_str(),
    ])
    .success();
}
