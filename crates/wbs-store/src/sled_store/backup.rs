//! Consistent snapshots of every record (for backups and verification
//! while the server runs) and restoring a store from such records.
//!
//! # Why not copy sled's files, or use `Db::export`?
//!
//! sled holds an exclusive lock on its directory, its files are only
//! consistent when sled is closed, and its format belongs to one sled
//! version. `Db::export` iterates tree by tree without isolation: a
//! submission committed in between would appear with its case but without
//! its objects. So a snapshot takes the store's own commit lock
//! exclusively (every transaction holds it shared while it runs), reads all
//! trees, and lets go: writers wait only while the records are read, never
//! while the blobs are copied. Blobs need no lock: they are written and
//! fsynced before any record points at them and never change afterwards;
//! the one way they go away, a deleted case, is deferred while a snapshot
//! is in use ([`super::BlobPins`]).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use super::{
    sync_files_in, SledStore, Trees, META_DIGEST, META_FORMAT, META_LAST_AUDIT, META_LAST_SEQ,
};
use crate::blob::{create_private_dir, sync_dir, BlobFiles, FileSink, StagedBlob};
use crate::codec::{
    case_object_key, from_json, read_u64, seq_key, to_json, AppliedItem, StoredCase, StoredToken,
};
use crate::dump::{
    AppliedEntry, CaseEntry, StoreRecords, StoreSnapshot, TokenEntry, RECORDS_FORMAT,
};
use crate::error::StoreError;
use crate::layout::{check_private, Layout, FORMAT_VERSION};
use crate::types::{BlobId, TokenName};

fn utf8(bytes: &[u8], what: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| StoreError::Corrupt(format!("{what}: key is not UTF-8")))
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: key is not 32 bytes")))
}

impl SledStore {
    pub(super) fn snapshot_impl(&self) -> Result<StoreSnapshot, StoreError> {
        // Pin first: a case deleted after the records are read keeps its
        // files until the snapshot is dropped.
        let pin = self.pins.pin();
        let exclusive = self.commits.write().unwrap_or_else(|e| e.into_inner());
        let records = self.read_records();
        drop(exclusive);
        let files = self.files.clone();
        let opener: crate::dump::BlobOpener = Box::new(move |id: &BlobId| {
            let reader: crate::store::BlobReader = Box::new(files.open(id)?);
            Ok(reader)
        });
        Ok(StoreSnapshot::new(records?, opener, pin))
    }

    /// Reads every tree. Only consistent while no transaction runs.
    fn read_records(&self) -> Result<StoreRecords, StoreError> {
        let t = &self.trees;
        let meta_u64 = |key: &[u8], what: &str| -> Result<u64, StoreError> {
            match t.meta.get(key)? {
                Some(v) => read_u64(&v, what),
                None => Ok(0),
            }
        };
        let mut records = StoreRecords {
            format: RECORDS_FORMAT.into(),
            last_seq: meta_u64(META_LAST_SEQ, "meta last_seq")?,
            last_audit_seq: meta_u64(META_LAST_AUDIT, "meta last_audit_seq")?,
            cases: Vec::with_capacity(t.cases.len()),
            objects: Vec::with_capacity(t.objects.len()),
            applied_items: Vec::new(),
            tokens: Vec::new(),
            audit: Vec::new(),
            digest: match t.meta.get(META_DIGEST)? {
                Some(v) => Some(from_json(&v, "meta digest")?),
                None => None,
            },
        };
        for value in t.cases.iter().values() {
            let stored: StoredCase = from_json(&value?, "cases")?;
            records.cases.push(CaseEntry {
                lookup_hash: stored.lookup,
                case: stored.case,
            });
        }
        // In order of arrival, as every backend lists them.
        records.cases.sort_unstable_by_key(|c| c.case.first_seq);
        for value in t.objects.iter().values() {
            records.objects.push(from_json(&value?, "objects")?);
        }
        for item in t.applied_items.iter() {
            let (key, value) = item?;
            let applied: AppliedItem = from_json(&value, "applied_items")?;
            records.applied_items.push(AppliedEntry {
                item_id: utf8(&key, "applied_items")?,
                on: applied.on,
            });
        }
        for item in t.tokens.iter() {
            let (key, value) = item?;
            let token: StoredToken = from_json(&value, "tokens")?;
            records.tokens.push(TokenEntry {
                token_hash: hash32(&key, "tokens")?,
                name: TokenName::parse(&token.name).map_err(|_| {
                    StoreError::Corrupt(format!("tokens: {:?} is not a token name", token.name))
                })?,
                created_on: token.created_on,
                totp: token.totp,
            });
        }
        for value in t.audit.iter().values() {
            records.audit.push(from_json(&value?, "audit")?);
        }
        Ok(records)
    }

