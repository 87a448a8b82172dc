//! Shared tools of the durability suites (`durability_*.rs`): real
//! submissions built with wbs-protocol exactly as a reporter's device builds
//! them, the status look-up, the desk export, and the check that an
//! exported case is complete, intact and decrypts to what was sent.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use wbs_e2e::{bin, files_under, TestServer};
use wbs_protocol::api::SubmissionMeta;
use wbs_protocol::bundle::{
    read_export, BundleError, CaseManifest, ExportManifest, ExportVisitor, Limits, ObjectEntry,
    ObjectKind,
};
use wbs_protocol::message::{AttachmentMeta, Document, Report, REPORT_FORMAT};
use wbs_protocol::{envelope, padding, ReceiptCode};

/// Limits high enough that only storage, never a rate limit, decides.
pub const GENEROUS_LIMITS: &str = "[limits]\nsubmissions_per_minute = 1000000\n\
     followups_per_minute = 1000000\nstatus_per_second = 1000000\n\
     max_concurrent_uploads = 64\n";

/// One reporter's submission, encrypted and ready to send.
pub struct Submission {
    /// The receipt code (kept by the "reporter").
    pub code: ReceiptCode,
    /// A title that names the submission, to find it again after decrypting.
    pub title: String,
    /// The attachments' plaintext.
    pub attachments: Vec<Vec<u8>>,
    /// The encrypted report.
    pub report_age: Vec<u8>,
    /// The encrypted attachments.
    pub attachments_age: Vec<Vec<u8>>,
}

impl Submission {
    /// A submission with `sizes.len()` attachments of random bytes.
    pub fn new(
        title: String,
        sizes: &[usize],
        recipients: &[age::x25519::Recipient],
        rng: &mut impl RngCore,
    ) -> Submission {
        let code = ReceiptCode::generate();
        let attachments: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| {
                let mut b = vec![0u8; n];
                rng.fill_bytes(&mut b);
                b
            })
            .collect();
        let report = Report {
            format: REPORT_FORMAT.into(),
            category: "corruption".into(),
            title: title.clone(),
            body: format!("{title}: dana hibah dipotong 20% oleh pejabat dinas"),
            details: None,
            attachments: attachments
                .iter()
                .enumerate()
                .map(|(i, a)| AttachmentMeta {
                    name: format!("bukti-{i}.bin"),
                    media_type: "application/octet-stream".into(),
                    size: a.len() as u64,
                    sha256: wbs_protocol::hex(&Sha256::digest(a)),
                    metadata: None,
                })
                .collect(),
            reply_recipient: code.reply_recipient().to_string(),
            contact: None,
            thread_key: None,
            channel: None,
        };
        let report_age = report.seal(recipients).unwrap();
        let attachments_age = attachments
            .iter()
            .map(|a| {
                let mut out = Vec::new();
                envelope::encrypt_padded(recipients, &a[..], padding::FILE_PAD, &mut out).unwrap();
                out
            })
            .collect();
        Submission {
            code,
            title,
            attachments,
            report_age,
            attachments_age,
        }
    }

    /// The lookup key as the API takes it.
    pub fn lookup(&self) -> String {
        self.code.lookup_key().to_base64url()
    }

    /// The reply recipient the server stores with the case.
    pub fn reply_recipient(&self) -> String {
        self.code.reply_recipient().to_string()
    }

    /// The `meta` part.
    pub fn meta_json(&self) -> String {
        serde_json::to_string(&SubmissionMeta {
            lookup: self.lookup(),
            reply_recipient: self.reply_recipient(),
            pow: None,
        })
        .unwrap()
    }

    /// The multipart form: `meta`, `report`, then every `attachment`.
    pub fn form(&self) -> reqwest::blocking::multipart::Form {
        use reqwest::blocking::multipart::{Form, Part};
        let mut form = Form::new()
            .part(
                "meta",
                Part::text(self.meta_json())
                    .mime_str("application/json")
                    .unwrap(),
            )
            .part("report", age_part(self.report_age.clone()));
        for a in &self.attachments_age {
            form = form.part("attachment", age_part(a.clone()));
        }
        form
    }

    /// The number of objects its case must have.
    pub fn objects(&self) -> usize {
        1 + self.attachments.len()
    }
}

fn age_part(bytes: Vec<u8>) -> reqwest::blocking::multipart::Part {
    reqwest::blocking::multipart::Part::bytes(bytes)
        .file_name("object.age")
        .mime_str("application/octet-stream")
        .unwrap()
}

