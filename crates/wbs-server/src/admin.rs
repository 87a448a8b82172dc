//! Operator tools that work on a whole store: `wbs-server verify`,
//! `wbs-server backup` and `wbs-server restore`.
//!
//! Backup and verify start from a [`StoreSnapshot`]: every record, read in
//! one consistent moment, with the blobs it references kept in place while
//! the snapshot lives. These operations depend on the store alone: the same
//! code runs in a `wbs-server backup` process that opened the store itself
//! and inside the running server when the command reached it through the
//! control channel ([`crate::access`] decides which; [`crate::control`]
//! only carries requests and answers).
//!
//! # Backup format `wbs-backup/1`
//!
//! A tar written deterministically (entries in a fixed order, mode 0644,
//! time 0, no owner names), so the same store on the same day gives the
//! same bytes:
//!
//! ```text
//! manifest.json   {"format": "wbs-backup/1", "created_on": "YYYY-MM-DD",
//!                  "store_format": 1, "records_format": "wbs-store-records/1",
//!                  "cases", "objects", "tokens", "audit_entries", "blob_bytes",
//!                  "files": [{"path", "size", "sha256"}, ...]}   (every other entry)
//! records.json    every record of the store (wbs_store::StoreRecords)
//! blobs/<id>      every blob the records reference, in object order
//! ```
//!
//! Each blob is checked against the SHA-256 recorded when it was stored
//! while it is copied, so a damaged blob fails the backup (naming it)
//! instead of being carried into the backup as if it were good. A restore
//! checks every file against the manifest, the records for consistency,
//! and every blob against its record, before the new store is marked as
//! one.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wbs_protocol::bundle::tar_safe::{append_file, read_entries, read_manifest, VerifyingReader};
use wbs_protocol::bundle::{BundleError, Limits};
use wbs_store::{
    ObjectRecord, RestoreTarget, StoreError, StoreLocation, StoreRecords, StoreSnapshot,
    FORMAT_VERSION, RECORDS_FORMAT,
};

/// Format tag of a backup's `manifest.json`.
pub const BACKUP_FORMAT: &str = "wbs-backup/1";
const MANIFEST_PATH: &str = "manifest.json";
const RECORDS_PATH: &str = "records.json";
/// Largest `records.json` a restore reads into memory.
const MAX_RECORDS_BYTES: u64 = 4 << 30;

/// Why a backup could not be written, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store's records contradict each other.
    #[error("the store's records are inconsistent ({0}); run `wbs-server verify`")]
    Inconsistent(String),
    /// An object's blob is not in the store.
    #[error("{0} is missing from the store; run `wbs-server verify`")]
    Missing(String),
    /// An object's blob is not what was stored.
    #[error("{what} {detail}; run `wbs-server verify`")]
    Damaged {
        /// Which object, in which case.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The store could not be read.
    #[error("cannot read {what}: {source}")]
    Store {
        /// What was being read.
        what: String,
        /// The store's error.
        source: StoreError,
    },
    /// The backup could not be written.
    #[error("cannot write the backup: {0}")]
    Write(#[source] io::Error),
    /// A file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a WBS backup, or not a complete and intact one.
    #[error("{0}")]
    Invalid(String),
    /// A restore would write into a directory that holds something.
    #[error(
        "{0} is not empty: restore only into a new or empty directory (a restore never \
         replaces or mixes with existing data)"
    )]
    TargetNotEmpty(PathBuf),
    /// The new store could not be written.
    #[error("cannot restore {what}: {source}")]
    Restore {
        /// What was being restored.
        what: String,
        /// The store's error.
        source: StoreError,
    },
}

