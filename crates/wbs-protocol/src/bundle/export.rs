//! Export bundles: the encrypted material the online desk carries to the
//! air-gapped machine.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::tar_safe::{append_file, read_entries, read_manifest, Limits, VerifyingReader};
use super::{is_valid_id, BundleError};
use crate::api::HistoryEntry;
use crate::status::Status;

/// Format tag of `export.json`.
pub const EXPORT_FORMAT: &str = "wbs-export/1";
const MANIFEST_PATH: &str = "export.json";

/// `export.json`: what the bundle holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportManifest {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The cursor this export started after (`"0"` for everything).
    pub since: String,
    /// The cursor to pass next time to get only what is newer.
    pub cursor: String,
    /// The organization, as configured on the server.
    pub organization: String,
    /// The inspectorate recipients the server was configured with (for
    /// information: the air-gapped tool trusts its own keys, not this list).
    pub recipients: Vec<String>,
    /// The cases in the bundle, in order.
    pub cases: Vec<ManifestCase>,
}

/// One case in `export.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestCase {
    /// Case identifier.
    pub id: String,
    /// Number of objects of this case in the bundle.
    pub objects: u32,
}

/// What an object is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectKind {
    /// The report, `report.age`.
    Report,
    /// Attachment `index` (from 1) of the report, `attachments/<index>.age`.
    Attachment {
        /// Position in the report's attachment list, from 1.
        index: u32,
    },
    /// Follow-up `n` (from 1), `followups/<n>.age`.
    Followup {
        /// Follow-up number, from 1.
        n: u32,
    },
    /// Attachment `index` of follow-up `n`, `followups/<n>/<index>.age`.
    FollowupAttachment {
        /// Follow-up number, from 1.
        n: u32,
        /// Position in the follow-up's attachment list, from 1.
        index: u32,
    },
    /// Reply `n` (from 1) of the inspectorate, `replies/<n>.age`.
    Reply {
        /// Reply number, from 1.
        n: u32,
    },
}

impl ObjectKind {
    /// The object's path inside its case folder.
    pub fn path(&self) -> String {
        match *self {
            ObjectKind::Report => "report.age".into(),
            ObjectKind::Attachment { index } => format!("attachments/{index}.age"),
            ObjectKind::Followup { n } => format!("followups/{n}.age"),
            ObjectKind::FollowupAttachment { n, index } => format!("followups/{n}/{index}.age"),
            ObjectKind::Reply { n } => format!("replies/{n}.age"),
        }
    }
}

/// One object in a `case.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Path inside the case folder; always `kind.path()`.
    pub path: String,
    /// What the object is.
    #[serde(flatten)]
    pub kind: ObjectKind,
    /// Size of the age file in bytes.
    pub size: u64,
    /// SHA-256 of the age file, lower-case hex.
    pub sha256: String,
    /// The day the server stored it.
    pub on: String,
}

/// `cases/<id>/case.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseManifest {
    /// Case identifier.
    pub id: String,
    /// The day the report was received.
    pub received_on: String,
    /// Current status.
    pub status: Status,
    /// Status history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The reply recipient as the server stored it (the air-gapped tool
    /// checks it against the one inside the encrypted report).
    pub reply_recipient: String,
    /// The objects of this case that are in the bundle, in bundle order.
    pub objects: Vec<ObjectEntry>,
}

/// Writes an export bundle, streaming: objects are copied straight from
/// their readers into the tar.
pub struct ExportWriter<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> ExportWriter<W> {
    /// Starts a bundle and writes `export.json`.
    pub fn new(out: W, manifest: &ExportManifest) -> Result<Self, BundleError> {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
        append_file(&mut builder, MANIFEST_PATH, json.len() as u64, &json[..])?;
        Ok(ExportWriter { builder })
    }

    /// Writes a case's `case.json`; its objects must follow.
    pub fn case(&mut self, case: &CaseManifest) -> Result<(), BundleError> {
        if !is_valid_id(&case.id) {
            return Err(BundleError::Manifest(format!(
                "invalid case id {:?}",
                case.id
            )));
        }
        let json = serde_json::to_vec_pretty(case).expect("manifest serializes");
        let path = format!("cases/{}/case.json", case.id);
        append_file(&mut self.builder, &path, json.len() as u64, &json[..])
    }

    /// Writes one object of the current case.
    pub fn object(
        &mut self,
        case_id: &str,
        entry: &ObjectEntry,
        data: impl Read,
    ) -> Result<(), BundleError> {
        let path = format!("cases/{case_id}/{}", entry.kind.path());
        append_file(&mut self.builder, &path, entry.size, data)
    }