/// Random attachment sizes: none to three files, mostly small, some large
/// enough that an upload takes a while.
pub fn random_sizes(rng: &mut impl Rng) -> Vec<usize> {
    let n = rng.gen_range(0..=3);
    (0..n)
        .map(|_| {
            if rng.gen_bool(0.3) {
                rng.gen_range(100_000..400_000)
            } else {
                rng.gen_range(1..20_000)
            }
        })
        .collect()
}

/// A blocking client with a bound on every request.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Posts a submission; the HTTP status, or the transport error.
pub fn submit(
    client: &reqwest::blocking::Client,
    url: &str,
    s: &Submission,
) -> Result<(u16, String), String> {
    let resp = client
        .post(format!("{url}/api/v1/submissions"))
        .multipart(s.form())
        .send()
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let body = resp.text().map_err(|e| format!("{e:?}"))?;
    Ok((status, body))
}

/// The multipart body of a submission, byte for byte, with its boundary.
pub fn raw_form(s: &Submission) -> (String, Vec<u8>) {
    let boundary = "wbs-durability-boundary-7d1f0c";
    let mut body = Vec::new();
    let mut part = |name: &str, ctype: &str, bytes: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    };
    part("meta", "application/json", s.meta_json().as_bytes());
    part("report", "application/octet-stream", &s.report_age);
    for a in &s.attachments_age {
        part("attachment", "application/octet-stream", a);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary.to_string(), body)
}

/// Posts a submission over a plain TCP connection, sending from one thread
/// while reading on another, so an answer the server gives before it has
/// read the whole body (a 507 when the disk fills mid-upload) is seen even
/// though the server then closes the connection: an HTTP client library
/// reports only the broken upload. Returns the status and the body.
pub fn submit_raw(url: &str, s: &Submission) -> (u16, String) {
    use std::net::TcpStream;
    let addr = url.trim_start_matches("http://");
    let (boundary, body) = raw_form(s);
    let mut request = format!(
        "POST /api/v1/submissions HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The server may answer and close before taking everything.
        let _ = writer.write_all(&request);
        writer
    });
    let mut raw = Vec::new();
    let mut reader = stream;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("no answer within 60 s")
            }
            // A reset after the answer.
            Err(_) => break,
        }
    }
    let _ = sender.join();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `POST /api/v1/status` for a lookup key: the HTTP status.
