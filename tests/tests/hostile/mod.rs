//! Shared tools of the hostile-input suites (`hostile_*.rs`, `slowloris.rs`,
//! `metadata_promises.rs`, `status_uniformity.rs`).
//!
//! Requests go over a plain `std::net::TcpStream`, written byte for byte, so
//! a suite can send what a well-behaved HTTP client refuses to: broken
//! multipart bodies, lying `Content-Length`s, raw `..` paths, header floods.
//! Every hostile case is checked three ways: the documented status and JSON
//! error code, the server still answering (`/healthz` and a real status
//! look-up), and storage unchanged (blob files on disk, the desk's case
//! list and the seeded case's status).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wbs_e2e::{files_under, ServerOptions, TestServer};
use wbs_protocol::message::{AttachmentMeta, Document, FollowUp, Report, REPORT_FORMAT};
use wbs_protocol::ReceiptCode;

/// How long any single raw exchange may take before the suite calls it a hang.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// What came back on a raw connection.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Status code, or 0 when the server closed the connection without
    /// answering.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `error.code` of a JSON error body.
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let e = v.get("error")?;
        // Exactly {"error": {"code", "message"}}, nothing else.
        if v.as_object()?.len() != 1 || e.as_object()?.len() != 2 {
            return None;
        }
        e.get("message")?.as_str()?;
        Some(e.get("code")?.as_str()?.to_string())
    }

    /// The `error.message` of a JSON error body.
    pub fn json_message(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(v.get("error")?.get("message")?.as_str()?.to_string())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    /// One line for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
        )
    }
}

/// `host:port` of a base URL such as `http://127.0.0.1:4000`.
pub fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Connects to a loopback address with the suite's timeouts.
pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to the test server");
    s.set_read_timeout(Some(EXCHANGE_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(EXCHANGE_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `request` as is and reads the answer until the server closes
/// (every request built here says `Connection: close`). The request is
/// written from a second thread, so an early answer (a 413 before the body
/// is read) is read while the rest is still being sent.
pub fn exchange(addr: &str, request: Vec<u8>) -> Reply {
    exchange_opts(addr, request, false)
}

/// [`exchange`], optionally closing the write half after the request: a
/// client that goes away. The server then drops the connection at once
/// (hyper does not wait on half-closed connections), so the reply is
/// usually status 0.
pub fn exchange_opts(addr: &str, request: Vec<u8>, close_write: bool) -> Reply {
    parse_reply(&exchange_raw(addr, request, close_write))
}

/// [`exchange_opts`], returning the raw bytes received.
pub fn exchange_raw(addr: &str, request: Vec<u8>, close_write: bool) -> Vec<u8> {
    let stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The server may answer and close before taking everything: a
        // failed write is part of the game, not a test failure.
        let _ = writer.write_all(&request);
        let _ = writer.flush();
        if close_write {
            let _ = writer.shutdown(Shutdown::Write);
        }
        writer
    });
    let raw = read_to_close(stream);
    let _keep_open_until_read = sender.join();
    raw
}

/// Reads until EOF, a reset or the suite's timeout (a hang panics).
pub fn read_to_close(mut stream: TcpStream) -> Vec<u8> {
    let start = Instant::now();
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!(
                    "the server neither answered nor closed within {:?} (got {} bytes)",
                    start.elapsed(),
                    raw.len()
                )
            }
            // A reset after (or instead of) an answer.
            Err(_) => break,
        }
    }
    raw
}

/// Parses a raw HTTP/1.1 answer; status 0 if there is none.
pub fn parse_reply(raw: &[u8]) -> Reply {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Reply::default();
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else if let Some(len) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// A request head plus body, `Connection: close` and a correct
/// `Content-Length` unless the caller gives its own framing headers.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    let framed = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    });
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !framed && (!body.is_empty() || method == "POST") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// `GET path`.
pub fn get(path: &str) -> Vec<u8> {
    request("GET", path, &[], b"")
}

/// `POST path` with a JSON content type.
pub fn post_json(path: &str, body: &[u8]) -> Vec<u8> {
    request("POST", path, &[("Content-Type", "application/json")], body)
}

/// Chunked transfer encoding of `body`, in chunks of `chunk` bytes.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The boundary every hand-made multipart body uses.
pub const BOUNDARY: &str = "wbs-hostile-boundary-7d1f";

/// A multipart/form-data body built by hand, part by part.
#[derive(Default, Clone)]
pub struct Multipart {
    body: Vec<u8>,
}

impl Multipart {
    /// An empty body.
    pub fn new() -> Self {
        Multipart::default()
    }

    /// Adds a part named `name`.
    pub fn part(mut self, name: &str, data: &[u8]) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Adds raw bytes.
    pub fn raw(mut self, data: &[u8]) -> Self {
        self.body.extend_from_slice(data);
        self
    }

    /// The body without the closing boundary (a truncated upload).
    pub fn unfinished(self) -> Vec<u8> {
        self.body
    }

    /// The whole body, closing boundary included.
    pub fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }
}

