//! The metadata promises, checked on what a seized server would show: after
//! a full flow (a report with an attachment, status look-ups, a follow-up,
//! a desk export, a reply bundle imported, a status change), no file in the
//! data directory and no log line holds a plaintext, a receipt code, a
//! lookup key, an IP address, a time of day or an exact Unix time.
//! (DESIGN.md principles 1 and 4; docs/THREAT_MODEL.md.)

mod hostile;

use std::time::{SystemTime, UNIX_EPOCH};

use hostile::{
    attachment_object, followup_meta, get, post_json, post_multipart, report_object, request,
    status_body, submission_meta, Fixture, Multipart,
};
use wbs_e2e::{files_under, ServerOptions};
use wbs_protocol::bundle::{ReplyBundle, ReplyItem};
use wbs_protocol::message::{Document, FollowUp, FOLLOWUP_FORMAT, REPLY_FORMAT};
use wbs_protocol::{ReceiptCode, Status};

const REPORT_MARKER: &str = "KEPALA-DINAS-MARKER-7731";
const ATTACHMENT_MARKER: &str = "KUITANSI-FIKTIF-MARKER-5520";
const FOLLOWUP_MARKER: &str = "TAMBAHAN-BUKTI-MARKER-9043";
const REPLY_MARKER: &str = "BALASAN-INSPEKTORAT-MARKER-3388";
const POW_TTL: u64 = 1800;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs the whole flow on `f` for `code`; returns the case id.
fn full_flow(f: &Fixture, code: &ReceiptCode) -> String {
    // Submission with an attachment, under proof of work.
    let (att, att_meta) = attachment_object(
        &f.recipients,
        "kuitansi.txt",
        format!("Kuitansi: {ATTACHMENT_MARKER}").as_bytes(),
    );
    let report = report_object(&f.recipients, code, REPORT_MARKER, vec![att_meta]);
    let mut meta: serde_json::Value = serde_json::from_slice(&submission_meta(code)).unwrap();
    meta["pow"] = f.solved_pow().unwrap();
    let r = f.send(post_multipart(
        "/api/v1/submissions",
        &Multipart::new()
            .part("meta", meta.to_string().as_bytes())
            .part("report", &report)
            .part("attachment", &att)
            .finish(),
    ));
    assert_eq!(r.status, 201, "{}", r.summary());

    let r = f.send(post_json("/api/v1/status", &status_body(code)));
    assert_eq!(r.status, 200, "{}", r.summary());

    // A follow-up, also under proof of work.
    let followup = FollowUp {
        format: FOLLOWUP_FORMAT.into(),
        id: None,
        body: format!("Tambahan: {FOLLOWUP_MARKER}"),
        attachments: vec![],
        auth: None,
    }
    .seal(&f.recipients)
    .unwrap();
    let mut meta: serde_json::Value = serde_json::from_slice(&followup_meta(code)).unwrap();
    meta["pow"] = f.solved_pow().unwrap();
    let r = f.send(post_multipart(
        "/api/v1/followups",
        &Multipart::new()
            .part("meta", meta.to_string().as_bytes())
            .part("message", &followup)
            .finish(),
    ));
    assert_eq!(r.status, 201, "{}", r.summary());

    // The desk: list, export, import a reply, set a status.
    let auth = f.bearer();
    let cases = f.desk_cases();
    let case_id = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["objects"] == 3)
        .expect("the flow's case")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let export = f.send_desk(request(
        "GET",
        "/api/v1/desk/export?since=0",
        &[("Authorization", &auth)],
        b"",
    ));
    assert_eq!(export.status, 200);
    assert!(contains(&export.body, b"export.json"));

    let mut to = vec![code.reply_recipient()];
    to.extend(f.recipients.iter().cloned());
    let reply = wbs_protocol::message::Reply {
        format: REPLY_FORMAT.into(),
        id: None,
        body: format!("Balasan: {REPLY_MARKER}"),
        status: None,
        auth: None,
    }
    .seal(&to)
    .unwrap();
    let mut bundle = ReplyBundle::default();
    bundle.push(
        ReplyItem {
            id: "reply-1".into(),
            case_id: case_id.clone(),
            status: Some(Status::Investigating),
            reply: None,
        },
        Some(reply),
    );
    let tar = bundle.write(Vec::new()).unwrap();
    let r = f.send_desk(request(
        "POST",
        "/api/v1/desk/import",
        &[("Authorization", &auth)],
        &tar,
    ));
    assert_eq!(r.status, 200, "{}", r.summary());
    let r = f.send_desk(request(
        "POST",
        &format!("/api/v1/desk/cases/{case_id}/status"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"status":"forwarded"}"#,
    ));
    assert_eq!(r.status, 200, "{}", r.summary());

    let r = f.send(post_json("/api/v1/status", &status_body(code)));
    let status = r.json();
    assert_eq!(status["replies"].as_array().unwrap().len(), 1);
    assert_eq!(status["status"], "forwarded");
    case_id
}

