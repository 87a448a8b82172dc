//! The known-answer vectors in `testdata/vectors.json`, shared with the
//! JavaScript client's tests. A disagreement here means the two clients would
//! derive different keys from the same receipt code.

use secrecy::ExposeSecret;
use serde_json::Value;
use wbs_protocol::padding::padme;
use wbs_protocol::{pow, ReceiptCode, ReceiptError};

fn vectors() -> Value {
    let text = include_str!("testdata/vectors.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn receipt_derivations_match_the_vectors() {
    let v = vectors();
    let list = v["receipt"].as_array().unwrap();
    assert!(list.len() >= 5);
    for case in list {
        let code = ReceiptCode::parse(case["code"].as_str().unwrap()).unwrap();
        assert_eq!(code.canonical(), case["canonical"].as_str().unwrap());
        assert_eq!(
            code.display_grouped().as_str(),
            case["code"].as_str().unwrap()
        );
        assert_eq!(
            code.lookup_key().to_base64url(),
            case["lookup"].as_str().unwrap()
        );
        assert_eq!(
            code.reply_identity().to_string().expose_secret(),
            case["reply_identity"].as_str().unwrap()
        );
        assert_eq!(
            code.reply_recipient().to_string(),
            case["reply_recipient"].as_str().unwrap()
        );
    }
}

#[test]
fn long_receipt_derivations_match_the_vectors() {
    let v = vectors();
    let list = v["receipt_long"].as_array().unwrap();
    assert!(list.len() >= 4);
    for case in list {
        let code = ReceiptCode::parse(case["code"].as_str().unwrap()).unwrap();
        assert!(code.is_long());
        assert_eq!(code.canonical(), case["canonical"].as_str().unwrap());
        assert_eq!(
            code.display_grouped().as_str(),
            case["code"].as_str().unwrap()
        );
        assert_eq!(
            code.lookup_key().to_base64url(),
            case["lookup"].as_str().unwrap()
        );
        assert_eq!(
            wbs_protocol::hex(&code.lookup_key().hash()),
            case["lookup_hash"].as_str().unwrap()
        );
        assert_eq!(
            code.thread_key().to_base64url().as_str(),
            case["thread_key"].as_str().unwrap()
        );
        assert_eq!(
            code.reply_pq_identity().to_string().expose_secret(),
            case["reply_pq_identity"].as_str().unwrap()
        );
        assert_eq!(
            code.reply_pq_recipient().to_string(),
            case["reply_pq_recipient"].as_str().unwrap()
        );
    }
}

#[test]
fn pq_reply_identities_match_the_vectors_for_both_lengths() {
    let v = vectors();
    let mut lengths = std::collections::BTreeSet::new();
    for case in v["reply_pq"].as_array().unwrap() {
        let code = ReceiptCode::parse(case["code"].as_str().unwrap()).unwrap();
        lengths.insert(code.canonical().len());
        let identity = code.reply_pq_identity();
        assert_eq!(
            identity.to_string().expose_secret(),
            case["identity"].as_str().unwrap()
        );
        // The identity string parses back to the same recipient.
        let parsed: wbs_protocol::pq::Identity =
            case["identity"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            parsed.to_public().to_string(),
            case["recipient"].as_str().unwrap()
        );
        assert_eq!(
            code.reply_pq_recipient().to_string(),
            case["recipient"].as_str().unwrap()
        );
    }
    assert_eq!(lengths.into_iter().collect::<Vec<_>>(), [20, 28]);
}

#[test]
fn parsing_matches_the_vectors() {
    let v = vectors();
    for case in v["parse"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let result = ReceiptCode::parse(input);
        match case.get("canonical") {
            Some(c) => assert_eq!(result.ok().unwrap().canonical(), c.as_str().unwrap()),
            None => {
                let kind = match result.err().expect(input) {
                    ReceiptError::Length { .. } => "length",
                    ReceiptError::InvalidSymbol { .. } => "symbol",
                    ReceiptError::Checksum => "checksum",
                };
                assert_eq!(kind, case["error"].as_str().unwrap(), "{input}");
            }
        }
    }
}

#[test]
fn padding_matches_the_vectors() {
    for case in vectors()["padme"].as_array().unwrap() {
        let len = case["len"].as_u64().unwrap();
        assert_eq!(padme(len), case["padded"].as_u64().unwrap(), "len {len}");
    }
}

#[test]
fn proof_of_work_matches_the_vectors() {
    for case in vectors()["pow"].as_array().unwrap() {
        let ok = pow::check(
            case["challenge"].as_str().unwrap(),
            case["nonce"].as_u64().unwrap(),
            case["difficulty"].as_u64().unwrap() as u8,
        );
        assert_eq!(ok, case["valid"].as_bool().unwrap());
    }
}

#[test]
fn thread_authenticators_match_the_vectors() {
    use wbs_protocol::message::{FollowUp, Reply};
    use wbs_protocol::thread::{ThreadKey, Verification};
    let v = vectors();
    let list = v["thread"].as_array().unwrap();
    assert!(list.len() >= 2);
    for case in list {
        let code = ReceiptCode::parse(case["canonical"].as_str().unwrap()).unwrap();
        let key = code.thread_key();
        assert_eq!(
            key.to_base64url().as_str(),
            case["thread_key"].as_str().unwrap()
        );
        let recipient = case["case"].as_str().unwrap();
        assert_eq!(code.reply_recipient().to_string(), recipient);
        // The key as carried in a report parses to the same key.
        let carried = ThreadKey::from_base64url(case["thread_key"].as_str().unwrap()).unwrap();

        let followup: FollowUp = serde_json::from_value(case["followup"].clone()).unwrap();
        assert_eq!(
            Some(key.followup_auth(recipient, &followup)),
            followup.auth.clone()
        );
        assert_eq!(
            carried.verify_followup(recipient, &followup),
            Verification::Verified
        );
        for r in case["replies"].as_array().unwrap() {
            let reply: Reply = serde_json::from_value(r.clone()).unwrap();
            assert_eq!(Some(key.reply_auth(recipient, &reply)), reply.auth.clone());
            assert_eq!(key.verify_reply(recipient, &reply), Verification::Verified);
        }
        for r in case["fail_replies"].as_array().unwrap() {
            let reply: Reply = serde_json::from_value(r.clone()).unwrap();
            assert_eq!(key.verify_reply(recipient, &reply), Verification::Failed);
        }
    }
}
