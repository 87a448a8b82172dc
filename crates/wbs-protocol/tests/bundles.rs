//! Export and reply bundles: round trips, and every kind of hostile entry
//! refused before the caller sees it.

use std::io::Read;

use sha2::{Digest, Sha256};
use wbs_protocol::api::HistoryEntry;
use wbs_protocol::bundle::{
    read_export, read_replies, BundleError, CaseManifest, ExportManifest, ExportSummary,
    ExportVisitor, ExportWriter, Limits, ManifestCase, ObjectEntry, ObjectKind, ReplyBundle,
    ReplyItem, EXPORT_FORMAT,
};
use wbs_protocol::{hex, Status};

fn object(kind: ObjectKind, data: &[u8]) -> ObjectEntry {
    ObjectEntry {
        path: kind.path(),
        kind,
        size: data.len() as u64,
        sha256: hex(&Sha256::digest(data)),
        on: "2026-11-27".into(),
    }
}

fn case(id: &str, objects: Vec<ObjectEntry>) -> CaseManifest {
    CaseManifest {
        id: id.into(),
        received_on: "2026-11-27".into(),
        status: Status::Received,
        history: vec![HistoryEntry {
            status: Status::Received,
            on: "2026-11-27".into(),
        }],
        reply_recipient: "age1example".into(),
        objects,
    }
}

type Contents = Vec<(String, ObjectKind, Vec<u8>)>;

/// Builds a valid bundle of two cases.
fn sample_bundle() -> (Vec<u8>, Contents) {
    let a_report = b"report-a".to_vec();
    let a_att = vec![1u8; 5000];
    let b_followup = b"followup-b".to_vec();
    let b_fatt = b"followup-attachment-b".to_vec();
    let cases = vec![
        (
            "casea",
            vec![
                (ObjectKind::Report, a_report),
                (ObjectKind::Attachment { index: 1 }, a_att),
            ],
        ),
        (
            "caseb",
            vec![
                (ObjectKind::Followup { n: 1 }, b_followup),
                (ObjectKind::FollowupAttachment { n: 1, index: 1 }, b_fatt),
            ],
        ),
    ];
    let manifest = ExportManifest {
        format: EXPORT_FORMAT.into(),
        since: "0".into(),
        cursor: "4".into(),
        organization: "Inspektorat".into(),
        recipients: vec![],
        cases: cases
            .iter()
            .map(|(id, objs)| ManifestCase {
                id: id.to_string(),
                objects: objs.len() as u32,
            })
            .collect(),
    };
    let mut w = ExportWriter::new(Vec::new(), &manifest).unwrap();
    let mut contents = Vec::new();
    for (id, objs) in &cases {
        let c = case(id, objs.iter().map(|(k, d)| object(*k, d)).collect());
        w.case(&c).unwrap();
        for (k, d) in objs {
            w.object(id, &object(*k, d), &d[..]).unwrap();
            contents.push((id.to_string(), *k, d.clone()));
        }
    }
    (w.finish().unwrap(), contents)
}

#[derive(Default)]
struct Collect {
    manifest: Option<ExportManifest>,
    cases: Vec<String>,
    objects: Contents,
}

impl ExportVisitor for Collect {
    fn manifest(&mut self, m: &ExportManifest) -> Result<(), BundleError> {
        self.manifest = Some(m.clone());
        Ok(())
    }
    fn case(&mut self, c: &CaseManifest) -> Result<(), BundleError> {
        self.cases.push(c.id.clone());
        Ok(())
    }
    fn object(
        &mut self,
        c: &CaseManifest,
        e: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf)
            .map_err(|_| BundleError::HashMismatch(e.path.clone()))?;
        self.objects.push((c.id.clone(), e.kind, buf));
        Ok(())
    }
}

fn read(bytes: &[u8]) -> Result<(ExportSummary, Collect), BundleError> {
    let mut v = Collect::default();
    let s = read_export(bytes, &Limits::EXPORT, &mut v)?;
    Ok((s, v))
}

#[test]
fn export_round_trip() {
    let (bytes, contents) = sample_bundle();
    let (summary, v) = read(&bytes).unwrap();
    assert_eq!(summary.cases, 2);
    assert_eq!(summary.objects, 4);
    assert_eq!(v.cases, vec!["casea", "caseb"]);
    assert_eq!(v.objects, contents);
    assert_eq!(v.manifest.unwrap().cursor, "4");
}

#[test]
fn export_bundles_are_deterministic() {
    assert_eq!(sample_bundle().0, sample_bundle().0);
}

// ---- hostile tars, built by hand ----

struct RawTar(Vec<u8>);

impl RawTar {
    fn new() -> Self {
        RawTar(Vec::new())
    }
    fn entry(mut self, name: &[u8], kind: tar::EntryType, data: &[u8]) -> Self {
        self.entry_with_link(name, kind, data, b"");
        self
    }
    fn entry_with_link(&mut self, name: &[u8], kind: tar::EntryType, data: &[u8], link: &[u8]) {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name);
            old.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name.as_bytes(), tar::EntryType::Regular, data)
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }
}