/// Everything that must never be stored or logged, with a name for each.
fn secrets(code: &ReceiptCode) -> Vec<(&'static str, Vec<u8>)> {
    let lookup = code.lookup_key();
    let lookup_raw = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(lookup.to_base64url())
            .unwrap()
    };
    vec![
        ("report plaintext", REPORT_MARKER.as_bytes().to_vec()),
        (
            "attachment plaintext",
            ATTACHMENT_MARKER.as_bytes().to_vec(),
        ),
        ("follow-up plaintext", FOLLOWUP_MARKER.as_bytes().to_vec()),
        ("reply plaintext", REPLY_MARKER.as_bytes().to_vec()),
        ("receipt code", code.canonical().as_bytes().to_vec()),
        (
            "receipt code (grouped)",
            code.display_grouped().as_bytes().to_vec(),
        ),
        (
            "receipt code (lower case)",
            code.canonical().to_ascii_lowercase().into_bytes(),
        ),
        ("lookup key", lookup.to_base64url().into_bytes()),
        ("lookup key (raw bytes)", lookup_raw),
        ("loopback address", b"127.0.0.1".to_vec()),
    ]
}

/// `HH:MM` after a `T` or a space, as in `2026-11-27T09:41` or `09:41:07`.
fn time_of_day(hay: &[u8]) -> Option<String> {
    hay.windows(9).find_map(|w| {
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        let hit = (w[0] == b'T' || w[0] == b' ')
            && digits(1..3)
            && w[3] == b':'
            && digits(4..6)
            && (w[6] == b':' && digits(7..9));
        hit.then(|| String::from_utf8_lossy(w).into_owned())
    })
}

/// Any exact Unix time in `[from, to]`: as 8 bytes big- or little-endian,
/// or as 10 decimal digits. (Four-byte forms are not searched: in
/// megabytes of ciphertext they would match by chance.)
fn unix_time_in(hay: &[u8], from: u64, to: u64) -> Option<u64> {
    let in_range = |v: u64| (from..=to).contains(&v);
    for w in hay.windows(8) {
        let be = u64::from_be_bytes(w.try_into().unwrap());
        let le = u64::from_le_bytes(w.try_into().unwrap());
        if in_range(be) {
            return Some(be);
        }
        if in_range(le) {
            return Some(le);
        }
    }
    for w in hay.windows(10) {
        if w.iter().all(u8::is_ascii_digit) {
            let v: u64 = std::str::from_utf8(w).unwrap().parse().unwrap();
            if in_range(v) {
                return Some(v);
            }
        }
    }
    None
}