    /// Starts restoring a store into `data_dir` from `records`, which must
    /// pass [`StoreRecords::check`].
    ///
    /// `data_dir` must not exist or be an empty directory: a restore never
    /// mixes with, or replaces, anything. Hand every blob to
    /// [`Restore::write_blob`], then call [`Restore::finish`]. The marker
    /// file that makes the directory a store is written last, so an
    /// interrupted restore leaves a directory the server refuses to start
    /// on, never one that looks like an empty store; if a `Restore` is
    /// dropped unfinished, it removes what it wrote.
    pub fn restore(data_dir: &Path, records: StoreRecords) -> Result<Restore, StoreError> {
        records.check()?;
        let created_root = match fs::read_dir(data_dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(StoreError::Invalid(format!(
                        "{} is not empty: restore only into a new or empty directory \
                         (a restore never replaces or mixes with existing data)",
                        data_dir.display()
                    )));
                }
                check_private(data_dir)?;
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir(data_dir)?;
                true
            }
            Err(e) => return Err(e.into()),
        };
        let layout = Layout::new(data_dir);
        let restore = Restore {
            files: Arc::new(BlobFiles::new(layout.blobs.clone(), layout.tmp.clone())),
            layout,
            expected: records
                .blobs()
                .into_iter()
                .map(|b| (b.id.clone(), b))
                .collect(),
            written: HashSet::new(),
            records,
            created_root,
            done: false,
        };
        restore.layout.create_dirs()?;
        Ok(restore)
    }
}

/// A restore in progress (see [`SledStore::restore`]).
pub struct Restore {
    layout: Layout,
    files: Arc<BlobFiles>,
    records: StoreRecords,
    expected: HashMap<BlobId, StagedBlob>,
    written: HashSet<BlobId>,
    created_root: bool,
    done: bool,
}

impl std::fmt::Debug for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restore")
            .field("data", &self.layout.root)
            .field("blobs", &self.expected.len())
            .field("written", &self.written.len())
            .finish()
    }
}

impl Restore {
    /// The records being restored.
    pub fn records(&self) -> &StoreRecords {
        &self.records
    }

    /// Writes blob `id` from `data`, durably, after checking its bytes
    /// against the size and SHA-256 its object records give
    /// ([`StoreError::Corrupt`] if they differ). A blob no object
    /// references, or one written before, is [`StoreError::Invalid`].
    pub fn write_blob(&mut self, id: &str, data: &mut dyn Read) -> Result<(), StoreError> {
        let expected = self.expected.get(id).ok_or_else(|| {
            StoreError::Invalid(format!("blob {id:?} is not referenced by any object"))
        })?;
        if self.written.contains(id) {
            return Err(StoreError::Invalid(format!("blob {id} comes twice")));
        }
        let mut sink = FileSink::create(self.files.clone())?;
        io::copy(data, &mut sink)?;
        sink.finish_as(expected)?;
        self.written.insert(expected.id.clone());
        Ok(())
    }

    /// The blobs not written yet, in object order.
    pub fn missing_blobs(&self) -> Vec<BlobId> {
        self.records
            .objects
            .iter()
            .filter(|o| !self.written.contains(&o.blob))
            .map(|o| o.blob.clone())
            .collect()
    }

