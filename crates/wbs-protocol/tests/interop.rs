//! Objects written by wbs-protocol are standard age files: the `age`
//! command-line tool (the Go reference implementation, Debian package `age`)
//! decrypts them with the same identity, and we decrypt what it writes.
//!
//! CI installs `age`; on a machine without it these tests fail loudly rather
//! than pass silently.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use secrecy::ExposeSecret;
use wbs_protocol::envelope::{decrypt_stream, encrypt_padded};
use wbs_protocol::message::{Document, Reply, REPLY_FORMAT};
use wbs_protocol::ReceiptCode;

fn age_cli() -> &'static str {
    assert!(
        Command::new("age").arg("--version").output().is_ok(),
        "the `age` command-line tool is required for interoperability tests (apt-get install age)"
    );
    "age"
}

#[test]
fn age_cli_decrypts_our_files() {
    let dir = tempfile::tempdir().unwrap();
    let identity = age::x25519::Identity::generate();
    let key_path = dir.path().join("key.txt");
    std::fs::write(&key_path, identity.to_string().expose_secret()).unwrap();
    let other = age::x25519::Identity::generate().to_public();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut ct = Vec::new();
    encrypt_padded(&[other, identity.to_public()], &data[..], 0, &mut ct).unwrap();
    let ct_path = dir.path().join("obj.age");
    std::fs::write(&ct_path, &ct).unwrap();
    let out = Command::new(age_cli())
        .arg("-d")
        .arg("-i")
        .arg(&key_path)
        .arg(&ct_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&out.stdout[..data.len()], &data[..]);
    assert!(out.stdout[data.len()..].iter().all(|&b| b == 0));
}

#[test]
fn we_decrypt_the_age_cli_files_with_a_receipt_derived_identity() {
    // The reporter's reply identity, derived from the code, reads what the
    // age tool encrypted to the derived recipient.
    let code = ReceiptCode::generate();
    let recipient = code.reply_recipient().to_string();
    let reply = br#"{"format":"wbs-reply/1","body":"Terima kasih atas laporan Anda."}"#;
    let mut child = Command::new(age_cli())
        .args(["-r", &recipient])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(reply).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let parsed = Reply::open(&code.reply_identity(), &out.stdout).unwrap();
    assert_eq!(parsed.format, REPLY_FORMAT);
    assert_eq!(parsed.body, "Terima kasih atas laporan Anda.");

    let mut plain = Vec::new();
    decrypt_stream(&code.reply_identity(), &out.stdout[..])
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, reply);
}
