//! Post-quantum keys and stanzas from anywhere: recipient and identity
//! strings (a `.pub` file, an identity file, a server's config answer) and
//! `mlkem768x25519` stanzas from a hostile age file. Parsing never panics,
//! a recipient that parses prints back to a string that parses to it, and
//! unwrapping a stanza with an identity never panics whatever its argument
//! and body.
#![no_main]

use std::sync::OnceLock;

use age_core::format::Stanza;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use wbs_protocol::keys::{parse_recipient, Identity};
use wbs_protocol::pq;

static IDENTITY: OnceLock<pq::Identity> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = parse_recipient(&text) {
        let printed = r.to_string();
        assert_eq!(parse_recipient(&printed).unwrap().to_string(), printed);
    }
    let _ = text.parse::<Identity>();

    let identity = IDENTITY.get_or_init(|| pq::Identity::from_seed(&[7; 32]));
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Either the bytes as the argument's text, or (more often reaching the
    // decapsulation) the first 1,120 bytes as a canonical argument.
    let (arg, body) = if mode & 1 == 0 {
        let cut = rest.len().min(pq::ENC_B64_LEN);
        (
            String::from_utf8_lossy(&rest[..cut]).into_owned(),
            &rest[cut..],
        )
    } else {
        let cut = rest.len().min(pq::ENC_LEN);
        (
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&rest[..cut]),
            &rest[cut..],
        )
    };
    let stanza = Stanza {
        tag: pq::STANZA_TAG.into(),
        args: vec![arg],
        body: body.to_vec(),
    };
    let _ = age::Identity::unwrap_stanza(identity, &stanza);
});