/// The content type matching [`Multipart`].
pub fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// `POST path` with a multipart body.
pub fn post_multipart(path: &str, body: &[u8]) -> Vec<u8> {
    request("POST", path, &[("Content-Type", &multipart_type())], body)
}

/// The inspectorate recipients of a test server.
pub fn recipients(server: &TestServer) -> Vec<age::x25519::Recipient> {
    server.keys.iter().map(|k| k.identity.to_public()).collect()
}

/// `n` fresh recipients nobody configured.
pub fn strangers(n: usize) -> Vec<age::x25519::Recipient> {
    (0..n)
        .map(|_| age::x25519::Identity::generate().to_public())
        .collect()
}

/// A sealed report with `marker` in its body.
pub fn report_object(
    recipients: &[age::x25519::Recipient],
    code: &ReceiptCode,
    marker: &str,
    attachments: Vec<AttachmentMeta>,
) -> Vec<u8> {
    Report {
        format: REPORT_FORMAT.into(),
        category: "procurement".into(),
        title: format!("Laporan {marker}"),
        body: format!("Isi laporan: {marker}"),
        details: None,
        attachments,
        reply_recipient: code.reply_recipient().to_string(),
        contact: None,
        thread_key: None,
        channel: None,
    }
    .seal(recipients)
    .unwrap()
}

/// A sealed follow-up with `marker` in its body.
pub fn followup_object(recipients: &[age::x25519::Recipient], marker: &str) -> Vec<u8> {
    FollowUp {
        format: wbs_protocol::message::FOLLOWUP_FORMAT.into(),
        id: None,
        body: format!("Tambahan: {marker}"),
        attachments: vec![],
        auth: None,
    }
    .seal(recipients)
    .unwrap()
}

/// An attachment: `data` zero-padded and sealed, plus its description.
pub fn attachment_object(
    recipients: &[age::x25519::Recipient],
    name: &str,
    data: &[u8],
) -> (Vec<u8>, AttachmentMeta) {
    let mut out = Vec::new();
    wbs_protocol::envelope::encrypt_padded(
        recipients,
        data,
        wbs_protocol::padding::FILE_PAD,
        &mut out,
    )
    .unwrap();
    let meta = AttachmentMeta {
        name: name.into(),
        media_type: "application/octet-stream".into(),
        size: data.len() as u64,
        sha256: wbs_protocol::hex(&Sha256::digest(data)),
        metadata: None,
    };
    (out, meta)
}

/// The `meta` part of a submission without proof of work.
pub fn submission_meta(code: &ReceiptCode) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "lookup": code.lookup_key().to_base64url(),
        "reply_recipient": code.reply_recipient().to_string(),
    }))
    .unwrap()
}

/// The `meta` part of a follow-up without proof of work.
pub fn followup_meta(code: &ReceiptCode) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "lookup": code.lookup_key().to_base64url() })).unwrap()
}

/// A status look-up body.
pub fn status_body(code: &ReceiptCode) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "lookup": code.lookup_key().to_base64url() })).unwrap()
}

/// A server with one report already filed (the "seed"), so every case can
/// check that a real reporter is still served and nothing was touched.
pub struct Fixture {
    /// The running server.
    pub server: TestServer,
    /// `host:port` of the reporter routes.
    pub addr: String,
    /// `host:port` of the desk routes.
    pub desk_addr: String,
    /// The seeded report's receipt code.
    pub seed: ReceiptCode,
    /// The investigator token.
    pub token: String,
    /// The inspectorate recipients.
    pub recipients: Vec<age::x25519::Recipient>,
    /// The server's proof-of-work difficulty (0: none asked).
    pub difficulty: u8,
}

impl Fixture {
    /// Starts a server and files the seed report (with one attachment).
    pub fn start(options: ServerOptions) -> Fixture {
        let server = TestServer::start(options);
        let token = std::fs::read_to_string(server.token_file())
            .unwrap()
            .trim()
            .to_string();
        let addr = addr_of(&server.url);
        let config = exchange(&addr, get("/api/v1/config")).json();
        let fixture = Fixture {
            difficulty: config["pow"]["difficulty"].as_u64().unwrap() as u8,
            addr,
            desk_addr: addr_of(&server.desk_url),
            recipients: recipients(&server),
            seed: ReceiptCode::generate(),
            token,
            server,
        };
        let reply = fixture.submit(&fixture.seed, "seed-report");
        assert_eq!(reply.status, 201, "seeding failed: {}", reply.summary());
        fixture
    }