    /// Writes the end of the archive and returns the writer.
    pub fn finish(self) -> Result<W, BundleError> {
        Ok(self.builder.into_inner()?)
    }
}

/// Receives the contents of an export bundle as it is read.
pub trait ExportVisitor {
    /// `export.json`, always first. Does nothing unless implemented.
    fn manifest(&mut self, manifest: &ExportManifest) -> Result<(), BundleError> {
        let _ = manifest;
        Ok(())
    }
    /// A case's `case.json`, before its objects. Does nothing unless
    /// implemented.
    fn case(&mut self, case: &CaseManifest) -> Result<(), BundleError> {
        let _ = case;
        Ok(())
    }
    /// An object. `data` yields exactly `entry.size` bytes and fails with
    /// `InvalidData` at the end if they do not match `entry.sha256`; the
    /// visitor must not treat the object as good until it has read to the end.
    fn object(
        &mut self,
        case: &CaseManifest,
        entry: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError>;
}

/// What a fully read export bundle contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Cases.
    pub cases: usize,
    /// Objects.
    pub objects: usize,
    /// Bytes of objects.
    pub bytes: u64,
}

/// Reads and checks an export bundle, calling `visitor` for each part.
///
/// Refuses: hostile tar entries (see [`super::tar_safe`]), a first entry that
/// is not `export.json`, unknown formats, files not listed in their case's
/// `case.json` or listed in a case missing from `export.json`, size or
/// SHA-256 mismatches, and a bundle that ends before everything listed came.
pub fn read_export<R: Read, V: ExportVisitor>(
    reader: R,
    limits: &Limits,
    visitor: &mut V,
) -> Result<ExportSummary, BundleError> {
    let mut manifest: Option<ExportManifest> = None;
    let mut expected_cases: HashMap<String, u32> = HashMap::new();
    // Objects must follow their own case.json, before the next case starts,
    // so only the current case's manifest is held (with the objects it
    // still expects): memory does not grow with the number of cases.
    let mut current: Option<(CaseManifest, HashSet<String>)> = None;
    let mut done: HashSet<String> = HashSet::new();
    // The first case found incomplete, reported once the bundle is read.
    let mut incomplete: Option<BundleError> = None;
    let mut summary = ExportSummary::default();

    read_entries(reader, limits, |path, size, data| {
        let Some(m) = manifest.as_ref() else {
            if path != MANIFEST_PATH {
                return Err(BundleError::Manifest(
                    "export.json must be the first entry".into(),
                ));
            }
            let m: ExportManifest = read_manifest(path, size, data, limits)?;
            if m.format != EXPORT_FORMAT {
                return Err(BundleError::Manifest(format!(
                    "unsupported format {:?} (expected {EXPORT_FORMAT})",
                    m.format
                )));
            }
            for c in &m.cases {
                if !is_valid_id(&c.id) || expected_cases.insert(c.id.clone(), c.objects).is_some() {
                    return Err(BundleError::Manifest(format!("bad case id {:?}", c.id)));
                }
            }
            visitor.manifest(&m)?;
            manifest = Some(m);
            return Ok(());
        };
        let _ = m;
        let rest = path
            .strip_prefix("cases/")
            .ok_or_else(|| BundleError::Unexpected(path.to_string()))?;
        let (case_id, inner) = rest
            .split_once('/')
            .ok_or_else(|| BundleError::Unexpected(path.to_string()))?;
        if !expected_cases.contains_key(case_id) {
            return Err(BundleError::Unexpected(path.to_string()));
        }
        if inner == "case.json" {
            let case: CaseManifest = read_manifest(path, size, data, limits)?;
            if case.id != case_id {
                return Err(BundleError::Manifest(format!(
                    "{path} names case {:?}",
                    case.id
                )));
            }
            let mut pending = HashSet::new();
            for o in &case.objects {
                if o.path != o.kind.path() || !pending.insert(o.path.clone()) {
                    return Err(BundleError::Manifest(format!(
                        "{path}: bad object path {:?}",
                        o.path
                    )));
                }
            }
            if pending.len() as u32 != expected_cases[case_id] {
                return Err(BundleError::Manifest(format!(
                    "{path} lists {} objects, export.json says {}",
                    pending.len(),
                    expected_cases[case_id]
                )));
            }
            // The case before is over: everything it listed should have
            // come (its objects can no longer: they would be unexpected).
            if let Some((before, missing)) = current.take() {
                if let Err(e) = complete(&before.id, &missing) {
                    incomplete.get_or_insert(e);
                }
                done.insert(before.id);
            }
            visitor.case(&case)?;
            summary.cases += 1;
            current = Some((case, pending));
            return Ok(());
        }
        let (case, pending) = current
            .as_mut()
            .filter(|(c, _)| c.id == case_id)
            .ok_or_else(|| BundleError::Unexpected(path.to_string()))?;
        if !pending.remove(inner) {
            return Err(BundleError::Unexpected(path.to_string()));
        }
        let entry = case
            .objects
            .iter()
            .find(|o| o.path == inner)
            .expect("pending paths come from the manifest");
        if entry.size != size {
            return Err(BundleError::Manifest(format!(
                "{path} is {size} bytes, case.json says {}",
                entry.size
            )));
        }
        let expected = crate::parse_sha256_hex(&entry.sha256)
            .ok_or_else(|| BundleError::Manifest(format!("{path}: bad sha256")))?;
        let mut verifying = VerifyingReader::new(data, expected);
        visitor.object(case, entry, &mut verifying)?;
        // Drain what the visitor left and check the digest.
        std::io::copy(&mut verifying, &mut std::io::sink()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                BundleError::HashMismatch(path.to_string())
            } else {
                BundleError::Tar(e.to_string())
            }
        })?;
        summary.objects += 1;
        summary.bytes += size;
        Ok(())
    })?;

    if manifest.is_none() {
        return Err(BundleError::Manifest("export.json is missing".into()));
    }
    if let Some(e) = incomplete {
        return Err(e);
    }
    if let Some((last, missing)) = current.take() {
        complete(&last.id, &missing)?;
        done.insert(last.id);
    }
    let mut absent: Vec<&String> = expected_cases
        .keys()
        .filter(|id| !done.contains(*id))
        .collect();
    absent.sort();
    if let Some(id) = absent.first() {
        return Err(BundleError::Incomplete(format!("case {id} is missing")));
    }
    Ok(summary)
}