fn manifest_json(cases: &[(&str, u32)]) -> Vec<u8> {
    serde_json::to_vec(&ExportManifest {
        format: EXPORT_FORMAT.into(),
        since: "0".into(),
        cursor: "1".into(),
        organization: "x".into(),
        recipients: vec![],
        cases: cases
            .iter()
            .map(|(id, n)| ManifestCase {
                id: id.to_string(),
                objects: *n,
            })
            .collect(),
    })
    .unwrap()
}

fn case_json(id: &str, objs: &[(ObjectKind, &[u8])]) -> Vec<u8> {
    serde_json::to_vec(&case(id, objs.iter().map(|(k, d)| object(*k, d)).collect())).unwrap()
}

fn hostile(entry_name: &[u8], kind: tar::EntryType) -> Vec<u8> {
    RawTar::new()
        .file("export.json", &manifest_json(&[("c1", 0)]))
        .file("cases/c1/case.json", &case_json("c1", &[]))
        .entry(entry_name, kind, b"evil")
        .finish()
}

#[test]
fn absolute_paths_are_refused() {
    let err = read(&hostile(b"/etc/cron.d/evil", tar::EntryType::Regular))
        .err()
        .unwrap();
    assert!(matches!(err, BundleError::UnsafePath(_)), "{err}");
}

#[test]
fn parent_components_are_refused() {
    let err = read(&hostile(b"cases/c1/../../../evil", tar::EntryType::Regular))
        .err()
        .unwrap();
    assert!(matches!(err, BundleError::UnsafePath(_)), "{err}");
}

#[test]
fn symlinks_and_hard_links_are_refused() {
    for kind in [tar::EntryType::Symlink, tar::EntryType::Link] {
        let mut t = RawTar::new().file("export.json", &manifest_json(&[("c1", 0)]));
        t.entry_with_link(b"cases/c1/report.age", kind, b"", b"/etc/passwd");
        let err = read(&t.finish()).err().unwrap();
        assert!(matches!(err, BundleError::Link(_)), "{err}");
    }
}

#[test]
fn devices_fifos_and_other_entries_are_refused() {
    for kind in [
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
        tar::EntryType::GNUSparse,
        tar::EntryType::XGlobalHeader,
    ] {
        let err = read(&hostile(b"cases/c1/report.age", kind)).err().unwrap();
        assert!(
            matches!(err, BundleError::UnsupportedEntry(_) | BundleError::Tar(_)),
            "{kind:?}: {err}"
        );
    }
}

#[test]
fn duplicates_are_refused() {
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[]))
        .file("export.json", &manifest_json(&[]))
        .finish();
    assert!(matches!(read(&t).err().unwrap(), BundleError::Duplicate(_)));
}

#[test]
fn oversized_entries_and_too_many_entries_are_refused() {
    let (bytes, _) = sample_bundle();
    let small = Limits {
        max_entry_bytes: 1000,
        ..Limits::EXPORT
    };
    let err = read_export(&bytes[..], &small, &mut Collect::default())
        .err()
        .unwrap();
    assert!(matches!(err, BundleError::TooLarge(_)), "{err}");
    let few = Limits {
        max_entries: 3,
        ..Limits::EXPORT
    };
    let err = read_export(&bytes[..], &few, &mut Collect::default())
        .err()
        .unwrap();
    assert!(matches!(err, BundleError::TooManyEntries), "{err}");
    let total = Limits {
        max_total_bytes: 4000,
        ..Limits::EXPORT
    };
    assert!(read_export(&bytes[..], &total, &mut Collect::default()).is_err());
}

#[test]
fn a_tar_bomb_of_declared_size_is_refused_before_reading() {
    // A header claiming 1 TiB: refused from the header alone.
    let mut t = RawTar::new().file("export.json", &manifest_json(&[("c1", 1)]));
    let mut h = tar::Header::new_ustar();
    h.set_path("cases/c1/case.json").unwrap();
    h.set_size(1 << 40);
    h.set_cksum();
    t.0.extend_from_slice(h.as_bytes());
    let err = read(&t.0).err().unwrap();
    assert!(matches!(err, BundleError::TooLarge(_)), "{err}");
}

#[test]
fn the_manifest_must_come_first_and_be_known() {
    let t = RawTar::new().file("cases/c1/case.json", b"{}").finish();
    assert!(matches!(read(&t).err().unwrap(), BundleError::Manifest(_)));
    let t = RawTar::new()
        .file("export.json", b"{\"format\":\"wbs-export/9\"}")
        .finish();
    assert!(matches!(read(&t).err().unwrap(), BundleError::Manifest(_)));
    let t = RawTar::new().finish();
    assert!(matches!(read(&t).err().unwrap(), BundleError::Manifest(_)));
}

#[test]
fn unlisted_files_are_refused() {
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[("c1", 0)]))
        .file("cases/c1/case.json", &case_json("c1", &[]))
        .file("cases/c1/report.age", b"surprise")
        .finish();
    assert!(matches!(
        read(&t).err().unwrap(),
        BundleError::Unexpected(_)
    ));
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[]))
        .file("cases/zz/case.json", &case_json("zz", &[]))
        .finish();
    assert!(matches!(
        read(&t).err().unwrap(),
        BundleError::Unexpected(_)
    ));
}