    /// Files a valid report with one attachment under `code`.
    pub fn submit(&self, code: &ReceiptCode, marker: &str) -> Reply {
        let (att, meta) = attachment_object(&self.recipients, "a.txt", marker.as_bytes());
        let report = report_object(&self.recipients, code, marker, vec![meta]);
        let mut meta: serde_json::Value = serde_json::from_slice(&submission_meta(code)).unwrap();
        if let Some(pow) = self.solved_pow() {
            meta["pow"] = pow;
        }
        let body = Multipart::new()
            .part("meta", meta.to_string().as_bytes())
            .part("report", &report)
            .part("attachment", &att)
            .finish();
        self.send(post_multipart("/api/v1/submissions", &body))
    }

    /// A fresh challenge from the server, solved: `{challenge, nonce}`, or
    /// `None` when the server asks for no proof of work.
    pub fn solved_pow(&self) -> Option<serde_json::Value> {
        if self.difficulty == 0 {
            return None;
        }
        let c = self.send(get("/api/v1/pow")).json();
        let challenge = c["challenge"].as_str().unwrap().to_string();
        let difficulty = c["difficulty"].as_u64().unwrap() as u8;
        let nonce = wbs_protocol::pow::solve(&challenge, difficulty);
        Some(serde_json::json!({"challenge": challenge, "nonce": nonce}))
    }

    /// A raw exchange with the reporter routes.
    pub fn send(&self, request: Vec<u8>) -> Reply {
        exchange(&self.addr, request)
    }

    /// A raw exchange with the desk routes.
    pub fn send_desk(&self, request: Vec<u8>) -> Reply {
        exchange(&self.desk_addr, request)
    }

    /// `Authorization` header value of the investigator token.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The seed's status answer.
    pub fn seed_status(&self) -> Reply {
        self.send(post_json("/api/v1/status", &status_body(&self.seed)))
    }

    /// The desk's case list, as JSON.
    pub fn desk_cases(&self) -> serde_json::Value {
        let r = self.send_desk(request(
            "GET",
            "/api/v1/desk/cases",
            &[("Authorization", &self.bearer())],
            b"",
        ));
        assert_eq!(r.status, 200, "desk case list: {}", r.summary());
        r.json()
    }

    /// The id of the seeded case.
    pub fn seed_case_id(&self) -> String {
        let cases = self.desk_cases();
        cases["cases"][0]["id"].as_str().unwrap().to_string()
    }

    /// What the server holds now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            blobs: blob_files(&self.server.data),
            cases: self.desk_cases()["cases"].clone(),
            seed_status: self.seed_status().json(),
        }
    }

    /// Panics unless `/healthz` and the seed's status look-up still answer.
    pub fn assert_serving(&self) -> Result<(), String> {
        let h = self.send(get("/healthz"));
        if h.status != 200 {
            return Err(format!("/healthz answered {}", h.summary()));
        }
        let s = self.seed_status();
        if s.status != 200 {
            return Err(format!(
                "the seed's status look-up answered {}",
                s.summary()
            ));
        }
        Ok(())
    }

    /// Waits (briefly) until storage equals `before`. Refused uploads are
    /// removed by a background task right after the answer, so a short
    /// grace is allowed; anything left after it is a failure.
    pub fn assert_unchanged(&self, before: &Snapshot) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let now = self.snapshot();
            if &now == before {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(before.diff(&now));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Blob files (path relative to the data directory → size and SHA-256),
/// including anything left in `tmp/`.
pub fn blob_files(data: &Path) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    for sub in ["blobs", "tmp"] {
        for p in files_under(&data.join(sub)) {
            let Ok(bytes) = std::fs::read(&p) else {
                continue; // removed while we listed
            };
            let rel = p.strip_prefix(data).unwrap().display().to_string();
            out.insert(
                rel,
                (
                    bytes.len() as u64,
                    wbs_protocol::hex(&Sha256::digest(&bytes)),
                ),
            );
        }
    }
    out
}

/// What the server holds: blob files, the desk's case list, and the seed's
/// status answer (replies, history, follow-up count).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Blob files on disk.
    pub blobs: BTreeMap<String, (u64, String)>,
    /// `GET /api/v1/desk/cases` → `cases`.
    pub cases: serde_json::Value,
    /// The seed's status answer.
    pub seed_status: serde_json::Value,
}