    /// Writes the metadata (flushed and fsynced), then the marker, and
    /// opens the restored store. Fails with [`StoreError::Corrupt`] if a
    /// blob is missing.
    pub fn finish(mut self) -> Result<SledStore, StoreError> {
        let missing = self.missing_blobs();
        if let Some(first) = missing.first() {
            return Err(StoreError::Corrupt(format!(
                "{} blob(s) the records reference are missing (the first is {first})",
                missing.len()
            )));
        }
        self.write_metadata()?;
        self.layout.write_marker()?;
        self.done = true;
        SledStore::open(&self.layout.root)
    }

    fn write_metadata(&self) -> Result<(), StoreError> {
        let db = sled::Config::new().path(&self.layout.db).open()?;
        let t = Trees::open(&db)?;
        let r = &self.records;
        t.meta
            .insert(META_FORMAT, &u64::from(FORMAT_VERSION).to_be_bytes())?;
        t.meta.insert(META_LAST_SEQ, &seq_key(r.last_seq))?;
        t.meta.insert(META_LAST_AUDIT, &seq_key(r.last_audit_seq))?;
        if let Some(digest) = &r.digest {
            t.meta.insert(META_DIGEST, to_json(digest)?)?;
        }
        for entry in &r.cases {
            let stored = StoredCase {
                lookup: entry.lookup_hash,
                case: entry.case.clone(),
            };
            t.cases
                .insert(stored.case.id.as_bytes(), to_json(&stored)?)?;
            t.lookups
                .insert(entry.lookup_hash, stored.case.id.as_bytes())?;
        }
        for o in &r.objects {
            t.objects.insert(seq_key(o.seq), to_json(o)?)?;
            t.case_objects
                .insert(case_object_key(&o.case_id, o.seq), &[] as &[u8])?;
            t.blob_refs.insert(o.blob.as_bytes(), &seq_key(o.seq))?;
        }
        for item in &r.applied_items {
            let mark = to_json(&AppliedItem { on: item.on })?;
            t.applied_items.insert(item.item_id.as_bytes(), mark)?;
        }
        for token in &r.tokens {
            let record = to_json(&StoredToken {
                name: token.name.to_string(),
                created_on: token.created_on,
                totp: token.totp.clone(),
            })?;
            t.tokens.insert(token.token_hash, record)?;
            t.token_names
                .insert(token.name.as_bytes(), &token.token_hash[..])?;
        }
        for entry in &r.audit {
            t.audit.insert(seq_key(entry.seq), to_json(entry)?)?;
        }
        // The same durability as every commit (see the crate doc): sled's
        // flush, then real fsyncs of its files and of the directories that
        // name them.
        db.flush()?;
        fs::File::open(self.layout.db.join("db"))?.sync_all()?;
        sync_files_in(&self.layout.db.join("blobs"))?;
        drop(t);
        drop(db);
        sync_dir(&self.layout.db)?;
        sync_dir(&self.layout.root)
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Only what this restore created: the directory was empty (or
        // missing) when it began.
        let l = &self.layout;
        for dir in [&l.db, &l.blobs, &l.tmp] {
            let _ = fs::remove_dir_all(dir);
        }
        let _ = fs::remove_file(&l.marker);
        if self.created_root {
            let _ = fs::remove_dir(&l.root);
        }
    }
}

impl crate::location::RestoreTarget for Restore {
    fn records(&self) -> &StoreRecords {
        Restore::records(self)
    }

    fn write_blob(&mut self, id: &str, data: &mut dyn Read) -> Result<(), StoreError> {
        Restore::write_blob(self, id, data)
    }

    fn missing_blobs(&self) -> Vec<BlobId> {
        Restore::missing_blobs(self)
    }

    fn finish(self: Box<Self>) -> Result<Box<dyn crate::Store>, StoreError> {
        Ok(Box::new(Restore::finish(*self)?))
    }
}