#[test]
fn a_changed_byte_is_a_hash_mismatch() {
    let report = b"the real report";
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[("c1", 1)]))
        .file(
            "cases/c1/case.json",
            &case_json("c1", &[(ObjectKind::Report, report)]),
        )
        .file("cases/c1/report.age", b"the fake report")
        .finish();
    assert!(matches!(
        read(&t).err().unwrap(),
        BundleError::HashMismatch(_)
    ));
}

#[test]
fn truncated_bundles_are_refused() {
    let (bytes, _) = sample_bundle();
    for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 2048] {
        assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_case_missing_an_object_is_incomplete() {
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[("c1", 1)]))
        .file(
            "cases/c1/case.json",
            &case_json("c1", &[(ObjectKind::Report, b"r")]),
        )
        .finish();
    assert!(matches!(
        read(&t).err().unwrap(),
        BundleError::Incomplete(_)
    ));
}

// ---- reply bundles ----

fn item(id: &str, status: Option<Status>) -> ReplyItem {
    ReplyItem {
        id: id.into(),
        case_id: "casea".into(),
        status,
        reply: None,
    }
}

#[test]
fn reply_bundle_round_trip() {
    let mut b = ReplyBundle::default();
    b.push(
        item("i1", Some(Status::InReview)),
        Some(b"age-bytes".to_vec()),
    );
    b.push(item("i2", Some(Status::ClosedSubstantiated)), None);
    let bytes = b.write(Vec::new()).unwrap();
    let back = ReplyBundle::read(&bytes[..], &Limits::REPLIES).unwrap();
    assert_eq!(back, b);
}

#[test]
fn reply_bundles_refuse_hostile_content() {
    let mut b = ReplyBundle::default();
    b.push(item("i1", None), Some(b"reply".to_vec()));
    let good = b.write(Vec::new()).unwrap();
    // A missing file.
    let manifest = serde_json::to_vec(&b.manifest).unwrap();
    let t = RawTar::new().file("replies.json", &manifest).finish();
    assert!(matches!(
        ReplyBundle::read(&t[..], &Limits::REPLIES).err().unwrap(),
        BundleError::Incomplete(_)
    ));
    // Wrong bytes.
    let t = RawTar::new()
        .file("replies.json", &manifest)
        .file("replies/i1.age", b"REPLY")
        .finish();
    assert!(matches!(
        ReplyBundle::read(&t[..], &Limits::REPLIES).err().unwrap(),
        BundleError::HashMismatch(_)
    ));
    // An extra file.
    let t = RawTar::new()
        .file("replies.json", &manifest)
        .file("replies/i1.age", b"reply")
        .file("replies/extra.age", b"x")
        .finish();
    assert!(matches!(
        ReplyBundle::read(&t[..], &Limits::REPLIES).err().unwrap(),
        BundleError::Unexpected(_)
    ));
    // Unknown fields and path tricks in the manifest.
    let evil = String::from_utf8(manifest.clone())
        .unwrap()
        .replace("replies/i1.age", "../i1.age");
    let t = RawTar::new().file("replies.json", evil.as_bytes()).finish();
    assert!(ReplyBundle::read(&t[..], &Limits::REPLIES).is_err());
    let t = RawTar::new()
        .file(
            "replies.json",
            br#"{"format":"wbs-replies/1","items":[],"admin":true}"#,
        )
        .finish();
    assert!(ReplyBundle::read(&t[..], &Limits::REPLIES).is_err());
    // An item that does nothing, and a duplicated item id.
    let t = RawTar::new()
        .file(
            "replies.json",
            br#"{"format":"wbs-replies/1","items":[{"id":"a","case_id":"c"}]}"#,
        )
        .finish();
    assert!(ReplyBundle::read(&t[..], &Limits::REPLIES).is_err());
    let t = RawTar::new()
        .file(
            "replies.json",
            br#"{"format":"wbs-replies/1","items":[{"id":"a","case_id":"c","status":"closed_substantiated"},{"id":"a","case_id":"c","status":"rejected"}]}"#,
        )
        .finish();
    assert!(ReplyBundle::read(&t[..], &Limits::REPLIES).is_err());
    // The good one still reads, streaming too.
    let mut seen = 0;
    read_replies(
        &good[..],
        &Limits::REPLIES,
        |_| Ok(()),
        |_, d| {
            let mut v = Vec::new();
            d.read_to_end(&mut v).unwrap();
            seen += v.len();
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, 5);
}

#[test]
fn objects_must_follow_their_own_case() {
    let t = RawTar::new()
        .file("export.json", &manifest_json(&[("c1", 1), ("c2", 0)]))
        .file(
            "cases/c1/case.json",
            &case_json("c1", &[(ObjectKind::Report, b"r")]),
        )
        .file("cases/c2/case.json", &case_json("c2", &[]))
        .file("cases/c1/report.age", b"r")
        .finish();
    assert!(matches!(
        read(&t).err().unwrap(),
        BundleError::Unexpected(_)
    ));
}