/// `manifest.json` of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupManifest {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// The day (UTC) the backup was made.
    pub created_on: String,
    /// The store format version it was taken from.
    pub store_format: u32,
    /// The format of `records.json`.
    pub records_format: String,
    /// Cases in the backup.
    pub cases: u64,
    /// Objects (each one blob).
    pub objects: u64,
    /// Investigator tokens (their hashes).
    pub tokens: u64,
    /// Audit log entries.
    pub audit_entries: u64,
    /// Bytes of all blobs.
    pub blob_bytes: u64,
    /// Every entry after `manifest.json`, in order.
    pub files: Vec<BackupFile>,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFile {
    /// Path inside the tar.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

impl BackupManifest {
    /// A one-line summary for the operator.
    pub fn summary(&self) -> String {
        format!(
            "{} cases, {} objects ({}), {} tokens, {} audit entries",
            self.cases,
            self.objects,
            human_bytes(self.blob_bytes),
            self.tokens,
            self.audit_entries
        )
    }
}

/// `1234567` → `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Where an object lives in an export bundle and in verify's report:
/// `report.age`, `attachments/1.age`, ...
pub fn object_path(o: &ObjectRecord) -> String {
    o.kind.path()
}

fn blob_entry(id: &str) -> String {
    format!("blobs/{id}")
}

// ---------------------------------------------------------------- verify

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySummary {
    /// Cases in the store.
    pub cases: u64,
    /// Objects checked.
    pub objects: u64,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// Objects missing, damaged or unreadable, plus inconsistencies.
    pub problems: u64,
}

impl VerifySummary {
    /// The last line of the report.
    pub fn line(&self) -> String {
        if self.problems == 0 {
            format!(
                "verified {} objects ({}) of {} cases: every one matches its recorded SHA-256",
                self.objects,
                human_bytes(self.bytes),
                self.cases
            )
        } else {
            format!(
                "{} problem(s) among {} objects of {} cases (listed above); restore the \
                 damaged cases from a backup",
                self.problems, self.objects, self.cases
            )
        }
    }
}

/// Re-hashes every blob of `snapshot` against its recorded size and
/// SHA-256, and checks the records for consistency. Calls `report` with
/// one line per problem, naming the case and the object.
pub fn verify(snapshot: &StoreSnapshot, report: &mut dyn FnMut(&str)) -> VerifySummary {
    let records = &snapshot.records;
    let mut summary = VerifySummary {
        cases: records.cases.len() as u64,
        ..Default::default()
    };
    if let Err(e) = records.check() {
        summary.problems += 1;
        report(&format!("inconsistent: {e}"));
    }
    let mut buf = vec![0u8; 256 * 1024];
    for o in &records.objects {
        summary.objects += 1;
        let what = format!("case {} {} (blob {})", o.case_id, object_path(o), o.blob);
        let mut file = match snapshot.open_blob(&o.blob) {
            Ok(f) => f,
            Err(StoreError::NotFound) => {
                summary.problems += 1;
                report(&format!("missing: {what}: its file is not there"));
                continue;
            }
            Err(e) => {
                summary.problems += 1;
                report(&format!("unreadable: {what}: {e}"));
                continue;
            }
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let read = loop {
            match file.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        summary.bytes += size;
        if let Err(e) = read {
            summary.problems += 1;
            report(&format!("unreadable: {what}: {e}"));
            continue;
        }
        let digest: [u8; 32] = hasher.finalize().into();
        if size != o.size || digest != o.sha256 {
            summary.problems += 1;
            report(&format!(
                "damaged: {what}: {size} bytes with SHA-256 {}, but {} bytes with SHA-256 {} \
                 were stored",
                wbs_protocol::hex(&digest),
                o.size,
                wbs_protocol::hex(&o.sha256)
            ));
        }
    }
    summary
}

// ---------------------------------------------------------------- backup

/// Reads a blob and fails as soon as its bytes (`size` of them) do not
/// hash to the recorded SHA-256. The tar writer reads exactly `size` bytes
/// and never asks for the end of the file, so the check cannot wait for it.
struct CheckedBlob {
    file: wbs_store::BlobReader,
    hasher: Sha256,
    left: u64,
    expected: [u8; 32],
}

impl Read for CheckedBlob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.file.read(&mut buf[..cap])?;
        if n == 0 && cap > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "is shorter than its recorded size: the stored copy is damaged",
            ));
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        if self.left == 0 && n > 0 {
            if self.file.read(&mut [0u8; 1])? != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "is longer than its recorded size: the stored copy is damaged",
                ));
            }
            let got: [u8; 32] = self.hasher.clone().finalize().into();
            if got != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "does not match its recorded SHA-256: the stored copy is damaged",
                ));
            }
        }
        Ok(n)
    }
}

