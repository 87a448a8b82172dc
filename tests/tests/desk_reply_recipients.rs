//! Which replies the real server accepts on `POST /api/v1/desk/import`,
//! by their recipients (PROTOCOL.md §5): the reporter plus any non-empty
//! subset of the configured inspectorate keys, so from 2 to 1 + keys
//! X25519 stanzas. An investigator whose office holds one of two keys can
//! answer; a reply for the reporter alone, or for more recipients than
//! there can be, is refused and changes nothing.

use base64::Engine;
use sha2::{Digest, Sha256};
use wbs_e2e::{run_ok, ServerOptions, TestServer};
use wbs_protocol::bundle::{ReplyBundle, ReplyFile, ReplyItem};
use wbs_protocol::envelope::{decrypt_document, encrypt_document};
use wbs_protocol::ReceiptCode;

/// A server with one report filed with the real reporter tool.
struct Fixture {
    server: TestServer,
    http: reqwest::blocking::Client,
    token: String,
    code: ReceiptCode,
    case_id: String,
    recipients: Vec<age::x25519::Recipient>,
}

impl Fixture {
    fn start() -> Fixture {
        let server = TestServer::start(ServerOptions {
            keys: 2,
            ..Default::default()
        });
        let work = tempfile::tempdir().unwrap();
        let message = work.path().join("laporan.txt");
        std::fs::write(&message, "Laporan.").unwrap();
        let out = run_ok(
            server
                .cli("wbs-report", "submit")
                .arg("--message")
                .arg(&message),
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let code = ReceiptCode::parse(stdout.lines().last().unwrap().trim()).unwrap();
        let token = std::fs::read_to_string(server.token_file())
            .unwrap()
            .trim()
            .to_string();
        let http = reqwest::blocking::Client::new();
        let cases: serde_json::Value = http
            .get(format!("{}/api/v1/desk/cases", server.desk_url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let case_id = cases["cases"][0]["id"].as_str().unwrap().to_string();
        let recipients = server.keys.iter().map(|k| k.identity.to_public()).collect();
        Fixture {
            server,
            http,
            token,
            code,
            case_id,
            recipients,
        }
    }

    /// Pushes a reply bundle; returns the HTTP status and the JSON answer.
    fn import(&self, tar: Vec<u8>) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/desk/import", self.server.desk_url))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/x-tar")
            .body(tar)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap())
    }

    /// A reply bundle of one item carrying `reply` for the case.
    fn bundle(&self, id: &str, reply: Vec<u8>) -> Vec<u8> {
        let item = ReplyItem {
            id: id.into(),
            case_id: self.case_id.clone(),
            status: None,
            reply: Some(ReplyFile {
                path: format!("replies/{id}.age"),
                size: reply.len() as u64,
                sha256: wbs_protocol::hex(&Sha256::digest(&reply)),
            }),
        };
        let mut b = ReplyBundle::default();
        b.push(item, Some(reply));
        b.write(Vec::new()).unwrap()
    }

    /// The age files of the replies the reporter sees on the status page.
    fn replies_seen_by_reporter(&self) -> Vec<Vec<u8>> {
        let r = self
            .http
            .post(format!("{}/api/v1/status", self.server.url))
            .json(&serde_json::json!({"lookup": self.code.lookup_key().to_base64url()}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let status: serde_json::Value = r.json().unwrap();
        status["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                base64::engine::general_purpose::STANDARD
                    .decode(r["age"].as_str().unwrap())
                    .unwrap()
            })
            .collect()
    }
}

/// A reply document sealed to exactly `recipients`, with `marker` in it.
fn sealed(recipients: &[age::x25519::Recipient], marker: &str) -> Vec<u8> {
    let json = serde_json::json!({"format": "wbs-reply/1", "body": marker}).to_string();
    encrypt_document(recipients, json.as_bytes()).unwrap()
}

fn stranger() -> age::x25519::Recipient {
    age::x25519::Identity::generate().to_public()
}

fn assert_refused((status, answer): (u16, serde_json::Value), words: &str) {
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_bundle", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{message:?} lacks {words:?}");
}

#[test]
fn replies_to_the_reporter_and_some_of_the_keys_are_accepted_and_no_others() {
    let f = Fixture::start();
    let reporter = f.code.reply_recipient();
    let second_office = f.recipients[1].clone();

    // The reporter plus one of the two keys: accepted, and both can read it.
    let (status, answer) = f.import(f.bundle(
        "subset",
        sealed(&[reporter.clone(), second_office.clone()], "subset-reply"),
    ));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "{answer}");
    let seen = f.replies_seen_by_reporter();
    assert_eq!(seen.len(), 1);
    let plain = decrypt_document(&f.code.reply_identity(), &seen[0], 1 << 20).unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("subset-reply"));
    let plain = decrypt_document(&f.server.keys[1].identity, &seen[0], 1 << 20).unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("subset-reply"));

    // The reporter plus every key: accepted as before.
    let mut all = vec![reporter.clone()];
    all.extend(f.recipients.iter().cloned());
    let (status, answer) = f.import(f.bundle("all", sealed(&all, "all-reply")));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(f.replies_seen_by_reporter().len(), 2);

    // One stanza (the reporter alone): refused, nothing applied.
    let alone = f.bundle(
        "alone",
        sealed(std::slice::from_ref(&reporter), "alone-reply"),
    );
    assert_refused(f.import(alone), "1 recipients, 2 to 3 expected");
    assert_eq!(f.replies_seen_by_reporter().len(), 2);

    // More stanzas than the reporter and every key: refused.
    let mut too_many = all.clone();
    too_many.push(stranger());
    let many = f.bundle("many", sealed(&too_many, "many-reply"));
    assert_refused(f.import(many), "4 recipients, 2 to 3 expected");
    assert_eq!(f.replies_seen_by_reporter().len(), 2);

    // A refused item id was not used up: sent right, it applies.
    let (status, answer) = f.import(f.bundle("alone", sealed(&[reporter, second_office], "retry")));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "{answer}");
    assert_eq!(f.replies_seen_by_reporter().len(), 3);
}
