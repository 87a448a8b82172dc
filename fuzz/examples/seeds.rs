//! Writes the seed corpus in `fuzz/seeds/<target>/`: one valid input per
//! shape each parser expects, so the fuzzer starts from the interesting
//! paths instead of finding the tar and age formats from nothing.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`

use std::path::Path;

use sha2::{Digest, Sha256};
use wbs_protocol::api::HistoryEntry;
use wbs_protocol::bundle::{
    CaseManifest, ExportManifest, ExportWriter, ManifestCase, ObjectEntry, ObjectKind, ReplyBundle,
    ReplyItem, EXPORT_FORMAT,
};
use wbs_protocol::message::{
    AttachmentMeta, Details, Document, FollowUp, Reply, Report, REPORT_FORMAT,
};
use wbs_protocol::{ReceiptCode, Status};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let code = ReceiptCode::generate();
    write("receipt", "canonical", code.canonical().as_bytes());
    write("receipt", "grouped", code.display_grouped().as_bytes());
    write(
        "receipt",
        "messy",
        format!(" {} ", code.display_grouped().to_lowercase()).as_bytes(),
    );
    write(
        "receipt",
        "lookup",
        code.lookup_key().to_base64url().as_bytes(),
    );

    let report = Report {
        format: REPORT_FORMAT.into(),
        category: "procurement".into(),
        title: "Mark-up".into(),
        body: "Harga dinaikkan 300%".into(),
        details: Some(Details {
            who: Some("Kepala bagian".into()),
            when: Some("Maret".into()),
            ..Default::default()
        }),
        attachments: vec![AttachmentMeta {
            name: "kuitansi.pdf".into(),
            media_type: "application/pdf".into(),
            size: 12,
            sha256: "ab".repeat(32),
            metadata: None,
        }],
        reply_recipient: code.reply_recipient().to_string(),
        contact: Some("x@example.org".into()),
        thread_key: Some(code.thread_key().to_base64url().to_string()),
    };
    let mut padded = serde_json::to_vec(&report).unwrap();
    padded.extend_from_slice(&[b' '; 40]);
    write("document", "report", &padded);
    let followup = FollowUp::authenticated(
        &code.thread_key(),
        &code.reply_recipient().to_string(),
        "Tambahan".into(),
        vec![],
    );
    write(
        "document",
        "followup",
        &serde_json::to_vec(&followup).unwrap(),
    );
    let reply = Reply::authenticated(
        &code.thread_key(),
        &code.reply_recipient().to_string(),
        "Terima kasih".into(),
        Some("in_review".into()),
    );
    write("document", "reply", &serde_json::to_vec(&reply).unwrap());

    // age files: one recipient, two, and a reply's three.
    let ids: Vec<_> = (0..3).map(|_| age::x25519::Identity::generate()).collect();
    let recipients: Vec<_> = ids.iter().map(|i| i.to_public()).collect();
    for n in 1..=3 {
        let ct = reply.seal(&recipients[..n]).unwrap();
        let mut seed = vec![n as u8];
        seed.extend_from_slice(&ct);
        write("age_header", &format!("recipients-{n}"), &seed);
    }

    // A reply bundle with a status change and a reply.
    let sealed_reply = reply.seal(&recipients[..2]).unwrap();
    let mut bundle = ReplyBundle::default();
    bundle.push(
        ReplyItem {
            id: "r1".into(),
            case_id: "case1".into(),
            status: Some(Status::InReview),
            reply: None,
        },
        Some(sealed_reply.clone()),
    );
    bundle.push(
        ReplyItem {
            id: "r2".into(),
            case_id: "case2".into(),
            status: Some(Status::Rejected),
            reply: None,
        },
        None,
    );
    write(
        "reply_bundle",
        "two-items",
        &bundle.write(Vec::new()).unwrap(),
    );

    // An export bundle of one case with a report and an attachment.
    let report_ct = report.seal(&recipients[..1]).unwrap();
    let objects = [
        (ObjectKind::Report, report_ct),
        (ObjectKind::Attachment { index: 1 }, vec![7u8; 300]),
        (ObjectKind::Followup { n: 1 }, sealed_reply),
    ];
    let entries: Vec<ObjectEntry> = objects
        .iter()
        .map(|(kind, data)| ObjectEntry {
            path: kind.path(),
            kind: *kind,
            size: data.len() as u64,
            sha256: wbs_protocol::hex(&Sha256::digest(data)),
            on: "2026-11-27".into(),
        })
        .collect();
    let manifest = ExportManifest {
        format: EXPORT_FORMAT.into(),
        since: "0".into(),
        cursor: "3".into(),
        organization: "Inspektorat".into(),
        recipients: vec![recipients[0].to_string()],
        cases: vec![ManifestCase {
            id: "case1".into(),
            objects: 3,
        }],
    };
    let case = CaseManifest {
        id: "case1".into(),
        received_on: "2026-11-27".into(),
        status: Status::Received,
        history: vec![HistoryEntry {
            status: Status::Received,
            on: "2026-11-27".into(),
        }],
        reply_recipient: code.reply_recipient().to_string(),
        objects: entries.clone(),
    };
    let mut w = ExportWriter::new(Vec::new(), &manifest).unwrap();
    w.case(&case).unwrap();
    for (entry, (_, data)) in entries.iter().zip(&objects) {
        w.object("case1", entry, &data[..]).unwrap();
    }
    write("export_bundle", "one-case", &w.finish().unwrap());
}
