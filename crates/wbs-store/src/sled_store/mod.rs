//! [`SledStore`]: the embedded default backend. Opening, the trees, and the
//! [`Store`] implementation, which forwards to [`cases`] and [`desk`].

mod backup;
mod cases;
mod desk;

pub use backup::Restore;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};

use sled::transaction::{
    ConflictableTransactionResult, TransactionError, TransactionResult, TransactionalTree,
};
use sled::Transactional;
use wbs_protocol::Status;

use crate::blob::{create_private_dir, sync_dir, BlobFiles, BlobSink, FileSink, StagedBlob};
use crate::codec::read_u64;
use crate::dump::StoreSnapshot;
use crate::error::StoreError;
use crate::group_sync::GroupSync;
use crate::layout::{check_private, make_private, sweep, Layout, FORMAT_VERSION};
use crate::records::{
    AuditEntry, CaseRecord, DigestState, ImportItem, ObjectRecord, SessionRecord, TokenAuth,
    TokenInfo,
};
use crate::store::{page_limit, BlobReader, BlobStore, MetaStore};
use crate::types::{BlobId, CaseId, Day, TokenName};

/// `meta` keys.
const META_FORMAT: &[u8] = b"format";
const META_LAST_SEQ: &[u8] = b"last_seq";
const META_LAST_AUDIT: &[u8] = b"last_audit_seq";
/// The daily digest's state (`DigestState`, JSON).
const META_DIGEST: &[u8] = b"digest";

/// The sled trees. Values are serde_json unless said otherwise.
struct Trees {
    /// `format` → version (u64 BE); `last_seq`, `last_audit_seq` → u64 BE.
    meta: sled::Tree,
    /// case id → `StoredCase`.
    cases: sled::Tree,
    /// SHA-256(lookup key) → case id.
    lookups: sled::Tree,
    /// seq (u64 BE) → `ObjectRecord`: the export order.
    objects: sled::Tree,
    /// case id ++ seq → empty: the objects of a case.
    case_objects: sled::Tree,
    /// blob id → seq of the object using it. What start-up checks blob
    /// files against, and what keeps a blob from being used twice.
    blob_refs: sled::Tree,
    /// reply-bundle item id → `AppliedItem`.
    applied_items: sled::Tree,
    /// SHA-256(token) → `StoredToken`.
    tokens: sled::Tree,
    /// token name → SHA-256(token).
    token_names: sled::Tree,
    /// seq (u64 BE) → `AuditEntry`.
    audit: sled::Tree,
    /// challenge id → expires_at (u64 BE).
    pow_spent: sled::Tree,
    /// expires_at (u64 BE) ++ challenge id → empty: what to prune first.
    pow_expiry: sled::Tree,
    /// SHA-256(session id) → `StoredSession`.
    sessions: sled::Tree,
    /// lease name → `StoredLease`.
    leases: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Trees, StoreError> {
        Ok(Trees {
            meta: db.open_tree("meta")?,
            cases: db.open_tree("cases")?,
            lookups: db.open_tree("lookups")?,
            objects: db.open_tree("objects")?,
            case_objects: db.open_tree("case_objects")?,
            blob_refs: db.open_tree("blob_refs")?,
            applied_items: db.open_tree("applied_items")?,
            tokens: db.open_tree("tokens")?,
            token_names: db.open_tree("token_names")?,
            audit: db.open_tree("audit")?,
            pow_spent: db.open_tree("pow_spent")?,
            pow_expiry: db.open_tree("pow_expiry")?,
            sessions: db.open_tree("sessions")?,
            leases: db.open_tree("leases")?,
        })
    }

    /// Whether anything worth keeping is in the database.
    fn holds_records(&self) -> bool {
        [
            &self.cases,
            &self.objects,
            &self.tokens,
            &self.audit,
            &self.applied_items,
        ]
        .iter()
        .any(|t| !t.is_empty())
    }
}

