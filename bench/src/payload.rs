//! What the simulated reporters send, all prepared before any timing starts:
//! an inspectorate key pair, encrypted 2 KiB reports, a large encrypted
//! attachment on disk, and the multipart framing around them.
//!
//! Everything is real: reports are `wbs-report/1` documents sealed with
//! wbs-protocol to the key the server is configured with, so the export
//! bundles made from them open with `wbs-inspect` like any other.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::{RngCore, SeedableRng};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use wbs_protocol::api::{SubmissionMeta, PART_ATTACHMENT, PART_META, PART_REPORT};
use wbs_protocol::envelope::encrypt_padded;
use wbs_protocol::keys::{Identity, Recipient, RecipientKind};
use wbs_protocol::message::{AttachmentMeta, Document, Report, REPORT_FORMAT};
use wbs_protocol::padding::FILE_PAD;
use wbs_protocol::ReceiptCode;

use crate::error::Result;

/// Plaintext size of the report JSON the load tests send (classic).
pub const REPORT_BYTES: usize = 2048;
/// Length of an `age1…` X25519 recipient.
const CLASSIC_RECIPIENT_LEN: usize = 62;

/// The inspectorate's key pair for a run.
pub struct InspectorKey {
    /// The recipient the server lists (classic or post-quantum).
    pub recipient: Recipient,
    /// Plain identity file, as `age` and `wbs-inspect` read it.
    pub identity_file: PathBuf,
    /// Folder holding only the `.pub` file (the server's recipients).
    pub keys_dir: PathBuf,
}

impl InspectorKey {
    /// Makes a key pair under `dir`, post-quantum if `pq`.
    pub fn create(dir: &Path, pq: bool) -> Result<InspectorKey> {
        let identity = Identity::generate(if pq {
            RecipientKind::PostQuantum
        } else {
            RecipientKind::Classic
        });
        let recipient = identity.to_public();
        let keys_dir = dir.join("keys");
        std::fs::create_dir_all(&keys_dir)?;
        std::fs::write(keys_dir.join("bench.pub"), format!("{recipient}\n"))?;
        let identity_file = dir.join("bench.key");
        std::fs::write(
            &identity_file,
            format!(
                "# wbs-bench throwaway key\n{}\n",
                identity.to_string().expose_secret()
            ),
        )?;
        Ok(InspectorKey {
            recipient,
            identity_file,
            keys_dir,
        })
    }
}

impl InspectorKey {
    /// A fresh receipt code as a client of this deployment makes it: 28
    /// symbols when the key is post-quantum.
    pub fn new_code(&self) -> ReceiptCode {
        ReceiptCode::generate_for(self.recipient.kind() == RecipientKind::PostQuantum)
    }
}

/// One submission's parts: what the reporter's device would send.
pub struct Submission {
    /// The lookup key, base64url.
    pub lookup: String,
    /// The reply recipient derived from the receipt code.
    pub reply_recipient: String,
    /// The sealed report.
    pub report: Vec<u8>,
}

/// A report whose JSON is [`REPORT_BYTES`] long, for `code`, sealed to `to`.
/// With a post-quantum reply recipient (1,959 characters instead of 62) the
/// same text makes a JSON longer by the difference: what a reporter of a
/// post-quantum deployment sends for the same report.
pub fn small_submission(
    to: &Recipient,
    code: &ReceiptCode,
    attachments: Vec<AttachmentMeta>,
) -> Result<Submission> {
    let reply_recipient = code.case_reply_recipient();
    let mut report = Report {
        format: REPORT_FORMAT.into(),
        category: "procurement".into(),
        title: "Harga pengadaan laptop dinaikkan".into(),
        body: String::new(),
        details: None,
        attachments,
        reply_recipient: reply_recipient.clone(),
        contact: None,
        thread_key: Some(code.thread_key().to_base64url().to_string()),
        channel: Some("cli".into()),
    };
    // The frame as with a classic reply recipient, so both kinds carry the
    // same text.
    let frame = serde_json::to_vec(&report)
        .map_err(|e| e.to_string())?
        .len()
        - reply_recipient.len()
        + CLASSIC_RECIPIENT_LEN;
    let filler = "Harga satuan laptop dalam kontrak pengadaan dinaikkan tiga kali lipat. ";
    report.body = filler
        .repeat(REPORT_BYTES / filler.len() + 1)
        .chars()
        .take(REPORT_BYTES.saturating_sub(frame))
        .collect();
    let sealed = report
        .seal(std::slice::from_ref(to))
        .map_err(|e| e.to_string())?;
    Ok(Submission {
        lookup: code.lookup_key().to_base64url(),
        reply_recipient,
        report: sealed,
    })
}

/// A unique, valid lookup key for request `i` of a run: the server cannot
/// tell it from one derived from a receipt code, and never sees the code.
pub fn synthetic_lookup(salt: &[u8; 16], i: u64) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(i.to_le_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize())
}