#[test]
fn a_full_flow_leaves_no_secret_address_or_time_in_storage_or_logs() {
    let mut f = Fixture::start(ServerOptions {
        keys: 2,
        pow_difficulty: 6,
        extra_config: format!("ttl_secs = {POW_TTL}\n"),
        ..Default::default()
    });
    let code = ReceiptCode::generate();
    let t0 = now();
    let log_before = f.server.log_text().len();
    full_flow(&f, &code);
    let t1 = now();
    let reporter_phase_log = f.server.log_text()[log_before..].to_string();
    // Let sled write everything it holds, then look at the disk as a
    // seizure would find it.
    let stop_requested = now_ns();
    let status = f.server.stop();
    assert!(status.success(), "server did not stop cleanly");

    let mut problems = Vec::new();
    // File times: every blob file and every directory under blobs/ and
    // tmp/ has its content times at midnight, and the blob files' inode
    // change times were moved together by the sweep at shutdown, so none
    // of them dates its object to the moment it arrived during the flow.
    {
        use std::os::unix::fs::MetadataExt;
        let mut ctimes = Vec::new();
        for path in files_under(&f.server.data.join("blobs")) {
            let m = std::fs::metadata(&path).unwrap();
            ctimes.push(i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()));
            if m.mtime() % 86_400 != 0 || m.atime() % 86_400 != 0 {
                problems.push(format!(
                    "{} has an mtime/atime other than midnight",
                    path.display()
                ));
            }
        }
        assert!(ctimes.len() >= 5, "blob files: {}", ctimes.len());
        let tick = 20_000_000; // the file system's clock is coarse
        if let Some(early) = ctimes.iter().find(|c| **c < stop_requested - tick) {
            problems.push(format!(
                "a blob file keeps a ctime from during the flow ({early} ns < stop at {stop_requested} ns)"
            ));
        }
        for dir in std::iter::once(f.server.data.join("tmp")).chain(
            std::fs::read_dir(f.server.data.join("blobs"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        ) {
            if std::fs::metadata(&dir).unwrap().mtime() % 86_400 != 0 {
                problems.push(format!(
                    "{} has an mtime other than midnight",
                    dir.display()
                ));
            }
        }
    }
    let files = files_under(&f.server.data);
    assert!(
        files.len() >= 5,
        "the data directory looks empty: {files:?}"
    );
    // The scan can see what is stored: the reply recipient (a public key
    // the server keeps on purpose) is found, in sled's files as they are.
    let recipient = code.reply_recipient().to_string();
    assert!(
        wbs_e2e::find_bytes_under(&f.server.data, recipient.as_bytes()).is_some(),
        "the scan does not see stored strings"
    );
    // The moments the flow happened, and the moments its challenges expired.
    let windows = [(t0 - 2, t1 + 2), (t0 + POW_TTL - 2, t1 + POW_TTL + 2)];
    let straddles_midnight = t0 / 86_400 != (t1 + POW_TTL + 2) / 86_400;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let name = file.strip_prefix(&f.server.data).unwrap().display();
        for (what, needle) in secrets(&code) {
            if contains(&bytes, &needle) {
                problems.push(format!("{name} holds the {what}"));
            }
        }
        // The address in binary form, outside the blobs (which are the
        // reporters' ciphertext byte for byte, where four given bytes can
        // occur by chance).
        if !name.to_string().starts_with("blobs") && contains(&bytes, &[127, 0, 0, 1]) {
            problems.push(format!("{name} holds 127.0.0.1 in binary form"));
        }
        if let Some(t) = time_of_day(&bytes) {
            problems.push(format!("{name} holds a time of day: {t:?}"));
        }
        // A stored value that is a day boundary plus the challenge
        // lifetime could fall in the second window only if the run crossed
        // midnight; then that window is not checked.
        for (i, (from, to)) in windows.iter().enumerate() {
            if i == 1 && straddles_midnight {
                continue;
            }
            if let Some(v) = unix_time_in(&bytes, *from, *to) {
                problems.push(format!("{name} holds the exact Unix time {v}"));
            }
        }
    }

    // The log: the one line naming 127.0.0.1 is the startup line with
    // the server's own listen address, the operator's configuration and
    // not a reporter's address; it is printed before any request, so it
    // cannot be tied to one. Every other line is checked.
    let log = f.server.log_text();
    assert!(log.contains("desk action"), "the log was not captured");
    let startup = |l: &str| l.contains("WBS serving") && l.contains(" on http://");
    assert_eq!(
        log.lines().filter(|l| startup(l)).count(),
        1,
        "expected one startup line"
    );
    for line in log.lines().filter(|l| !startup(l)) {
        for (what, needle) in secrets(&code) {
            if contains(line.as_bytes(), &needle) {
                problems.push(format!("log line holds the {what}: {line}"));
            }
        }
        if let Some(t) = time_of_day(line.as_bytes()) {
            problems.push(format!("log line holds a time of day {t:?}: {line}"));
        }
    }
    // At info level and above, a reporter's request writes no line at all:
    // a log collector (journald) stamps every line with the exact time.
    for line in reporter_phase_log.lines() {
        let level = line.trim_start();
        let desk = line.contains("desk action");
        if (level.starts_with("INFO") || level.starts_with("WARN") || level.starts_with("ERROR"))
            && !desk
        {
            problems.push(format!("a reporter's request was logged: {line}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn stored_dates_are_calendar_days() {
    let f = Fixture::start(ServerOptions {
        keys: 1,
        ..Default::default()
    });
    let code = ReceiptCode::generate();
    assert_eq!(f.submit(&code, "dates").status, 201);
    let status = f
        .send(post_json("/api/v1/status", &status_body(&code)))
        .json();
    let is_day = |v: &serde_json::Value| {
        let s = v.as_str().unwrap_or("");
        s.len() == 10 && wbs_protocol::date::unix_days_from_date(s).is_some()
    };
    assert!(is_day(&status["received_on"]), "{status}");
    for h in status["history"].as_array().unwrap() {
        assert!(is_day(&h["on"]), "{status}");
    }
    // The answers a reporter sees carry no clock either, beyond HTTP's
    // own Date header.
    let r = f.send(get("/api/v1/config"));
    assert!(time_of_day(&r.body).is_none());
}