pub fn status_of(client: &reqwest::blocking::Client, url: &str, lookup: &str) -> u16 {
    client
        .post(format!("{url}/api/v1/status"))
        .json(&serde_json::json!({ "lookup": lookup }))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// `POST /api/v1/status`: the answer as JSON (asserting 200).
pub fn status_json(
    client: &reqwest::blocking::Client,
    url: &str,
    lookup: &str,
) -> serde_json::Value {
    let resp = client
        .post(format!("{url}/api/v1/status"))
        .json(&serde_json::json!({ "lookup": lookup }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "status look-up failed");
    resp.json().unwrap()
}

/// The first token's secret.
pub fn token(server: &TestServer) -> String {
    std::fs::read_to_string(server.token_file())
        .unwrap()
        .trim()
        .to_string()
}

/// `GET /api/v1/desk/export?since=…`: the whole body and the cursor
/// header, or what cut the export short.
///
/// The server streams an export, so a failure while writing it (a damaged
/// or missing blob) can only cut the connection: in the middle of the body,
/// or before the response head when it comes before the first chunk was
/// sent. A cut at any point is an `Err`; not reaching the server at all,
/// or a status other than 200, is a failure of the test itself.
pub fn export_raw(server: &TestServer, since: u64) -> Result<(Vec<u8>, u64), String> {
    let mut resp = match client()
        .get(format!(
            "{}/api/v1/desk/export?since={since}",
            server.desk_url
        ))
        .bearer_auth(token(server))
        .send()
    {
        Ok(resp) => resp,
        Err(e) if e.is_connect() => panic!("cannot reach the server: {e:?}"),
        Err(e) => return Err(format!("cut before the response head: {e:?}")),
    };
    assert_eq!(resp.status(), 200, "export refused");
    let cursor = resp
        .headers()
        .get("x-wbs-cursor")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("cursor header");
    let mut body = Vec::new();
    resp.read_to_end(&mut body)
        .map_err(|e| format!("cut in the body after {} bytes: {e:?}", body.len()))?;
    Ok((body, cursor))
}

/// `GET /api/v1/desk/cases` as JSON.
pub fn desk_cases(server: &TestServer) -> serde_json::Value {
    let resp = client()
        .get(format!("{}/api/v1/desk/cases", server.desk_url))
        .bearer_auth(token(server))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().unwrap()
}

/// One case of an export bundle, with its objects' bytes.
#[derive(Debug, Clone)]
pub struct ExportedCase {
    /// `case.json`.
    pub manifest: CaseManifest,
    /// Every object, by its path in the case folder.
    pub objects: HashMap<String, (ObjectEntry, Vec<u8>)>,
}

#[derive(Default)]
struct Collect {
    manifest: Option<ExportManifest>,
    cases: Vec<ExportedCase>,
}

impl ExportVisitor for Collect {
    fn manifest(&mut self, m: &ExportManifest) -> Result<(), BundleError> {
        self.manifest = Some(m.clone());
        Ok(())
    }
    fn case(&mut self, c: &CaseManifest) -> Result<(), BundleError> {
        self.cases.push(ExportedCase {
            manifest: c.clone(),
            objects: HashMap::new(),
        });
        Ok(())
    }
    fn object(
        &mut self,
        c: &CaseManifest,
        e: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)?;
        let case = self
            .cases
            .iter_mut()
            .find(|x| x.manifest.id == c.id)
            .unwrap();
        case.objects.insert(e.path.clone(), (e.clone(), bytes));
        Ok(())
    }
}

/// Reads an export bundle with the protocol's own checking reader (paths,
/// sizes, SHA-256 of every object, completeness).
pub fn read_bundle(bytes: &[u8]) -> Result<(ExportManifest, Vec<ExportedCase>), BundleError> {
    let mut c = Collect::default();
    read_export(bytes, &Limits::EXPORT, &mut c)?;
    Ok((c.manifest.expect("manifest"), c.cases))
}

/// Exports everything since `since` and reads it; panics if the export or
/// the bundle fails. Returns the cases and the next cursor.
pub fn export(server: &TestServer, since: u64) -> (Vec<ExportedCase>, u64) {
    let (body, cursor) = export_raw(server, since).unwrap_or_else(|e| panic!("export {e}"));
    let (_, cases) = read_bundle(&body).unwrap_or_else(|e| panic!("export bundle refused: {e}"));
    (cases, cursor)
}

/// Checks that an exported case is exactly `s`: the reply recipient, one
/// report and every attachment, each decrypting (with `identity`) to what
/// was sent. Only for cases exported whole (`since` before the case).
pub fn check_case_matches(case: &ExportedCase, s: &Submission, identity: &age::x25519::Identity) {
    let id = &case.manifest.id;
    assert_eq!(
        case.manifest.reply_recipient,
        s.reply_recipient(),
        "case {id}"
    );
    assert_eq!(
        case.objects.len(),
        s.objects(),
        "case {id} ({}) has {} objects, its submission had {}",
        s.title,
        case.objects.len(),
        s.objects()
    );
    let (_, report) = &case.objects["report.age"];
    assert_eq!(report, &s.report_age, "case {id}: report bytes differ");
    let opened = Report::open(identity, report).unwrap_or_else(|e| {
        panic!("case {id}: the report does not decrypt: {e}");
    });
    assert_eq!(opened.title, s.title);
    assert_eq!(opened.attachments.len(), s.attachments.len());
    for (i, plain) in s.attachments.iter().enumerate() {
        let path = ObjectKind::Attachment {
            index: i as u32 + 1,
        }
        .path();
        let (_, sealed) = case
            .objects
            .get(&path)
            .unwrap_or_else(|| panic!("case {id}: {path} missing"));
        let mut out = Vec::new();
        envelope::decrypt_stream(identity, &sealed[..])
            .unwrap_or_else(|e| panic!("case {id}: {path} does not decrypt: {e}"))
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("case {id}: {path} is damaged: {e}"));
        out.truncate(plain.len());
        assert_eq!(&out, plain, "case {id}: {path} decrypts to other bytes");
    }
}

/// The blob files in a data directory.
pub fn blob_files(data: &Path) -> usize {
    files_under(&data.join("blobs")).len()
}

/// The files in a data directory's `tmp/`.
pub fn tmp_files(data: &Path) -> usize {
    files_under(&data.join("tmp")).len()
}

/// Runs `wbs-server ARGS --config <server's config>`, bounded in time.
pub fn wbs_server(server: &TestServer, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin("wbs-server"));
    cmd.arg("--config").arg(&server.config).args(args);
    run_bounded(cmd, Duration::from_secs(120))
}

/// Runs a command to its end, killing it (and failing) after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Text of a command's stdout and stderr, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (bounded) until `cond` holds; panics with `what` if it never does.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Flips one byte in the middle of a file.
pub fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(&bytes).unwrap();
    f.sync_all().unwrap();
}

/// The recipients of a test server, parsed.
pub fn recipients(server: &TestServer) -> Vec<age::x25519::Recipient> {
    server
        .keys
        .iter()
        .map(|k| envelope::parse_recipient(&k.recipient).unwrap())
        .collect()
}