/// A multipart boundary that cannot occur in the parts (random, long).
pub fn boundary() -> String {
    let mut raw = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!(
        "wbs-bench-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// The `Content-Type` of a multipart body.
pub fn multipart_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The `meta` part's JSON.
pub fn meta_json(lookup: &str, reply_recipient: &str) -> Vec<u8> {
    serde_json::to_vec(&SubmissionMeta {
        lookup: lookup.to_string(),
        reply_recipient: reply_recipient.to_string(),
        pow: None,
    })
    .expect("meta serializes")
}

fn part_head(out: &mut Vec<u8>, boundary: &str, name: &str, file: Option<&str>, kind: &str) {
    let _ = write!(
        out,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
    );
    if let Some(f) = file {
        let _ = write!(out, "; filename=\"{f}\"");
    }
    let _ = write!(out, "\r\nContent-Type: {kind}\r\n\r\n");
}

/// A whole submission body without attachments.
pub fn submission_body(boundary: &str, meta: &[u8], report: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(report.len() + meta.len() + 512);
    part_head(&mut out, boundary, PART_META, None, "application/json");
    out.extend_from_slice(meta);
    out.extend_from_slice(b"\r\n");
    part_head(
        &mut out,
        boundary,
        PART_REPORT,
        Some("report.age"),
        "application/octet-stream",
    );
    out.extend_from_slice(report);
    let _ = write!(out, "\r\n--{boundary}--\r\n");
    out
}

/// A submission body with one attachment streamed from disk: the bytes
/// before the attachment, and the bytes after it.
pub fn submission_with_attachment(
    boundary: &str,
    meta: &[u8],
    report: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut before = Vec::with_capacity(report.len() + meta.len() + 512);
    part_head(&mut before, boundary, PART_META, None, "application/json");
    before.extend_from_slice(meta);
    before.extend_from_slice(b"\r\n");
    part_head(
        &mut before,
        boundary,
        PART_REPORT,
        Some("report.age"),
        "application/octet-stream",
    );
    before.extend_from_slice(report);
    before.extend_from_slice(b"\r\n");
    part_head(
        &mut before,
        boundary,
        PART_ATTACHMENT,
        Some("attachment-1.age"),
        "application/octet-stream",
    );
    let after = format!("\r\n--{boundary}--\r\n").into_bytes();
    (before, after)
}

/// A submission whose one attachment is a finished resumable upload,
/// named by its id (docs/PROTOCOL.md §7.4).
pub fn submission_naming_upload(
    boundary: &str,
    meta: &[u8],
    report: &[u8],
    upload: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(report.len() + meta.len() + 512);
    part_head(&mut out, boundary, PART_META, None, "application/json");
    out.extend_from_slice(meta);
    out.extend_from_slice(b"\r\n");
    part_head(
        &mut out,
        boundary,
        PART_REPORT,
        Some("report.age"),
        "application/octet-stream",
    );
    out.extend_from_slice(report);
    out.extend_from_slice(b"\r\n");
    part_head(&mut out, boundary, "attachment_upload", None, "text/plain");
    out.extend_from_slice(upload.as_bytes());
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// Plaintext that does not compress and costs nothing to make: a 1 MiB
/// block of seeded random bytes, repeated.
struct Evidence {
    block: Vec<u8>,
    pos: usize,
    left: u64,
    hasher: Sha256,
}

impl Read for Evidence {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64)
            .min(self.left)
            .min((self.block.len() - self.pos) as u64) as usize;
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.hasher.update(&buf[..n]);
        self.pos = (self.pos + n) % self.block.len();
        self.left -= n as u64;
        Ok(n)
    }
}

/// A large attachment, encrypted to `to` and written to `path` (and
/// fsynced, so no write-back of it runs during a measurement). Returns
/// what the report says about it.
pub fn encrypt_attachment(to: &Recipient, size: u64, path: &Path) -> Result<AttachmentMeta> {
    let mut block = vec![0u8; 1 << 20];
    rand::rngs::StdRng::seed_from_u64(0x5eed).fill_bytes(&mut block);
    let mut evidence = Evidence {
        block,
        pos: 0,
        left: size,
        hasher: Sha256::new(),
    };
    let file = File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    encrypt_padded(std::slice::from_ref(to), &mut evidence, FILE_PAD, &mut out)
        .map_err(|e| e.to_string())?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(AttachmentMeta {
        name: "evidence.bin".into(),
        media_type: "application/octet-stream".into(),
        size,
        sha256: wbs_protocol::hex(&evidence.hasher.finalize()),
        metadata: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_the_stated_size_and_open() {
        for kind in [RecipientKind::Classic, RecipientKind::PostQuantum] {
            let id = Identity::generate(kind);
            let code = ReceiptCode::generate_for(kind == RecipientKind::PostQuantum);
            let s = small_submission(&id.to_public(), &code, Vec::new()).unwrap();
            let report = Report::open(&id, &s.report).unwrap();
            assert_eq!(
                serde_json::to_vec(&report).unwrap().len(),
                REPORT_BYTES + s.reply_recipient.len() - CLASSIC_RECIPIENT_LEN
            );
            assert_eq!(report.reply_recipient, s.reply_recipient);
            assert_eq!(RecipientKind::of_str(&s.reply_recipient), kind);
        }
    }

    #[test]
    fn synthetic_lookups_are_valid_and_distinct() {
        let salt = [7u8; 16];
        let a = synthetic_lookup(&salt, 1);
        assert_ne!(a, synthetic_lookup(&salt, 2));
        assert!(wbs_protocol::LookupKey::from_base64url(&a).is_some());
    }
}