/// Writes a backup of `snapshot` to `out`. Fails, naming the object, if a
/// blob is missing or does not match its recorded size and SHA-256, and if
/// the records are inconsistent (run `verify`).
pub fn write_backup(
    snapshot: &StoreSnapshot,
    created_on: &str,
    out: impl Write,
) -> Result<BackupManifest, BackupError> {
    let records = &snapshot.records;
    records
        .check()
        .map_err(|e| BackupError::Inconsistent(e.to_string()))?;
    let records_json =
        serde_json::to_vec_pretty(records).map_err(|e| BackupError::Write(io::Error::other(e)))?;
    let mut files = vec![BackupFile {
        path: RECORDS_PATH.into(),
        size: records_json.len() as u64,
        sha256: wbs_protocol::hex(&Sha256::digest(&records_json)),
    }];
    files.extend(records.objects.iter().map(|o| BackupFile {
        path: blob_entry(&o.blob),
        size: o.size,
        sha256: wbs_protocol::hex(&o.sha256),
    }));
    let manifest = BackupManifest {
        format: BACKUP_FORMAT.into(),
        created_on: created_on.into(),
        store_format: FORMAT_VERSION,
        records_format: RECORDS_FORMAT.into(),
        cases: records.cases.len() as u64,
        objects: records.objects.len() as u64,
        tokens: records.tokens.len() as u64,
        audit_entries: records.audit.len() as u64,
        blob_bytes: records.objects.iter().map(|o| o.size).sum(),
        files,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Write(io::Error::other(e)))?;

    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let write_err = |e: BundleError| match e {
        BundleError::Io(e) => BackupError::Write(e),
        e => BackupError::Write(io::Error::other(e)),
    };
    append_file(
        &mut tar,
        MANIFEST_PATH,
        manifest_json.len() as u64,
        &manifest_json[..],
    )
    .map_err(write_err)?;
    append_file(
        &mut tar,
        RECORDS_PATH,
        records_json.len() as u64,
        &records_json[..],
    )
    .map_err(write_err)?;
    for o in &records.objects {
        let what = format!("{} of case {} (blob {})", object_path(o), o.case_id, o.blob);
        let file = snapshot.open_blob(&o.blob).map_err(|e| match e {
            StoreError::NotFound => BackupError::Missing(what.clone()),
            source => BackupError::Store {
                what: what.clone(),
                source,
            },
        })?;
        let blob = CheckedBlob {
            file,
            hasher: Sha256::new(),
            left: o.size,
            expected: o.sha256,
        };
        append_file(&mut tar, &blob_entry(&o.blob), o.size, blob).map_err(|e| match e {
            BundleError::Io(e) if e.kind() == io::ErrorKind::InvalidData => BackupError::Damaged {
                what,
                detail: e.to_string(),
            },
            e => write_err(e),
        })?;
    }
    let mut out = tar.into_inner().map_err(BackupError::Write)?;
    out.flush().map_err(BackupError::Write)?;
    Ok(manifest)
}

// ---------------------------------------------------------------- reading