impl Snapshot {
    /// What changed, for a failure message.
    pub fn diff(&self, now: &Snapshot) -> String {
        let mut out = Vec::new();
        for (p, v) in &now.blobs {
            if self.blobs.get(p) != Some(v) {
                out.push(format!("new or changed file {p}"));
            }
        }
        for p in self.blobs.keys() {
            if !now.blobs.contains_key(p) {
                out.push(format!("file {p} disappeared"));
            }
        }
        if self.cases != now.cases {
            out.push(format!("case list {} -> {}", self.cases, now.cases));
        }
        if self.seed_status != now.seed_status {
            out.push(format!(
                "seed status {} -> {}",
                self.seed_status, now.seed_status
            ));
        }
        format!("storage changed: {}", out.join("; "))
    }
}

/// What a hostile case must get back.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// This status with a JSON error body of this code.
    Error(u16, &'static str),
    /// Refused by the HTTP layer before any handler ran: one of these
    /// statuses (no JSON is possible there), or the connection closed
    /// without an answer (status 0).
    Transport(&'static [u16]),
    /// This status, body not checked (`HEAD` answers have none).
    Status(u16),
}

/// One hostile request, named after what it tries.
pub struct Case {
    /// What it is, e.g. `multipart_without_boundary`.
    pub name: &'static str,
    /// The request, built against the fixture.
    pub send: Box<dyn Fn(&Fixture) -> Reply>,
    /// The answer it must get.
    pub want: Want,
    /// Words the error message must contain (why it was refused).
    pub mentions: Option<&'static str>,
}

impl Case {
    /// A case.
    pub fn new(name: &'static str, want: Want, send: impl Fn(&Fixture) -> Reply + 'static) -> Case {
        Case {
            name,
            send: Box::new(send),
            want,
            mentions: None,
        }
    }

    /// Also requires the error message to contain `words`, for cases
    /// that share a code but must be refused for their own reason.
    pub fn mentioning(mut self, words: &'static str) -> Case {
        self.mentions = Some(words);
        self
    }
}

/// Checks one answer against what was wanted.
pub fn check_reply(reply: &Reply, want: Want) -> Result<(), String> {
    match want {
        Want::Error(status, code) => {
            if reply.status != status {
                return Err(format!("wanted {status} {code}, got {}", reply.summary()));
            }
            match reply.error_code() {
                Some(c) if c == code => {}
                Some(c) => return Err(format!("wanted code {code}, got {c}")),
                None => return Err(format!("wanted a JSON error body, got {}", reply.summary())),
            }
            if reply.header("content-type") != Some("application/json") {
                return Err(format!(
                    "error answer has content type {:?}",
                    reply.header("content-type")
                ));
            }
            if reply.header("x-content-type-options") != Some("nosniff") {
                return Err("error answer lacks the security headers".into());
            }
            Ok(())
        }
        Want::Transport(statuses) => {
            if reply.status == 0 || statuses.contains(&reply.status) {
                Ok(())
            } else {
                Err(format!(
                    "wanted one of {statuses:?} or a closed connection, got {}",
                    reply.summary()
                ))
            }
        }
        Want::Status(status) => {
            if reply.status == status {
                Ok(())
            } else {
                Err(format!("wanted {status}, got {}", reply.summary()))
            }
        }
    }
}

/// Runs every case against the fixture: answer, still serving, nothing
/// stored. Reports all failures at once. Returns the number of cases run.
pub fn run_cases(fixture: &Fixture, cases: Vec<Case>) -> usize {
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(names.insert(case.name), "case {} twice", case.name);
        let before = fixture.snapshot();
        let started = Instant::now();
        let reply = (case.send)(fixture);
        let took = started.elapsed();
        let mut problems = Vec::new();
        if let Err(e) = check_reply(&reply, case.want) {
            problems.push(e);
        }
        if let Some(words) = case.mentions {
            let message = reply.json_message().unwrap_or_default();
            if !message.contains(words) {
                problems.push(format!("message {message:?} does not mention {words:?}"));
            }
        }
        if let Err(e) = fixture.assert_serving() {
            problems.push(e);
        }
        if let Err(e) = fixture.assert_unchanged(&before) {
            problems.push(e);
        }
        eprintln!(
            "{:<55} {:>3} {:<24} {:>6} ms  {}",
            case.name,
            reply.status,
            reply.error_code().unwrap_or_else(|| "-".into()),
            took.as_millis(),
            reply.json_message().unwrap_or_default()
        );
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}