/// The case-related trees inside one transaction.
struct CaseTx<'a> {
    meta: &'a TransactionalTree,
    cases: &'a TransactionalTree,
    lookups: &'a TransactionalTree,
    objects: &'a TransactionalTree,
    case_objects: &'a TransactionalTree,
    blob_refs: &'a TransactionalTree,
    applied_items: &'a TransactionalTree,
}

/// The embedded store: sled for metadata and indexes, one file per blob.
pub struct SledStore {
    db: sled::Db,
    /// sled's data file, opened read-only only to `fsync` it after each
    /// flush (see the crate doc: sled's own flush is `sync_file_range`).
    db_file: std::fs::File,
    /// Where sled writes oversized log items as files of their own, which
    /// it never syncs; `sync` does.
    sled_blobs: PathBuf,
    trees: Trees,
    files: Arc<BlobFiles>,
    recovered: usize,
    missing: Vec<BlobId>,
    /// Set when a flush failed after a commit. sled then refuses every
    /// later write, even once space is freed, and may show in memory what
    /// never reached the disk; so the store stops taking writes, with a
    /// clear error, until it is reopened.
    failure: OnceLock<WriteFailure>,
    /// Every transaction holds this shared while it runs; a snapshot holds
    /// it exclusively while it reads all trees, so it sees either all of a
    /// commit or none of it (sled iterators are not point-in-time).
    commits: RwLock<()>,
    /// Shares flushes between concurrent commits.
    group_sync: GroupSync,
    /// Held while a follow-up is checked for being a resend and committed.
    followups: Mutex<()>,
    /// Held while a desk session is opened: its caps are decided on a read
    /// of every session, which must not interleave with another opening.
    session_opening: Mutex<()>,
    /// Keeps the blob files of a snapshot on disk while it is in use.
    pins: Arc<BlobPins>,
}

/// While any [`StoreSnapshot`] lives, the files of deleted cases are kept
/// and removed only when the last snapshot is dropped, so a backup or a
/// verification never finds a blob of its snapshot missing. (A crash
/// meanwhile leaves them unreferenced: the next start sweeps them.)
#[derive(Debug)]
pub(crate) struct BlobPins {
    files: Arc<BlobFiles>,
    state: Mutex<PinState>,
}

#[derive(Debug, Default)]
struct PinState {
    snapshots: usize,
    deferred: Vec<BlobId>,
}

impl BlobPins {
    fn lock(&self) -> std::sync::MutexGuard<'_, PinState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the files of blobs that nothing references any more, or
    /// defers that while a snapshot is in use.
    fn remove(&self, blobs: Vec<BlobId>) {
        let mut state = self.lock();
        if state.snapshots > 0 {
            state.deferred.extend(blobs);
            return;
        }
        drop(state);
        for blob in &blobs {
            let _ = self.files.remove(blob);
        }
    }

    pub(crate) fn pin(self: &Arc<Self>) -> BlobPin {
        self.lock().snapshots += 1;
        BlobPin(self.clone())
    }
}

/// One snapshot's hold on the blob files (see [`BlobPins`]).
#[derive(Debug)]
pub(crate) struct BlobPin(Arc<BlobPins>);

impl Drop for BlobPin {
    fn drop(&mut self) {
        let deferred = {
            let mut state = self.0.lock();
            state.snapshots -= 1;
            if state.snapshots > 0 {
                return;
            }
            std::mem::take(&mut state.deferred)
        };
        for blob in &deferred {
            let _ = self.0.files.remove(blob);
        }
    }
}

/// Why the store stopped taking writes.
#[derive(Debug)]
struct WriteFailure {
    no_space: bool,
    message: String,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("blobs", &self.files.blobs_dir())
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens the store in `data_dir`, which must have been created by
    /// [`create_or_open`](SledStore::create_or_open): without its
    /// `WBS-STORE` marker this fails ([`StoreError::Invalid`] for a
    /// directory that holds no store, [`StoreError::Corrupt`] for one that
    /// holds store data but lost its marker).
    pub fn open(data_dir: &Path) -> Result<SledStore, StoreError> {
        let layout = Layout::new(data_dir);
        if data_dir.exists() {
            check_private(data_dir)?;
        }
        if layout.check_marker()? {
            return Self::open_existing(layout);
        }
        if layout.blobs_has_files()? || layout.db.exists() {
            return Err(no_marker_but_data(&layout));
        }
        Err(StoreError::Invalid(format!(
            "{} holds no WBS store (no {} marker); start wbs-server on it once to create one",
            data_dir.display(),
            crate::layout::MARKER_FILE
        )))
    }

