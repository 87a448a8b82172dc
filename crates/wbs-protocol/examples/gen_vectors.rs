//! Writes the known-answer vectors that the Rust and JavaScript
//! implementations are both tested against:
//! `cargo run -p wbs-protocol --example gen_vectors > crates/wbs-protocol/tests/testdata/vectors.json`
//!
//! The codes are fixed, built from fixed data symbols with their check
//! symbols computed, so regenerating gives the same file.

use secrecy::ExposeSecret;
use serde_json::json;
use wbs_protocol::message::{AttachmentMeta, FollowUp, Reply, FOLLOWUP_FORMAT, REPLY_FORMAT};
use wbs_protocol::padding::padme;
use wbs_protocol::receipt::{ReceiptCode, ALPHABET};

fn with_check(data: &str) -> String {
    // Try all 1024 check values: the one that parses is the right one.
    for a in ALPHABET {
        for b in ALPHABET {
            let candidate = format!("{data}{}{}", *a as char, *b as char);
            if ReceiptCode::parse(&candidate).is_ok() {
                return candidate;
            }
        }
    }
    unreachable!("some check value fits")
}

fn main() {
    let data = [
        "000000000000000000",
        "ZZZZZZZZZZZZZZZZZZ",
        "B70VJGB9AXT5T6ZCEK",
        "0123456789ABCDEFGH",
        "JKMNPQRSTVWXYZ0123",
        "7QX2M9D4KRW8HT3PVA",
    ];
    let mut receipt = Vec::new();
    let mut parse = Vec::new();
    for d in data {
        let canonical = with_check(d);
        let code = ReceiptCode::parse(&canonical).unwrap();
        receipt.push(json!({
            "code": code.display_grouped().as_str(),
            "canonical": code.canonical(),
            "lookup": code.lookup_key().to_base64url(),
            "reply_identity": code.reply_identity().to_string().expose_secret(),
            "reply_recipient": code.reply_recipient().to_string(),
        }));
        let messy: String = canonical
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let c = match c {
                    '0' => 'o',
                    '1' => 'I',
                    c => c.to_ascii_lowercase(),
                };
                if i % 5 == 4 && i < 19 {
                    format!("{c} - ")
                } else {
                    c.to_string()
                }
            })
            .collect();
        parse.push(json!({"input": messy, "canonical": canonical}));
        // One typo in the last data symbol.
        let mut typo: Vec<char> = canonical.chars().collect();
        typo[17] = if typo[17] == 'X' { 'Y' } else { 'X' };
        let typo: String = typo.into_iter().collect();
        let error = match ReceiptCode::parse(&typo) {
            Ok(_) => continue,
            Err(wbs_protocol::ReceiptError::Checksum) => "checksum",
            Err(_) => unreachable!(),
        };
        parse.push(json!({"input": typo, "error": error}));
    }
    parse.push(json!({"input": "ABCDE-FGHJK-MNPQR", "error": "length"}));
    parse.push(json!({"input": "ABCDE-FGHJK-MNPQR-STVWU", "error": "symbol"}));
    parse.push(json!({"input": "", "error": "length"}));

    let lens: Vec<u64> = vec![
        0,
        1,
        2,
        3,
        8,
        9,
        10,
        17,
        100,
        255,
        256,
        257,
        1000,
        1023,
        1024,
        1025,
        4097,
        65_536,
        100_000,
        1_000_000,
        123_456_789,
        1 << 30,
        (1 << 32) + 7,
        9_007_199_254_740_991,
    ];
    let padme_vectors: Vec<_> = lens
        .iter()
        .map(|&len| json!({"len": len, "padded": padme(len)}))
        .collect();

    let mut pow = Vec::new();
    for (challenge, difficulty) in [("vector-challenge-1", 8u8), ("vector-challenge-2", 12)] {
        let nonce = wbs_protocol::pow::solve(challenge, difficulty);
        pow.push(json!({"challenge": challenge, "difficulty": difficulty, "nonce": nonce, "valid": true}));
        // The nonce before the smallest solution never solves it.
        if nonce > 0 {
            pow.push(json!({"challenge": challenge, "difficulty": difficulty, "nonce": nonce - 1, "valid": false}));
        }
    }

    let thread = thread_vectors();

    // Long codes (post-quantum deployments, PROTOCOL.md §2): 26 data symbols.
    let long_data = [
        "00000000000000000000000000",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "B70VJGB9AXT5T6ZCEKQ4M8N2PR",
        "7QX2M9D4KRW8HT3PVAJKMNPQRS",
    ];
    let mut receipt_long = Vec::new();
    let mut reply_pq = Vec::new();
    for d in long_data {
        let canonical = with_check(d);
        let code = ReceiptCode::parse(&canonical).unwrap();
        assert!(code.is_long());
        receipt_long.push(json!({
            "code": code.display_grouped().as_str(),
            "canonical": code.canonical(),
            "lookup": code.lookup_key().to_base64url(),
            "lookup_hash": wbs_protocol::hex(&code.lookup_key().hash()),
            "thread_key": code.thread_key().to_base64url().as_str(),
            "reply_pq_identity": code.reply_pq_identity().to_string().expose_secret(),
            "reply_pq_recipient": code.reply_pq_recipient().to_string(),
        }));
        // A long code typed with a typo in its last data symbol.
        let mut typo: Vec<char> = canonical.chars().collect();
        typo[25] = if typo[25] == 'X' { 'Y' } else { 'X' };
        let typo: String = typo.into_iter().collect();
        if let Err(wbs_protocol::ReceiptError::Checksum) = ReceiptCode::parse(&typo) {
            parse.push(json!({"input": typo, "error": "checksum"}));
        }
    }
    for d in [data[2], data[5], long_data[2], long_data[3]] {
        let code = ReceiptCode::parse(&with_check(d)).unwrap();
        reply_pq.push(json!({
            "code": code.display_grouped().as_str(),
            "canonical": code.canonical(),
            "identity": code.reply_pq_identity().to_string().expose_secret(),
            "recipient": code.reply_pq_recipient().to_string(),
        }));
    }
    // Between the two lengths, and past the long one.
    parse.push(json!({"input": "ABCDE-FGHJK-MNPQR-STVWX-YZ", "error": "length"}));
    parse.push(json!({"input": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6", "error": "length"}));

    let doc = json!({
        "comment": "Known-answer vectors for WBS receipt codes and the keys derived from them (PROTOCOL.md §2, §2.1), 28-symbol codes and the post-quantum reply identity (§2, §2.1), PADMÉ padding (§3.1), proof-of-work (§6) and authenticated threads (§4.4). Generated by `cargo run -p wbs-protocol --example gen_vectors`; checked by the Rust and JavaScript test suites.",
        "receipt": receipt,
        "receipt_long": receipt_long,
        "reply_pq": reply_pq,
        "parse": parse,
        "padme": padme_vectors,
        "pow": pow,
        "thread": thread,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap());
}

/// Authenticated-thread vectors (PROTOCOL.md §4.4): for fixed receipts, the
/// thread key, and follow-ups and replies with fixed ids and their
/// authenticators; plus copies changed after signing, which must fail.
fn thread_vectors() -> serde_json::Value {
    let mut out = Vec::new();
    for (data, followup_id, reply_id) in [
        (
            "B70VJGB9AXT5T6ZCEK",
            "AAECAwQFBgcICQoLDA0ODw",
            "EBESExQVFhcYGRobHB0eHw",
        ),
        (
            "7QX2M9D4KRW8HT3PVA",
            "_-7dzLuqmYh3ZlVEMyIRAA",
            "ASNFZ4mrze_-3LqYdlQyEA",
        ),
    ] {
        let code = ReceiptCode::parse(&with_check(data)).unwrap();
        let key = code.thread_key();
        let case = code.reply_recipient().to_string();
        let mut followup = FollowUp {
            format: FOLLOWUP_FORMAT.into(),
            id: Some(followup_id.into()),
            body: "Ada bukti baru: kuitansi kedua.\nLihat lampiran.".into(),
            attachments: vec![
                AttachmentMeta {
                    name: "kuitansi-2.jpg".into(),
                    media_type: "image/jpeg".into(),
                    size: 48213,
                    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                        .into(),
                    metadata: None,
                },
                AttachmentMeta {
                    name: "catatan.txt".into(),
                    media_type: String::new(),
                    size: 0,
                    sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                        .into(),
                    metadata: None,
                },
            ],
            auth: None,
        };
        followup.auth = Some(key.followup_auth(&case, &followup));
        let mut reply = Reply {
            format: REPLY_FORMAT.into(),
            id: Some(reply_id.into()),
            body: "Terima kasih. Laporan Anda sedang ditelaah.".into(),
            status: Some("in_review".into()),
            auth: None,
        };
        reply.auth = Some(key.reply_auth(&case, &reply));
        let mut reply_no_status = Reply {
            format: REPLY_FORMAT.into(),
            id: Some(followup_id.into()),
            body: "Mohon kirim foto dokumen aslinya.".into(),
            status: None,
            auth: None,
        };
        reply_no_status.auth = Some(key.reply_auth(&case, &reply_no_status));

        // Must fail: the reply's status changed after signing; the follow-up
        // presented as a reply (same id, body and tag).
        let mut forged_status = reply.clone();
        forged_status.status = Some("closed_unsubstantiated".into());
        let swapped = Reply {
            format: REPLY_FORMAT.into(),
            id: followup.id.clone(),
            body: followup.body.clone(),
            status: None,
            auth: followup.auth.clone(),
        };
        out.push(json!({
            "canonical": code.canonical(),
            "case": case,
            "thread_key": key.to_base64url().as_str(),
            "followup": followup,
            "replies": [reply, reply_no_status],
            "fail_replies": [forged_status, swapped],
        }));
    }
    serde_json::Value::Array(out)
}