/// Reads and checks a backup, entry by entry: the manifest first, then
/// `records.json` (handed to `on_records` once checked), then every blob
/// (handed to `on_blob` with a reader that fails at the end if the bytes do
/// not match the manifest). Fails on anything missing, extra, out of order
/// or not matching its SHA-256.
pub fn read_backup(
    reader: impl Read,
    on_records: &mut dyn FnMut(StoreRecords) -> Result<(), BackupError>,
    on_blob: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), BackupError>,
) -> Result<BackupManifest, BackupError> {
    let limits = Limits {
        max_manifest_bytes: MAX_RECORDS_BYTES,
        ..Limits::EXPORT
    };
    let mut manifest: Option<BackupManifest> = None;
    // Files still expected, by path: (size, sha256).
    let mut pending: HashMap<String, (u64, [u8; 32])> = HashMap::new();
    let mut records_seen = false;
    // A callback's error, kept whole while the tar reader unwinds.
    let mut failed: Option<BackupError> = None;
    let damaged = |path: &str| {
        format!("the backup is damaged: {path} does not match its SHA-256 in the manifest")
    };
    let result = read_entries(reader, &limits, |path, size, data| {
        let fail = |m: String| Err(BundleError::Visitor(m));
        let Some(m) = manifest.as_ref() else {
            if path != MANIFEST_PATH {
                return fail(format!(
                    "not a WBS backup: it starts with {path:?}, not {MANIFEST_PATH}"
                ));
            }
            let m: BackupManifest = read_manifest(path, size, data, &Limits::EXPORT)?;
            if m.format != BACKUP_FORMAT {
                return fail(format!(
                    "unsupported backup format {:?} (this build reads {BACKUP_FORMAT})",
                    m.format
                ));
            }
            if m.store_format != FORMAT_VERSION || m.records_format != RECORDS_FORMAT {
                return fail(format!(
                    "the backup holds store format {} / {}, this build reads {FORMAT_VERSION} / \
                     {RECORDS_FORMAT}",
                    m.store_format, m.records_format
                ));
            }
            for f in &m.files {
                let sha = wbs_protocol::parse_sha256_hex(&f.sha256)
                    .ok_or_else(|| BundleError::Manifest(format!("bad sha256 for {}", f.path)))?;
                if pending.insert(f.path.clone(), (f.size, sha)).is_some() {
                    return fail(format!("the manifest lists {} twice", f.path));
                }
            }
            if !pending.contains_key(RECORDS_PATH) {
                return fail(format!("the manifest does not list {RECORDS_PATH}"));
            }
            manifest = Some(m);
            return Ok(());
        };
        let Some((want_size, sha)) = pending.remove(path) else {
            return fail(format!(
                "the backup holds {path:?}, which its manifest does not list"
            ));
        };
        if size != want_size {
            return fail(format!(
                "the backup is damaged: {path} is {size} bytes, the manifest says {want_size}"
            ));
        }
        let mut verifying = VerifyingReader::new(data, sha);
        if path == RECORDS_PATH {
            if size > MAX_RECORDS_BYTES {
                return Err(BundleError::TooLarge(path.into()));
            }
            let mut json = Vec::with_capacity(size as usize);
            verifying.read_to_end(&mut json).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    BundleError::Visitor(damaged(path))
                } else {
                    BundleError::Io(e)
                }
            })?;
            let records: StoreRecords = serde_json::from_slice(&json)
                .map_err(|e| BundleError::Visitor(format!("{RECORDS_PATH} does not parse: {e}")))?;
            records
                .check()
                .map_err(|e| BundleError::Visitor(format!("{RECORDS_PATH}: {e}")))?;
            let counts = (
                records.cases.len() as u64,
                records.objects.len() as u64,
                records.tokens.len() as u64,
                records.audit.len() as u64,
            );
            if counts != (m.cases, m.objects, m.tokens, m.audit_entries) {
                return fail(format!(
                    "{RECORDS_PATH} and the manifest disagree on the counts"
                ));
            }
            // Exactly the blobs the records need, with their recorded
            // size and digest, must follow.
            let mut listed = pending.clone();
            for o in &records.objects {
                if listed.remove(&blob_entry(&o.blob)) != Some((o.size, o.sha256)) {
                    return fail(format!(
                        "the manifest does not list blob {} as its records give it",
                        o.blob
                    ));
                }
            }
            if let Some(extra) = listed.keys().next() {
                return fail(format!("the manifest lists {extra}, which no record uses"));
            }
            records_seen = true;
            if let Err(e) = on_records(records) {
                failed = Some(e);
                return Err(BundleError::Visitor(String::new()));
            }
            return Ok(());
        }
        if !records_seen {
            return fail(format!("{path} comes before {RECORDS_PATH}"));
        }
        let Some(id) = path.strip_prefix("blobs/") else {
            return fail(format!("unexpected entry {path:?}"));
        };
        if let Err(e) = on_blob(id, &mut verifying) {
            failed = Some(e);
            return Err(BundleError::Visitor(String::new()));
        }
        io::copy(&mut verifying, &mut io::sink()).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                BundleError::Visitor(damaged(path))
            } else {
                BundleError::Io(e)
            }
        })?;
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    result.map_err(|e| match e {
        BundleError::Visitor(m) => BackupError::Invalid(m),
        e => BackupError::Invalid(format!("not a readable backup: {e}")),
    })?;
    let manifest = manifest
        .ok_or_else(|| BackupError::Invalid("the backup is empty (no manifest.json)".into()))?;
    if !pending.is_empty() {
        let mut missing: Vec<&String> = pending.keys().collect();
        missing.sort();
        return Err(BackupError::Invalid(format!(
            "the backup is incomplete: {} file(s) missing, the first being {}",
            missing.len(),
            missing[0]
        )));
    }
    Ok(manifest)
}