    /// Opens the store in `data_dir`, creating it (and the directory) if
    /// the directory holds no store yet. A directory that holds store data
    /// without the marker is [`StoreError::Corrupt`], never started over.
    /// An existing directory that other users can enter is
    /// [`StoreError::NotPrivate`]; a new one is made mode 0700.
    pub fn create_or_open(data_dir: &Path) -> Result<SledStore, StoreError> {
        let layout = Layout::new(data_dir);
        match std::fs::metadata(data_dir) {
            Ok(_) => check_private(data_dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        create_private_dir(data_dir)?;
        if layout.check_marker()? {
            return Self::open_existing(layout);
        }
        if layout.blobs_has_files()? {
            return Err(no_marker_but_data(&layout));
        }
        // A database without marker is either the remains of a first start
        // that was interrupted before the marker was written (empty: go on)
        // or a store whose marker was lost (refuse).
        let db = open_sled(&layout)?;
        let trees = Trees::open(&db)?;
        if trees.holds_records() {
            return Err(no_marker_but_data(&layout));
        }
        trees
            .meta
            .insert(META_FORMAT, &u64::from(FORMAT_VERSION).to_be_bytes())?;
        db.flush()?;
        layout.create_dirs()?;
        // Last: from here on, a missing database is damage, not a new store.
        layout.write_marker()?;
        Self::finish_open(layout, db, trees)
    }

    fn open_existing(layout: Layout) -> Result<SledStore, StoreError> {
        if !layout.db_files_present() {
            return Err(StoreError::Corrupt(format!(
                "{} says a store was created in {}, but its metadata database {} is missing \
                 or incomplete; restore it from a backup (starting over with an empty store \
                 would lose every case)",
                crate::layout::MARKER_FILE,
                layout.root.display(),
                layout.db.display()
            )));
        }
        let db = open_sled(&layout).map_err(|e| match e {
            StoreError::Io(e) => StoreError::Corrupt(format!(
                "cannot read the metadata database {}: {e}",
                layout.db.display()
            )),
            other => other,
        })?;
        let trees = Trees::open(&db)?;
        match trees.meta.get(META_FORMAT)? {
            Some(v) if read_u64(&v, "meta format")? == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(StoreError::Corrupt(format!(
                    "the metadata database has format {} but the marker says {FORMAT_VERSION}",
                    read_u64(&v, "meta format")?
                )))
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "the metadata database {} is empty or not this store's (no format record), \
                     though {} says a store was created here; restore it from a backup",
                    layout.db.display(),
                    crate::layout::MARKER_FILE
                )))
            }
        }
        if !layout.blobs.is_dir() && !trees.blob_refs.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "the blob directory {} is missing, but the metadata references blobs",
                layout.blobs.display()
            )));
        }
        layout.create_dirs()?;
        Self::finish_open(layout, db, trees)
    }

    /// Sweeps crash leftovers. Runs only after sled has taken its file lock,
    /// so a second process pointed at a live data directory fails to open
    /// the database before it could delete a blob the first one is writing.
    fn finish_open(layout: Layout, db: sled::Db, trees: Trees) -> Result<SledStore, StoreError> {
        // sled made its files with the process umask.
        make_private(&layout.root)?;
        let mut referenced = HashSet::new();
        for key in trees.blob_refs.iter().keys() {
            let key = key?;
            let id = String::from_utf8_lossy(&key).into_owned();
            referenced
                .insert(BlobId::try_from(id).map_err(|_| {
                    StoreError::Corrupt("blob_refs: a key is not a blob id".into())
                })?);
        }
        let sweep = sweep(&layout, &referenced)?;
        let db_file = std::fs::File::open(layout.db.join("db"))?;
        let files = Arc::new(BlobFiles::new(layout.blobs.clone(), layout.tmp.clone()));
        Ok(SledStore {
            db,
            db_file,
            sled_blobs: layout.db.join("blobs"),
            trees,
            pins: Arc::new(BlobPins {
                files: files.clone(),
                state: Mutex::new(PinState::default()),
            }),
            files,
            recovered: sweep.removed,
            missing: sweep.missing,
            failure: OnceLock::new(),
            commits: RwLock::new(()),
            group_sync: GroupSync::default(),
            followups: Mutex::new(()),
            session_opening: Mutex::new(()),
        })
    }

    /// How many crash leftovers (temporary files, blob files no metadata
    /// references) the last open removed.
    pub fn recovered_leftovers(&self) -> usize {
        self.recovered
    }

    /// Blob files that metadata references but that were missing at open.
    /// Empty unless the data directory was damaged; worth a loud log line.
    pub fn missing_blobs(&self) -> &[BlobId] {
        &self.missing
    }

    /// Runs `f` as one transaction over the case-related trees.
    ///
    /// `f` runs under sled's global transaction lock and may be retried: it
    /// must only touch the trees it is given (a plain `Tree` call inside
    /// would deadlock) and have no other side effects.
    fn case_tx<T>(
        &self,
        f: impl Fn(&CaseTx<'_>) -> ConflictableTransactionResult<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writable()?;
        let _commit = self.commit_guard();
        let t = &self.trees;
        let trees = (
            &t.meta,
            &t.cases,
            &t.lookups,
            &t.objects,
            &t.case_objects,
            &t.blob_refs,
            &t.applied_items,
        );
        let result = trees.transaction(
            |(meta, cases, lookups, objects, case_objects, blob_refs, applied_items)| {
                f(&CaseTx {
                    meta,
                    cases,
                    lookups,
                    objects,
                    case_objects,
                    blob_refs,
                    applied_items,
                })
            },
        );
        self.tx_result(result)
    }

    /// Turns a transaction's result into ours, noting a storage failure:
    /// after an I/O error sled refuses further writes (see `failure`).
    fn tx_result<T>(&self, result: TransactionResult<T, StoreError>) -> Result<T, StoreError> {
        result.map_err(|e| {
            let storage_io = matches!(e, TransactionError::Storage(sled::Error::Io(_)));
            let e = StoreError::from(e);
            if storage_io {
                self.note_failure(&e);
            }
            e
        })
    }

    fn note_failure(&self, e: &StoreError) {
        let _ = self.failure.set(WriteFailure {
            no_space: matches!(e, StoreError::NoSpace),
            message: e.to_string(),
        });
    }

    /// Makes every commit so far durable: sled's flush, then a real
    /// `fsync` of its data file (see the crate doc).
    ///
    /// Concurrent callers share flushes (group commit, see
    /// [`crate::group_sync`]): one `fsync` covers every commit made before
    /// it started.
    fn sync(&self) -> Result<(), StoreError> {
        self.group_sync.sync(
            || {
                let result = self
                    .db
                    .flush()
                    .map_err(StoreError::from)
                    .and_then(|_| Ok(self.db_file.sync_all()?))
                    .and_then(|()| sync_files_in(&self.sled_blobs));
                if let Err(e) = &result {
                    self.note_failure(e);
                }
                result
            },
            || {
                self.writable().err().unwrap_or_else(|| {
                    StoreError::Backend("an earlier flush of the metadata failed".into())
                })
            },
        )
    }

    /// Held (shared) by every transaction while it runs; see `commits`.
    /// Never take it twice on one thread: a waiting snapshot would make
    /// the second acquisition wait for the first.
    fn commit_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.commits.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses writes once a flush has failed (see `failure`).
    fn writable(&self) -> Result<(), StoreError> {
        match self.failure.get() {
            None => Ok(()),
            Some(f) if f.no_space => Err(StoreError::NoSpace),
            Some(f) => Err(StoreError::Backend(format!(
                "storage stopped taking writes after an earlier failure ({}); restart the server",
                f.message
            ))),
        }
    }

    /// Removes staged blob files after a call failed before committing.
    /// Best effort: whatever stays behind is swept at the next start. A
    /// blob that is referenced after all (a forged `StagedBlob` naming a
    /// live blob) is never touched.
    fn discard_unreferenced<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            if let Ok(None) = self.trees.blob_refs.get(id) {
                let _ = self.files.remove(id);
            }
        }
    }
}