/// Fails if a case's objects did not all come.
fn complete(id: &str, missing: &HashSet<String>) -> Result<(), BundleError> {
    if missing.is_empty() {
        return Ok(());
    }
    let mut missing: Vec<_> = missing.iter().cloned().collect();
    missing.sort();
    Err(BundleError::Incomplete(format!(
        "case {id}: missing {}",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cases(Vec<String>);

    impl ExportVisitor for Cases {
        fn case(&mut self, case: &CaseManifest) -> Result<(), BundleError> {
            self.0.push(case.id.clone());
            Ok(())
        }
        fn object(
            &mut self,
            _: &CaseManifest,
            _: &ObjectEntry,
            _: &mut dyn Read,
        ) -> Result<(), BundleError> {
            Ok(())
        }
    }

    fn case(id: &str, objects: Vec<ObjectEntry>) -> CaseManifest {
        CaseManifest {
            id: id.into(),
            received_on: "2026-11-27".into(),
            status: Status::Received,
            history: vec![],
            reply_recipient: "age1x".into(),
            objects,
        }
    }

    /// Only the current case is held, yet a case whose objects did not all
    /// come is still reported, after the cases that follow it.
    #[test]
    fn a_case_missing_objects_is_reported_after_later_cases() {
        let report = ObjectEntry {
            path: ObjectKind::Report.path(),
            kind: ObjectKind::Report,
            size: 3,
            sha256: crate::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"abc")),
            on: "2026-11-27".into(),
        };
        let manifest = ExportManifest {
            format: EXPORT_FORMAT.into(),
            since: "0".into(),
            cursor: "1".into(),
            organization: "x".into(),
            recipients: vec![],
            cases: vec![
                ManifestCase {
                    id: "c1".into(),
                    objects: 1,
                },
                ManifestCase {
                    id: "c2".into(),
                    objects: 0,
                },
            ],
        };
        let mut w = ExportWriter::new(Vec::new(), &manifest).unwrap();
        w.case(&case("c1", vec![report])).unwrap();
        w.case(&case("c2", vec![])).unwrap();
        let bytes = w.finish().unwrap();
        let mut seen = Cases(Vec::new());
        let err = read_export(&bytes[..], &Limits::EXPORT, &mut seen).unwrap_err();
        assert!(
            matches!(&err, BundleError::Incomplete(m) if m == "case c1: missing report.age"),
            "{err}"
        );
        assert_eq!(seen.0, ["c1", "c2"]);
    }
}