/// Checks a backup file completely without writing anything.
pub fn check_backup(file: &Path) -> Result<BackupManifest, BackupError> {
    let f = open(file)?;
    read_backup(io::BufReader::new(f), &mut |_| Ok(()), &mut |_, _| Ok(()))
}

// ---------------------------------------------------------------- restore

/// Restores the backup `file` into a new store at `target`: a data
/// directory that does not exist or is empty, or a PostgreSQL database
/// without WBS records. Every file is checked; on any failure nothing
/// stays behind.
pub fn restore(file: &Path, target: &StoreLocation) -> Result<BackupManifest, BackupError> {
    if let StoreLocation::Sled { data } = target {
        if let Ok(mut entries) = std::fs::read_dir(data) {
            if entries.next().is_some() {
                return Err(BackupError::TargetNotEmpty(data.to_path_buf()));
            }
        }
    }
    let f = open(file)?;
    // Both callbacks need the restore; they never run at the same time.
    let restore: std::cell::RefCell<Option<Box<dyn RestoreTarget>>> = std::cell::RefCell::new(None);
    let manifest = read_backup(
        io::BufReader::new(f),
        &mut |records| {
            let r = wbs_store::restore(target, records).map_err(|source| BackupError::Restore {
                what: format!("into {target}"),
                source,
            })?;
            *restore.borrow_mut() = Some(r);
            Ok(())
        },
        &mut |id, data| {
            let mut r = restore.borrow_mut();
            let r = r
                .as_mut()
                .ok_or_else(|| BackupError::Invalid("a blob comes before the records".into()))?;
            r.write_blob(id, data)
                .map_err(|source| BackupError::Restore {
                    what: format!("blob {id}"),
                    source,
                })
        },
    )?;
    let restore = restore
        .into_inner()
        .ok_or_else(|| BackupError::Invalid("the backup holds no records".into()))?;
    let store = restore.finish().map_err(|source| BackupError::Restore {
        what: "the store's last step".into(),
        source,
    })?;
    drop(store);
    Ok(manifest)
}