/// Fsyncs every file in `dir`, then `dir` itself. sled may remove a file
/// meanwhile (it rewrote the item); that is not an error.
fn sync_files_in(dir: &Path) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        match std::fs::File::open(entry?.path()).and_then(|f| f.sync_all()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    sync_dir(dir)
}

fn no_marker_but_data(layout: &Layout) -> StoreError {
    StoreError::Corrupt(format!(
        "{} holds store data (a metadata database or blob files) but no {} marker; \
         refusing to treat it as a new store. Restore the marker from a backup, or \
         move the directory away to start afresh",
        layout.root.display(),
        crate::layout::MARKER_FILE
    ))
}

/// The most memory sled keeps for its cache of tree pages. Its default,
/// 1 GiB, let the server's resident memory grow with the number of cases
/// (52 MiB after 10,000 small submissions, and more with every export):
/// metadata is small and the OS page cache holds the file anyway, so a
/// small cache keeps the server flat in memory (docs/BENCHMARKS.md).
const SLED_CACHE_BYTES: u64 = 8 << 20;

/// How long opening waits for the database lock before saying the store is
/// in use. sled releases its file lock only when the last of its background
/// I/O tasks lets go of the database, which can be a few milliseconds after
/// the handle was dropped; a store closed and reopened in one process (a
/// restore, a test) must not take that for another server.
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn open_sled(layout: &Layout) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(&layout.db)
        .cache_capacity(SLED_CACHE_BYTES);
    let deadline = std::time::Instant::now() + SLED_LOCK_WAIT;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                return Err(StoreError::Backend(format!(
                    "the metadata database {} is in use by another process \
                     (is wbs-server already running on this data directory?)",
                    layout.db.display()
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl BlobStore for SledStore {
    fn blob_sink(&self) -> Result<BlobSink, StoreError> {
        Ok(BlobSink::new(Box::new(FileSink::create(
            self.files.clone(),
        )?)))
    }

    fn open_blob(&self, id: &BlobId) -> Result<BlobReader, StoreError> {
        Ok(Box::new(self.files.open(id)?))
    }

    fn discard_blob(&self, blob: StagedBlob) -> Result<(), StoreError> {
        if self.trees.blob_refs.get(blob.id.as_str())?.is_some() {
            return Err(StoreError::Invalid(format!(
                "blob {} belongs to a case and cannot be discarded",
                blob.id
            )));
        }
        self.files.remove(&blob.id)
    }

    /// Blurs what the file system records about when objects arrived.
    ///
    /// A blob file's `mtime` and `atime` are set back to midnight when it is
    /// written, but its inode change time (`ctime`) cannot be set: it keeps
    /// the moment of writing. This moves the `ctime` of every blob file from
    /// today and yesterday to now, all in one sweep and in the order of
    /// their random ids, so those files no longer say when each arrived,
    /// only that it was before this sweep; and it sets the times of the
    /// blob and staging directories back to midnight. Run often (the server
    /// does so every few minutes, at start and at shutdown), an exact time
    /// survives only until the next sweep. Returns how many files it
    /// touched.
    fn blur_file_times(&self) -> Result<usize, StoreError> {
        self.files.blur_times(wbs_protocol::date::today_days())
    }
}

impl MetaStore for SledStore {
    fn create_case(
        &self,
        lookup_hash: [u8; 32],
        reply_recipient: &str,
        received_on: Day,
        report: StagedBlob,
        attachments: Vec<StagedBlob>,
    ) -> Result<CaseRecord, StoreError> {
        self.create_case_impl(
            lookup_hash,
            reply_recipient,
            received_on,
            report,
            attachments,
        )
    }

    fn case_by_lookup(&self, lookup_hash: &[u8; 32]) -> Result<Option<CaseRecord>, StoreError> {
        self.case_by_lookup_impl(lookup_hash)
    }

    fn case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        Ok(self.stored_case(id)?.map(|s| s.case))
    }

    fn add_followup(
        &self,
        case_id: &CaseId,
        message: StagedBlob,
        attachments: Vec<StagedBlob>,
        on: Day,
    ) -> Result<u32, StoreError> {
        self.add_followup_impl(case_id, message, attachments, on)
    }

    fn set_status(&self, case_id: &CaseId, status: Status, on: Day) -> Result<(), StoreError> {
        self.set_status_impl(case_id, status, on)
    }

    fn apply_import(&self, items: Vec<ImportItem>, on: Day) -> Result<(u32, u32), StoreError> {
        self.apply_import_impl(items, on)
    }

    fn list_cases(&self, after: u64, limit: usize) -> Result<Vec<CaseRecord>, StoreError> {
        self.list_cases_impl(after, page_limit(limit))
    }

    fn objects_since(&self, cursor: u64, limit: usize) -> Result<Vec<ObjectRecord>, StoreError> {
        self.objects_since_impl(cursor, page_limit(limit))
    }

    fn objects_of_case(&self, case_id: &CaseId) -> Result<Vec<ObjectRecord>, StoreError> {
        self.objects_of_case_impl(case_id)
    }

    fn cursor(&self) -> Result<u64, StoreError> {
        match self.trees.meta.get(META_LAST_SEQ)? {
            Some(v) => read_u64(&v, "meta last_seq"),
            None => Ok(0),
        }
    }

    fn delete_case(&self, id: &CaseId) -> Result<(), StoreError> {
        self.delete_case_impl(id)
    }

    fn add_token(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.add_token_impl(name, token_hash, totp_sealed)
    }

    fn token_auth(&self, token_hash: &[u8; 32]) -> Result<Option<TokenAuth>, StoreError> {
        self.token_auth_impl(token_hash)
    }

    fn set_token_totp(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.set_token_totp_impl(name, token_hash, totp_sealed)
    }

    fn accept_totp_step(&self, token_hash: &[u8; 32], step: u64) -> Result<bool, StoreError> {
        self.accept_totp_step_impl(token_hash, step)
    }

    fn digest_state(&self) -> Result<DigestState, StoreError> {
        self.digest_state_impl()
    }

    fn set_digest_state(&self, state: &DigestState) -> Result<(), StoreError> {
        self.set_digest_state_impl(state)
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.list_tokens_impl()
    }

    fn revoke_token(&self, name: &TokenName) -> Result<(), StoreError> {
        self.revoke_token_impl(name)
    }

    fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        self.audit_impl(actor, action, detail)
    }

    fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_log_impl(after, page_limit(limit))
    }

    fn spend_pow(&self, id: [u8; 16], expires_at: u64, now: u64) -> Result<bool, StoreError> {
        self.spend_pow_impl(id, expires_at, now)
    }

    fn session_create(
        &self,
        id_hash: [u8; 32],
        session: &SessionRecord,
        now: u64,
        per_name: usize,
        max_total: usize,
    ) -> Result<bool, StoreError> {
        self.session_create_impl(id_hash, session, now, per_name, max_total)
    }

    fn session_get(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.session_get_impl(id_hash, now)
    }

    fn session_touch(
        &self,
        id_hash: &[u8; 32],
        now: u64,
        idle_secs: u64,
    ) -> Result<(), StoreError> {
        self.session_touch_impl(id_hash, now, idle_secs)
    }

    fn session_delete(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.session_delete_impl(id_hash)
    }

    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.try_lease_impl(name, holder, ttl_secs, now)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.sync()
    }

    fn health(&self) -> Result<(), StoreError> {
        self.writable()
    }

    fn snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        self.snapshot_impl()
    }
}
