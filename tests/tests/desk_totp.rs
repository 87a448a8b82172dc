//! TOTP for the desk API with the real binaries: `wbs-server token add
//! --totp` and `token totp` through the running server's control socket,
//! `token list`, and `wbs-desk` with and without codes: missing, wrong and
//! replayed codes refused, a re-enrolled secret replacing the old one, and
//! `require_totp` refusing a token without TOTP. Codes are computed here
//! from the `otpauth://` URI with an HMAC-SHA1 of the test's own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use wbs_e2e::{bin, run_fail, run_ok, ServerOptions, TestServer};

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The RFC 6238 code of `secret` at `unix` seconds.
fn code_at(secret: &[u8], unix: u64) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).unwrap();
    mac.update(&(unix / 30).to_be_bytes());
    let d = mac.finalize().into_bytes();
    let o = (d[19] & 15) as usize;
    let v = u32::from_be_bytes([d[o] & 0x7f, d[o + 1], d[o + 2], d[o + 3]]) % 1_000_000;
    format!("{v:06}")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The secret in an enrolment's standard output (its otpauth URI).
fn secret_of(stdout: &str) -> Vec<u8> {
    let uri = stdout
        .lines()
        .find(|l| l.starts_with("otpauth://"))
        .unwrap_or_else(|| panic!("no otpauth URI in {stdout:?}"));
    assert!(
        uri.contains("issuer=WBS&algorithm=SHA1&digits=6&period=30"),
        "{uri}"
    );
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap();
    base32_decode(secret)
}

fn admin(server: &TestServer) -> Command {
    let mut cmd = Command::new(bin("wbs-server"));
    cmd.arg("--config").arg(&server.config);
    cmd
}

fn desk(server: &TestServer, token_file: &Path) -> Command {
    let mut cmd = Command::new(bin("wbs-desk"));
    cmd.arg("cases")
        .arg("--server")
        .arg(&server.desk_url)
        .arg("--token-file")
        .arg(token_file)
        .env_remove("WBS_TOTP_CODE")
        .stdin(Stdio::null());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn totp_enrolment_and_the_desk_api() {
    let mut server = TestServer::start(ServerOptions::default());
    let plain = server.token_file().to_path_buf();

    // Enrolled while the server runs (through its control socket).
    let out = run_ok(admin(&server).args(["token", "add", "siti", "--totp"]));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let token = stdout.lines().last().unwrap().to_string();
    assert!(
        token.starts_with("wbs_"),
        "the token is the last line: {stdout}"
    );
    let first = secret_of(&stdout);
    let err = stderr(&out);
    assert!(err.contains("done by the running server"), "{err}");
    assert!(
        err.contains('\u{2580}') || err.contains('\u{2584}'),
        "no QR code: {err}"
    );
    assert!(!err.contains("otpauth://"), "{err}");
    let token_file: PathBuf = server.dir.path().join("siti.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();

    let list = String::from_utf8(run_ok(admin(&server).args(["token", "list"])).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("siti\t") && l.ends_with("\ttotp")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("desk1\t") && l.ends_with("\tno totp")),
        "{list}"
    );

    // No code: the server asks for one (no terminal here to prompt on).
    let out = run_fail(&mut desk(&server, &token_file));
    assert!(stderr(&out).contains("totp_required"), "{}", stderr(&out));
    // A wrong code.
    let right = code_at(&first, now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let out = run_fail(desk(&server, &token_file).args(["--totp-code", &wrong]));
    assert!(stderr(&out).contains("totp_wrong"), "{}", stderr(&out));
    // The right code works once, from the flag or the environment...
    run_ok(desk(&server, &token_file).args(["--totp-code", &right]));
    let out = run_fail(desk(&server, &token_file).env("WBS_TOTP_CODE", &right));
    assert!(stderr(&out).contains("totp_wrong"), "{}", stderr(&out));
    // ...and the next step's code once more.
    let next = code_at(&first, now() + 30);
    run_ok(desk(&server, &token_file).env("WBS_TOTP_CODE", &next));
    // A token without TOTP still works alone.
    run_ok(&mut desk(&server, &plain));

    // Resetting needs siti's token: desk1's is refused.
    let out = with_stdin(
        admin(&server).args(["token", "totp", "siti"]),
        &std::fs::read_to_string(&plain).unwrap(),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not \"siti\"'s"), "{}", stderr(&out));
    let out = with_stdin(admin(&server).args(["token", "totp", "siti"]), &token);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = secret_of(&String::from_utf8(out.stdout).unwrap());
    assert_ne!(first, second);
    let t = now();
    if code_at(&first, t) != code_at(&second, t) {
        let out = run_fail(desk(&server, &token_file).args(["--totp-code", &code_at(&first, t)]));
        assert!(stderr(&out).contains("totp_wrong"), "{}", stderr(&out));
    }
    let before = server.log_text().len();
    run_ok(desk(&server, &token_file).args(["--totp-code", &code_at(&second, t)]));

    // Nothing secret in the server's output (once the last action's line,
    // and so every line before it, has come through).
    server.log_after(before, &["action=\"list_cases\""]);
    let log = server.log_text();
    for secret in [token.as_str(), &right, &next] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }

    // require_totp: the plain token is refused, with a hint to enrol.
    server.stop();
    let mut config = std::fs::read_to_string(&server.config).unwrap();
    config.push_str("\n[desk]\nrequire_totp = true\n");
    std::fs::write(&server.config, config).unwrap();
    server.spawn();
    let out = run_fail(&mut desk(&server, &plain));
    assert!(
        stderr(&out).contains("totp_not_enrolled"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("token totp"), "{}", stderr(&out));
    run_ok(desk(&server, &token_file).args(["--totp-code", &code_at(&second, now() + 30)]));
    // The last accepted step survived the restart: that code is spent.
    let out = run_fail(desk(&server, &token_file).args(["--totp-code", &code_at(&second, t)]));
    assert!(stderr(&out).contains("totp_wrong"), "{}", stderr(&out));
}
