//! Resumable uploads against the real server (docs/PROTOCOL.md §7.4):
//! opening costs a proof of work, ranges are appended and resent, a range
//! that disagrees is refused, a finished upload is checked like a one-shot
//! upload and serves one submission, expired and abandoned uploads leave
//! nothing, and the staging quota holds.

mod hostile;

use std::path::Path;
use std::time::{Duration, Instant};

use hostile::{attachment_object, multipart_type, report_object, submission_meta, Multipart};
use reqwest::blocking::{Client, Response};
use wbs_e2e::{files_under, ServerOptions, TestServer};
use wbs_protocol::ReceiptCode;

const MAX_OBJECT: u64 = 4 << 20;

fn server(extra: &str, difficulty: u8) -> TestServer {
    TestServer::start(ServerOptions {
        pow_difficulty: difficulty,
        extra_config: format!(
            "[limits]\nmax_object_bytes = {MAX_OBJECT}\nmax_request_bytes = {}\n\
             submissions_per_minute = 100000\n{extra}",
            MAX_OBJECT * 4
        ),
        ..Default::default()
    })
}

fn recipients(s: &TestServer) -> Vec<age::x25519::Recipient> {
    s.keys.iter().map(|k| k.identity.to_public()).collect()
}

fn pow(client: &Client, s: &TestServer) -> serde_json::Value {
    let c: serde_json::Value = client
        .get(format!("{}/api/v1/pow", s.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let challenge = c["challenge"].as_str().unwrap().to_string();
    let nonce = wbs_protocol::pow::solve(&challenge, c["difficulty"].as_u64().unwrap() as u8);
    serde_json::json!({ "challenge": challenge, "nonce": nonce })
}

fn open_raw(client: &Client, s: &TestServer, body: serde_json::Value) -> Response {
    client
        .post(format!("{}/api/v1/uploads", s.url))
        .json(&body)
        .send()
        .unwrap()
}

/// Opens an upload of `length` bytes (with a solved proof of work when the
/// server asks for one) and returns its id.
fn open(client: &Client, s: &TestServer, length: usize, difficulty: u8) -> String {
    let mut body = serde_json::json!({ "length": length });
    if difficulty > 0 {
        body["pow"] = pow(client, s);
    }
    let r = open_raw(client, s, body);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert!(r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("uploads/"));
    let v: serde_json::Value = r.json().unwrap();
    v["upload"].as_str().unwrap().to_string()
}

fn patch(client: &Client, s: &TestServer, id: &str, offset: usize, bytes: &[u8]) -> Response {
    client
        .patch(format!("{}/api/v1/uploads/{id}", s.url))
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/partial-upload")
        .body(bytes.to_vec())
        .send()
        .unwrap()
}

fn head(client: &Client, s: &TestServer, id: &str) -> Response {
    client
        .head(format!("{}/api/v1/uploads/{id}", s.url))
        .send()
        .unwrap()
}

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn code(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().unwrap_or_default();
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

fn staging_files(data: &Path) -> Vec<std::path::PathBuf> {
    files_under(&data.join("uploads"))
}

/// A submission whose attachment parts name `uploads`.
fn submit_naming(client: &Client, s: &TestServer, uploads: &[&str]) -> Response {
    let code = ReceiptCode::generate();
    let mut body = Multipart::new().part("meta", &submission_meta(&code)).part(
        "report",
        &report_object(&recipients(s), &code, "resumable", vec![]),
    );
    for id in uploads {
        body = body.part("attachment_upload", id.as_bytes());
    }
    client
        .post(format!("{}/api/v1/submissions", s.url))
        .header("Content-Type", multipart_type())
        .body(body.finish())
        .send()
        .unwrap()
}

#[test]
fn ranges_resend_conflict_check_and_single_use() {
    let s = server("", 0);
    let client = Client::new();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (object, _) = attachment_object(&recipients(&s), "video.mp4", &data);
    let n = object.len();
    let id = open(&client, &s, n, 0);

    // Nothing held yet.
    let h = head(&client, &s, &id);
    assert_eq!(h.status(), 204);
    assert_eq!(header(&h, "upload-offset"), "0");
    assert_eq!(header(&h, "upload-complete"), "?0");
    assert_eq!(header(&h, "upload-length"), n.to_string());

    // First third.
    let a = n / 3;
    let r = patch(&client, &s, &id, 0, &object[..a]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), a.to_string());

    // Past what is held: refused, told where to go on.
    let r = patch(&client, &s, &id, a + 10, &object[a + 10..a + 20]);
    assert_eq!(header(&r, "upload-offset"), a.to_string());
    assert_eq!(code(r), (409, "upload_offset_mismatch".into()));

    // A resent range that equals what is held: accepted, nothing changes.
    let r = patch(&client, &s, &id, 1000, &object[1000..a]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), a.to_string());

    // A resent range that overlaps and goes on: the new part is appended.
    let b = 2 * n / 3;
    let r = patch(&client, &s, &id, a - 5000, &object[a - 5000..b]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), b.to_string());

    // A range that disagrees with what is held: refused, nothing changed.
    let mut wrong = object[b - 100..b + 100].to_vec();
    wrong[50] ^= 0xff;
    let r = patch(&client, &s, &id, b - 100, &wrong);
    assert_eq!(header(&r, "upload-offset"), b.to_string());
    assert_eq!(code(r), (409, "upload_conflict".into()));
    assert_eq!(
        header(&head(&client, &s, &id), "upload-offset"),
        b.to_string()
    );

    // Past the declared length: refused.
    let mut long = object[b..].to_vec();
    long.push(0);
    assert_eq!(
        code(patch(&client, &s, &id, b, &long)),
        (400, "upload_too_long".into())
    );
    assert_eq!(
        header(&head(&client, &s, &id), "upload-offset"),
        b.to_string()
    );

    // A submission cannot name it before it is complete.
    assert_eq!(
        code(submit_naming(&client, &s, &[&id])),
        (409, "upload_incomplete".into())
    );

    // The rest: complete, checked.
    let r = patch(&client, &s, &id, b, &object[b..]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-complete"), "?1");
    let h = head(&client, &s, &id);
    assert_eq!(header(&h, "upload-offset"), n.to_string());
    assert_eq!(header(&h, "upload-complete"), "?1");
    // The staging file is gone once the object is in the store.
    assert!(staging_files(&s.data).is_empty());
    // Resending the last range of a complete upload is still idempotent,
    // and a disagreeing one still refused.
    let r = patch(&client, &s, &id, n - 10, &object[n - 10..]);
    assert_eq!(r.status(), 204);
    let mut wrong = object[n - 10..].to_vec();
    wrong[0] ^= 1;
    assert_eq!(
        code(patch(&client, &s, &id, n - 10, &wrong)),
        (409, "upload_conflict".into())
    );

    // One submission names it; the stored object is the uploaded one.
    let r = submit_naming(&client, &s, &[&id]);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let stored = files_under(&s.data.join("blobs"))
        .into_iter()
        .any(|p| std::fs::read(p).unwrap() == object);
    assert!(stored, "the uploaded object is not among the stored blobs");

    // It served once: a second submission naming it is refused, and the
    // upload is gone for HEAD and PATCH alike.
    assert_eq!(
        code(submit_naming(&client, &s, &[&id])),
        (404, "upload_not_found".into())
    );
    assert_eq!(head(&client, &s, &id).status(), 404);
    assert_eq!(
        code(patch(&client, &s, &id, 0, &object[..10])),
        (404, "upload_not_found".into())
    );

    // Its id was never written to the server's output.
    assert!(!s.log_text().contains(&id));
}

#[test]
fn objects_that_are_not_wbs_age_files_are_refused_and_removed() {
    let s = server("", 0);
    let client = Client::new();

    // Not age at all: refused at the first bytes, and gone.
    let junk = vec![b'x'; 10_000];
    let id = open(&client, &s, junk.len(), 0);
    let (status, c) = code(patch(&client, &s, &id, 0, &junk));
    assert_eq!((status, c.as_str()), (422, "invalid_object"));
    assert_eq!(head(&client, &s, &id).status(), 404);
    assert!(staging_files(&s.data).is_empty());

    // An age file for other recipients: the stanza count differs.
    let strangers = hostile::strangers(2);
    let (other, _) = attachment_object(&strangers, "x", b"hello");
    let id = open(&client, &s, other.len(), 0);
    assert_eq!(code(patch(&client, &s, &id, 0, &other)).0, 422);
    assert_eq!(head(&client, &s, &id).status(), 404);

    // A good header but a payload cut short (wrong padding): refused when
    // complete, never usable.
    let (good, _) = attachment_object(&recipients(&s), "x", &[5u8; 100_000]);
    let wbs_protocol::header::HeaderCheck::Complete { header_len } =
        wbs_protocol::header::check_header(&good, 1).unwrap()
    else {
        panic!("a sealed attachment has a complete header");
    };
    // Five bytes into a STREAM chunk: shorter than its tag, never valid.
    let cut = &good[..header_len + 16 + (64 * 1024 + 16) + 5];
    let id = open(&client, &s, cut.len(), 0);
    let (status, c) = code(patch(&client, &s, &id, 0, cut));
    assert_eq!((status, c.as_str()), (422, "invalid_object"));
    assert_eq!(
        code(submit_naming(&client, &s, &[&id])),
        (404, "upload_not_found".into())
    );
    assert!(staging_files(&s.data).is_empty());

    // Too large to open, and a zero length.
    let (status, c) = code(open_raw(
        &client,
        &s,
        serde_json::json!({ "length": MAX_OBJECT + 1 }),
    ));
    assert_eq!((status, c.as_str()), (413, "payload_too_large"));
    let (status, c) = code(open_raw(&client, &s, serde_json::json!({ "length": 0 })));
    assert_eq!((status, c.as_str()), (422, "invalid_length"));
    // An id that never existed.
    let fake = "A".repeat(43);
    assert_eq!(head(&client, &s, &fake).status(), 404);
    assert_eq!(
        code(submit_naming(&client, &s, &[&fake])),
        (404, "upload_not_found".into())
    );
}

#[test]
fn opening_takes_a_proof_of_work_that_is_spent() {
    let s = server("", 8);
    let client = Client::new();
    let (status, c) = code(open_raw(&client, &s, serde_json::json!({ "length": 100 })));
    assert_eq!((status, c.as_str()), (400, "pow_required"));
    let p = pow(&client, &s);
    let r = open_raw(&client, &s, serde_json::json!({ "length": 100, "pow": p }));
    assert_eq!(r.status(), 201);
    let (status, c) = code(open_raw(
        &client,
        &s,
        serde_json::json!({ "length": 100, "pow": p }),
    ));
    assert_eq!((status, c.as_str()), (400, "pow_replayed"));
}

#[test]
fn the_budget_is_charged_like_a_submission() {
    // A budget of two: two uploads open, the third waits for the budget.
    let s = TestServer::start(ServerOptions {
        extra_config: "[limits]\nsubmissions_per_minute = 2\n".into(),
        ..Default::default()
    });
    let client = Client::new();
    for _ in 0..2 {
        open(&client, &s, 100, 0);
    }
    let (status, c) = code(open_raw(&client, &s, serde_json::json!({ "length": 100 })));
    assert_eq!((status, c.as_str()), (429, "rate_limited"));
}

#[test]
fn abandoned_uploads_hit_the_quota_and_expired_ones_leave_nothing() {
    let s = server(
        "[uploads]\nstaging_quota_bytes = 1000000\nmax_open = 50\nexpiry_secs = 3\n",
        0,
    );
    let client = Client::new();
    let (object, _) = attachment_object(&recipients(&s), "x", &[1u8; 200_000]);
    // A client that opens uploads and never finishes them: stopped by the
    // quota (each reserves its declared length).
    let mut ids = Vec::new();
    let refused = loop {
        let r = open_raw(&client, &s, serde_json::json!({ "length": object.len() }));
        if r.status() != 201 {
            break code(r);
        }
        let v: serde_json::Value = r.json().unwrap();
        let id = v["upload"].as_str().unwrap().to_string();
        assert_eq!(patch(&client, &s, &id, 0, &object[..50_000]).status(), 204);
        ids.push(id);
        assert!(ids.len() < 10, "the quota never held");
    };
    assert_eq!(refused, (507, "staging_full".into()));
    assert_eq!(ids.len(), 1_000_000 / object.len());
    assert_eq!(staging_files(&s.data).len(), ids.len());
    // One finished, never used: it expires too, from the store as well.
    let blobs_before = files_under(&s.data.join("blobs")).len();

    // After the expiry, nothing is left: not the uploads, not their bytes,
    // and the room is free again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !staging_files(&s.data).is_empty()
        || ids.iter().any(|id| head(&client, &s, id).status() != 404)
    {
        assert!(
            Instant::now() < deadline,
            "expired uploads were not removed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let id = open(&client, &s, object.len(), 0);
    assert_eq!(patch(&client, &s, &id, 0, &object).status(), 204);
    assert_eq!(files_under(&s.data.join("blobs")).len(), blobs_before + 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_under(&s.data.join("blobs")).len() != blobs_before {
        assert!(
            Instant::now() < deadline,
            "an expired finished upload stayed in the store"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(head(&client, &s, &id).status(), 404);
    // The staging directory's times say nothing about any of it.
    let meta = std::fs::metadata(s.data.join("uploads")).unwrap();
    assert_eq!(meta.modified().unwrap(), std::time::UNIX_EPOCH);
}

#[test]
fn a_restart_removes_unfinished_uploads() {
    let mut s = server("", 0);
    let client = Client::new();
    let (object, _) = attachment_object(&recipients(&s), "x", &[1u8; 100_000]);
    let id = open(&client, &s, object.len(), 0);
    assert_eq!(patch(&client, &s, &id, 0, &object[..1000]).status(), 204);
    assert_eq!(staging_files(&s.data).len(), 1);
    assert!(s.stop().success());
    // Removed at shutdown already.
    assert!(staging_files(&s.data).is_empty());
    s.spawn();
    assert_eq!(head(&client, &s, &id).status(), 404);
}

#[test]
fn a_request_left_hanging_on_a_silent_connection_gives_way() {
    use std::io::Write;
    let s = server("", 0);
    let client = Client::new();
    let (object, _) = attachment_object(&recipients(&s), "x", &[3u8; 300_000]);
    let id = open(&client, &s, object.len(), 0);
    // A PATCH whose connection goes silent mid-body (no FIN: a phone that
    // lost its network), with fewer bytes than one write batch.
    let mut stuck = hostile::connect(&hostile::addr_of(&s.url));
    let sent = 100_000;
    let head_text = format!(
        "PATCH /api/v1/uploads/{id} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n\
         Content-Type: application/partial-upload\r\nContent-Length: {}\r\n\r\n",
        object.len()
    );
    stuck.write_all(head_text.as_bytes()).unwrap();
    stuck.write_all(&object[..sent]).unwrap();
    stuck.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // The client comes back on a new connection: HEAD answers at once (the
    // idle timeout is 30 s), with every byte the old request received.
    let started = Instant::now();
    let h = head(&client, &s, &id);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(header(&h, "upload-offset"), sent.to_string());
    let r = patch(&client, &s, &id, sent, &object[sent..]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-complete"), "?1");
    drop(stuck);
}
