//! Decrypted documents as the air-gapped tool and the reporter's client
//! parse them (`Document::parse`): the plaintext is whatever a sender chose
//! to encrypt. Never a panic; whatever parses survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbs_protocol::message::{Document, FollowUp, Reply, Report};

fn round_trip<D: Document + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(doc) = D::parse(data) {
        let again = serde_json::to_vec(&doc).unwrap();
        assert_eq!(D::parse(&again).unwrap(), doc);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Report>(data);
    round_trip::<FollowUp>(data);
    round_trip::<Reply>(data);
});
