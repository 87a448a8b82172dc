//! The C2SP CCTV age vectors for the `mlkem768x25519` recipient type
//! (`testdata/cctv/`, see its SOURCE.md): every one is run, each that must
//! succeed decrypts to its stated payload, each that must fail fails for its
//! stated reason. They are read through `envelope::age_decryptor`, the
//! header reader every WBS program decrypts with.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use wbs_protocol::pq;

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<Box<dyn age::Identity>>,
    file: Vec<u8>,
}

fn parse(name: &str, bytes: &[u8]) -> Vector {
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or_else(|| panic!("{name}: no blank line after the header"));
    let header = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut body = bytes[split + 2..].to_vec();
    let mut vector = Vector {
        name: name.to_owned(),
        expect: String::new(),
        payload: None,
        identities: Vec::new(),
        file: Vec::new(),
    };
    for line in header.lines() {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: bad header line {line:?}"));
        match key {
            "expect" => vector.expect = value.to_owned(),
            "payload" => vector.payload = Some(value.to_owned()),
            "identity" if value.starts_with("AGE-SECRET-KEY-PQ-1") => vector
                .identities
                .push(Box::new(value.parse::<pq::Identity>().unwrap())),
            "identity" => vector
                .identities
                .push(Box::new(value.parse::<age::x25519::Identity>().unwrap())),
            "compressed" => {
                assert_eq!(value, "zlib", "{name}");
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                body = out;
            }
            "file key" | "comment" => {}
            "armored" | "passphrase" => panic!("{name}: {key} is not expected in these vectors"),
            other => panic!("{name}: unknown header {other}"),
        }
    }
    assert!(!vector.identities.is_empty(), "{name}");
    vector.file = body;
    vector
}

/// Decrypts as far as possible: the plaintext released, and how it ended.
fn run(v: &Vector) -> (Vec<u8>, Result<(), String>) {
    let decryptor = match wbs_protocol::envelope::age_decryptor(&v.file[..]) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(outcome(&e))),
    };
    let mut reader = match decryptor.decrypt(v.identities.iter().map(|i| i.as_ref())) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(outcome(&e))),
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, Err("payload failure".into())),
        }
    }
}

fn outcome(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => "no match".into(),
        // The age crate reports a header it cannot parse at all (here, a
        // non-canonical base64 body line) as an unknown format; its own run
        // of these vectors (age 0.12, tests/testkit.rs) counts that as a
        // header failure too.
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            "header failure".into()
        }
        age::DecryptError::InvalidMac => "HMAC failure".into(),
        other => format!("other error: {other}"),
    }
}

#[test]
fn every_cctv_hybrid_vector() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/cctv");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("hybrid"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 18, "{names:?}");
    let mut seen_success = 0;
    for name in &names {
        let v = parse(name, &std::fs::read(dir.join(name)).unwrap());
        let (plaintext, result) = run(&v);
        match v.expect.as_str() {
            "success" => {
                assert_eq!(result, Ok(()), "{}", v.name);
                seen_success += 1;
            }
            expected => assert_eq!(result, Err(expected.to_owned()), "{}", v.name),
        }
        if let Some(hash) = &v.payload {
            assert_eq!(
                &wbs_protocol::hex(&Sha256::digest(&plaintext)),
                hash,
                "{}",
                v.name
            );
        }
    }
    assert_eq!(seen_success, 4);
}
