//! typage (the `age-encryption` npm package the browser client uses,
//! web/node_modules, 0.3.1) and this crate read each other's
//! `mlkem768x25519` files, with identities made by either side.
//!
//! The test drives typage through `web/test/interop/typage-pq.mjs` with
//! `node`. CI has both; on a machine without them the test fails, it does
//! not skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use secrecy::ExposeSecret;
use wbs_protocol::envelope::{decrypt_document, encrypt_document};
use wbs_protocol::pq;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

fn typage(args: &[&str]) -> String {
    let script = web_dir().join("test/interop/typage-pq.mjs");
    assert!(
        web_dir()
            .join("node_modules/age-encryption/package.json")
            .exists(),
        "typage is missing: run `npm ci` in web/"
    );
    let out = Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .expect("`node` is required for the typage interoperability test");
    assert!(
        out.status.success(),
        "typage {}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sample() -> Vec<u8> {
    (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// typage encrypts to `recipient`; we decrypt with `identity`.
fn typage_to_rust(dir: &Path, recipient: &str, identity: &pq::Identity) {
    let data = sample();
    std::fs::write(dir.join("plain"), &data).unwrap();
    let (plain, ct) = (dir.join("plain"), dir.join("from-typage.age"));
    typage(&[
        "encrypt",
        recipient,
        plain.to_str().unwrap(),
        ct.to_str().unwrap(),
    ]);
    let file = std::fs::read(&ct).unwrap();
    assert!(
        std::str::from_utf8(&file[..200])
            .unwrap_or("")
            .contains("\n-> mlkem768x25519 "),
        "typage wrote a hybrid stanza"
    );
    let back = decrypt_document(identity, &file, 1 << 20).unwrap();
    assert_eq!(&back[..], &data[..]);
}

/// We encrypt to `recipient`; typage decrypts with the identity in `key_file`.
fn rust_to_typage(dir: &Path, recipient: &pq::Recipient, key_file: &Path) {
    let data = sample();
    let ct = encrypt_document(std::slice::from_ref(recipient), &data).unwrap();
    let (ct_path, out) = (dir.join("from-rust.age"), dir.join("out"));
    std::fs::write(&ct_path, &ct).unwrap();
    typage(&[
        "decrypt",
        key_file.to_str().unwrap(),
        ct_path.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let back = std::fs::read(&out).unwrap();
    // The document is padded with spaces to its PADMÉ length.
    assert_eq!(&back[..data.len()], &data[..]);
    assert!(back[data.len()..].iter().all(|&b| b == b' '));
}

#[test]
fn typage_identity_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = typage(&["keygen"]);
    let mut lines = keygen.lines();
    let (identity, recipient) = (lines.next().unwrap(), lines.next().unwrap());
    let key_file = dir.path().join("typage.key");
    std::fs::write(&key_file, identity).unwrap();
    let ours: pq::Identity = identity.parse().unwrap();
    // Both sides derive the same recipient from the seed.
    assert_eq!(ours.to_public().to_string(), recipient);
    typage_to_rust(dir.path(), recipient, &ours);
    rust_to_typage(dir.path(), &recipient.parse().unwrap(), &key_file);
}

#[test]
fn rust_identity_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let ours = pq::Identity::generate();
    let key_file = dir.path().join("rust.key");
    std::fs::write(&key_file, ours.to_string().expose_secret()).unwrap();
    let recipient = ours.to_public();
    assert_eq!(
        typage(&["recipient", key_file.to_str().unwrap()]).trim(),
        recipient.to_string()
    );
    typage_to_rust(dir.path(), &recipient.to_string(), &ours);
    rust_to_typage(dir.path(), &recipient, &key_file);
}