fn open(path: &Path) -> Result<std::fs::File, BackupError> {
    std::fs::File::open(path).map_err(|source| BackupError::Open {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_store::{BlobStore, MetaStore, SledStore, TokenName};

    const DAY: &str = "2024-05-01";

    /// A store with two cases (one with an attachment) and a token.
    fn store(dir: &Path) -> SledStore {
        let store = SledStore::create_or_open(dir).unwrap();
        for n in 0..2u8 {
            let mut blobs = Vec::new();
            for part in 0..=n {
                let mut sink = store.blob_sink().unwrap();
                sink.write_all(format!("age object {n}/{part}").as_bytes())
                    .unwrap();
                blobs.push(sink.finish().unwrap());
            }
            let report = blobs.remove(0);
            store
                .create_case(
                    [n; 32],
                    "age1recipient",
                    DAY.parse().unwrap(),
                    report,
                    blobs,
                )
                .unwrap();
        }
        store
            .add_token(&TokenName::parse("siti").unwrap(), [9; 32], None)
            .unwrap();
        store
    }

    fn backup_of(store: &SledStore) -> Vec<u8> {
        let snapshot = store.snapshot().unwrap();
        let mut out = Vec::new();
        write_backup(&snapshot, DAY, &mut out).unwrap();
        out
    }

    /// Rewrites a tar entry by entry through `edit`, which may change an
    /// entry's bytes (by path) or add entries at the end.
    fn rewrite(
        tar_bytes: &[u8],
        edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
        extra: &[(&str, &[u8])],
    ) -> Vec<u8> {
        let mut out = tar::Builder::new(Vec::new());
        let mut archive = tar::Archive::new(tar_bytes);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            let data = edit(&path, data);
            append_file(&mut out, &path, data.len() as u64, &data[..]).unwrap();
        }
        for (path, data) in extra {
            append_file(&mut out, path, data.len() as u64, *data).unwrap();
        }
        out.into_inner().unwrap()
    }

    fn read(bytes: &[u8]) -> Result<BackupManifest, String> {
        read_backup(bytes, &mut |_| Ok(()), &mut |_, _| Ok(())).map_err(|e| e.to_string())
    }

    #[test]
    fn a_backup_is_reproducible_and_restores_to_a_store_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir.path().join("data"));
        let a = backup_of(&store);
        assert_eq!(a, backup_of(&store), "two backups of one store differ");
        let manifest = read(&a).unwrap();
        assert_eq!(
            (manifest.cases, manifest.objects, manifest.tokens),
            (2, 3, 1)
        );
        assert_eq!(manifest.files.len(), 4);

        let file = dir.path().join("backup.tar");
        std::fs::write(&file, &a).unwrap();
        let target = dir.path().join("restored");
        restore(
            &file,
            &StoreLocation::Sled {
                data: target.clone(),
            },
        )
        .unwrap();
        let restored = SledStore::open(&target).unwrap();
        let snapshot = restored.snapshot().unwrap();
        let mut problems = Vec::new();
        let summary = verify(&snapshot, &mut |l| problems.push(l.to_owned()));
        assert_eq!((summary.objects, summary.problems), (3, 0), "{problems:?}");
        assert_eq!(snapshot.records, store.snapshot().unwrap().records);
        assert_eq!(
            restored.token_name(&[9; 32]).unwrap().as_deref(),
            Some("siti")
        );
    }

    #[test]
    fn anything_the_manifest_does_not_vouch_for_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir.path().join("data"));
        let good = backup_of(&store);

        let extra = rewrite(&good, |_, d| d, &[("blobs/stowaway", b"x")]);
        let err = read(&extra).unwrap_err();
        assert!(err.contains("does not list"), "{err}");

        let records = rewrite(
            &good,
            |p, d| {
                if p == RECORDS_PATH {
                    String::from_utf8(d).unwrap().replace("siti", "sita").into()
                } else {
                    d
                }
            },
            &[],
        );
        let err = read(&records).unwrap_err();
        assert!(
            err.contains("records.json does not match its SHA-256"),
            "{err}"
        );

        let mut manifest_edit = rewrite(
            &good,
            |p, d| {
                if p == MANIFEST_PATH {
                    String::from_utf8(d)
                        .unwrap()
                        .replace(BACKUP_FORMAT, "wbs-backup/9")
                        .into()
                } else {
                    d
                }
            },
            &[],
        );
        let err = read(&manifest_edit).unwrap_err();
        assert!(err.contains("unsupported backup format"), "{err}");

        // Not a tar at all, and an empty file.
        manifest_edit.truncate(100);
        assert!(read(&manifest_edit).is_err());
        assert!(read(&[]).unwrap_err().contains("empty"));
    }
}
