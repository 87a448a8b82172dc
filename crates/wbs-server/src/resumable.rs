//! Resumable uploads: the staging area (docs/PROTOCOL.md §7.4).
//!
//! An attachment's ciphertext may arrive over several requests. Its bytes
//! are kept in a staging directory of their own (`[uploads] dir`, by default
//! `<data>/uploads`), one file per upload, until the upload is complete;
//! then the object is checked exactly as a one-shot upload is (through
//! [`crate::upload::receive_reader`], which writes it into the store's blob
//! sink) and waits, as a [`StagedBlob`], for the one submission or
//! follow-up that names it.
//!
//! What the server keeps about an upload, and for how long:
//!
//! - In memory only: the SHA-256 of its id (the id itself is never kept,
//!   so a lookup is a hash-map probe on a hash, not a comparison of
//!   secrets), its declared length, how many bytes it holds, and a
//!   monotonic [`Instant`] for its expiry. Nothing of it is logged.
//! - On disk: one file under a random name that has nothing to do with the
//!   id, whose times are set back to the Unix epoch after every write (the
//!   directory's too); it is removed when the upload is finished, used,
//!   cancelled, refused or expired, and every leftover `*.part` file is
//!   removed at start and at shutdown. Unfinished uploads do not survive a
//!   restart: the client learns it from a 404 and starts the upload again.
//!
//! Unfinished and finished-but-unused uploads reserve their declared length
//! against a global quota (`staging_quota_bytes`), and their number is
//! bounded (`max_open`), so a client that opens uploads and never finishes
//! them is stopped there; each of them also cost a proof of work and a token
//! of the submission budget.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use wbs_store::{StagedBlob, Store};

use crate::config::UploadSettings;
use crate::error::ApiError;
use crate::upload::Checker;

/// Length of an upload id in bytes (256 random bits), before base64url.
pub const ID_BYTES: usize = 32;

/// Suffix of staging files; only such files are ever removed by the sweep
/// of a leftover directory.
const SUFFIX: &str = ".part";

/// The staging area and its uploads.
pub struct Staging {
    dir: PathBuf,
    quota: u64,
    max_open: usize,
    expiry: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    uploads: HashMap<[u8; 32], Arc<Upload>>,
    reserved: u64,
}

/// One upload.
pub struct Upload {
    /// The declared length of the whole object.
    pub length: u64,
    expires: Instant,
    /// Bumped by every request that wants the upload, so that a request
    /// still receiving on a connection that broke without a word (no FIN)
    /// stops and lets the resumed one in.
    preempt: watch::Sender<u64>,
    /// What it holds. One request at a time.
    pub state: tokio::sync::Mutex<UploadState>,
}

/// The mutable part of an upload.
pub struct UploadState {
    /// Bytes held (a prefix of the object).
    pub offset: u64,
    /// The staging file, while unfinished.
    pub path: PathBuf,
    /// The object check, fed with each new byte in order.
    pub checker: Checker,
    /// The checked object in the store, once complete.
    pub finished: Option<StagedBlob>,
    /// Set when the upload was removed (used, cancelled, refused, expired):
    /// a request that waited for it finds nothing.
    pub removed: bool,
}

impl Upload {
    /// Asks a request that holds the upload to stop at its next chunk.
    pub fn preempt(&self) {
        self.preempt.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A receiver that fires at the next [`Upload::preempt`].
    pub fn preempted(&self) -> watch::Receiver<u64> {
        self.preempt.subscribe()
    }
}

/// A new upload's id, as the client sees it (base64url of [`ID_BYTES`]).
pub struct NewUpload {
    /// The id; shown once, to its client, and kept nowhere.
    pub id: String,
    /// The upload.
    pub upload: Arc<Upload>,
}

/// Why a new upload is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its length would go over the staging quota, or too many are open.
    Full,
}

/// The key an upload id is looked up by; `None` for anything that is not an
/// id (every miss looks the same to the client).
pub fn key_of(id: &str) -> Option<[u8; 32]> {
    if id.len() != 43 {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    if raw.len() != ID_BYTES {
        return None;
    }
    Some(Sha256::digest(&raw).into())
}

/// Sets a file's or directory's times to the Unix epoch; errors are
/// ignored (the times only say less, never more, when this works).
fn neutralise_times(path: &Path) {
    let times = std::fs::FileTimes::new()
        .set_modified(SystemTime::UNIX_EPOCH)
        .set_accessed(SystemTime::UNIX_EPOCH);
    if let Ok(f) = File::open(path) {
        let _ = f.set_times(times);
    }
}

impl Staging {
    /// The staging area for `settings`, under `data` unless a directory is
    /// given. Touches nothing on disk: see [`Staging::prepare`].
    pub fn new(settings: &UploadSettings, data: &Path) -> Self {
        Staging {
            dir: settings.dir.clone().unwrap_or_else(|| data.join("uploads")),
            quota: settings.staging_quota_bytes,
            max_open: settings.max_open as usize,
            expiry: Duration::from_secs(settings.expiry_secs),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The staging directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long an upload lives.
    pub fn expiry(&self) -> Duration {
        self.expiry
    }

    /// Creates the directory (the server user's alone) and removes any
    /// staging file left by an earlier run.
    pub fn prepare(&self) -> Result<usize, String> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(|e| {
            format!(
                "cannot create the uploads directory {}: {e}",
                self.dir.display()
            )
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.dir)
                .map_err(|e| format!("{}: {e}", self.dir.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the uploads directory {} can be entered by others (mode {:o}); \
                     make it the server user's alone (chmod 700)",
                    self.dir.display(),
                    mode & 0o777
                ));
            }
        }
        Ok(self.remove_leftovers())
    }

    /// Removes every staging file in the directory (not other files: the
    /// directory may be one an operator chose).
    pub fn remove_leftovers(&self) -> usize {
        let mut removed = 0;
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if is_staging_name(&name) && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        neutralise_times(&self.dir);
        removed
    }

    /// Bytes reserved by open uploads and how many are open.
    pub fn usage(&self) -> (u64, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.reserved, inner.uploads.len())
    }

    /// Reserves room for an upload of `length` bytes; the reservation is
    /// given back when the returned guard is dropped unless it is turned
    /// into an upload with [`Staging::open`].
    pub fn reserve(self: &Arc<Self>, length: u64) -> Result<Reservation, Refusal> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.uploads.len() >= self.max_open
            || inner.reserved.saturating_add(length) > self.quota
        {
            return Err(Refusal::Full);
        }
        inner.reserved += length;
        Ok(Reservation {
            staging: self.clone(),
            length,
            live: true,
        })
    }

    /// Opens an upload on a reservation: creates its empty file and returns
    /// its id.
    pub fn open(
        &self,
        mut reservation: Reservation,
        checker: Checker,
    ) -> Result<NewUpload, ApiError> {
        let mut raw = [0u8; ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let key: [u8; 32] = Sha256::digest(raw).into();
        let mut name = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut name);
        let path = self
            .dir
            .join(format!("{}{SUFFIX}", wbs_protocol::hex(&name)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        if let Err(e) = options.open(&path) {
            return Err(ApiError::from(wbs_store::StoreError::from(e)));
        }
        neutralise_times(&path);
        neutralise_times(&self.dir);
        let upload = Arc::new(Upload {
            length: reservation.length,
            expires: Instant::now() + self.expiry,
            preempt: watch::channel(0).0,
            state: tokio::sync::Mutex::new(UploadState {
                offset: 0,
                path,
                checker,
                finished: None,
                removed: false,
            }),
        });
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.uploads.insert(key, upload.clone());
        reservation.live = false;
        Ok(NewUpload { id, upload })
    }

    /// The upload with this id, if there is one.
    pub fn get(&self, id: &str) -> Option<Arc<Upload>> {
        let key = key_of(id)?;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.uploads.get(&key).cloned()
    }

    /// Takes the upload with this id out of the table (nobody can reach it
    /// any more) and gives back its reservation. The caller then cleans it
    /// up with [`Staging::clean`] (or uses its finished object).
    pub fn detach(&self, id: &str) -> Option<Arc<Upload>> {
        let key = key_of(id)?;
        self.detach_key(&key)
    }

    fn detach_key(&self, key: &[u8; 32]) -> Option<Arc<Upload>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let upload = inner.uploads.remove(key)?;
        inner.reserved = inner.reserved.saturating_sub(upload.length);
        Some(upload)
    }

    /// Detaches `upload` if it is still in the table (it may already have
    /// been detached by another request).
    pub fn detach_upload(&self, upload: &Arc<Upload>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = inner
            .uploads
            .iter()
            .find(|(_, u)| Arc::ptr_eq(u, upload))
            .map(|(k, _)| *k);
        if let Some(key) = key {
            inner.uploads.remove(&key);
            inner.reserved = inner.reserved.saturating_sub(upload.length);
        }
    }

    /// Removes a detached upload's bytes: its staging file, or its finished
    /// object in the store. Waits for a request holding it to stop.
    pub async fn clean(&self, upload: Arc<Upload>, store: Arc<dyn Store>) {
        upload.preempt();
        let mut st = upload.state.lock().await;
        Self::clean_locked(&self.dir, &mut st, store).await;
    }

    /// The same, with the state already held.
    pub async fn clean_locked(dir: &Path, st: &mut UploadState, store: Arc<dyn Store>) {
        st.removed = true;
        let path = st.path.clone();
        let finished = st.finished.take();
        let dir = dir.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("could not remove a staging file: {e}"),
            }
            if let Some(blob) = finished {
                if let Err(e) = store.discard_blob(blob) {
                    tracing::warn!("could not remove an unused upload: {e}");
                }
            }
            neutralise_times(&dir);
        })
        .await;
    }

    /// Detaches and cleans every upload whose time is up.
    pub async fn expire(&self, now: Instant, store: &Arc<dyn Store>) -> usize {
        let expired: Vec<Arc<Upload>> = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<[u8; 32]> = inner
                .uploads
                .iter()
                .filter(|(_, u)| u.expires <= now)
                .map(|(k, _)| *k)
                .collect();
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                if let Some(u) = inner.uploads.remove(&k) {
                    inner.reserved = inner.reserved.saturating_sub(u.length);
                    out.push(u);
                }
            }
            out
        };
        let n = expired.len();
        for u in expired {
            self.clean(u, store.clone()).await;
        }
        n
    }

    /// Detaches and cleans every upload (at shutdown).
    pub async fn clear(&self, store: &Arc<dyn Store>) {
        let all: Vec<Arc<Upload>> = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.reserved = 0;
            inner.uploads.drain().map(|(_, u)| u).collect()
        };
        for u in all {
            self.clean(u, store.clone()).await;
        }
        self.remove_leftovers();
    }
}

/// Room reserved in the staging quota for an upload being opened.
pub struct Reservation {
    staging: Arc<Staging>,
    length: u64,
    live: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.live {
            let mut inner = self.staging.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.reserved = inner.reserved.saturating_sub(self.length);
        }
    }
}

fn is_staging_name(name: &str) -> bool {
    name.strip_suffix(SUFFIX)
        .is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How often expired uploads are looked for.
pub fn sweep_every(expiry: Duration) -> Duration {
    (expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Removes expired uploads until shutdown, then every upload. Also sets
/// the directory's times back each round, so that its inode change time
/// tells at most when the last sweep ran.
pub async fn run(app: crate::state::SharedState, mut shutdown: watch::Receiver<bool>) {
    let every = sweep_every(app.staging.expiry());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => break,
        }
        app.staging.expire(Instant::now(), &app.store).await;
        let dir = app.staging.dir().to_path_buf();
        let _ = tokio::task::spawn_blocking(move || neutralise_times(&dir)).await;
    }
    app.staging.clear(&app.store).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, quota: u64, max_open: u32) -> UploadSettings {
        UploadSettings {
            dir: Some(dir.to_path_buf()),
            staging_quota_bytes: quota,
            max_open,
            expiry_secs: 60,
        }
    }

    fn checker() -> Checker {
        Checker::new(crate::upload::ObjectRules {
            recipients: wbs_protocol::header::Stanzas::exactly(1),
            max_bytes: 1 << 20,
            idle: Duration::from_secs(5),
        })
    }

    #[tokio::test]
    async fn ids_are_found_by_hash_and_the_quota_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let up = tmp.path().join("up");
        let staging = Arc::new(Staging::new(&settings(&up, 100, 3), tmp.path()));
        staging.prepare().unwrap();
        let a = staging
            .open(staging.reserve(60).unwrap(), checker())
            .unwrap();
        assert_eq!(a.id.len(), 43);
        assert!(staging.get(&a.id).is_some());
        // A different id of the right shape, and junk, are both misses.
        let mut other = a.id.clone().into_bytes();
        other[0] = if other[0] == b'A' { b'B' } else { b'A' };
        assert!(staging.get(std::str::from_utf8(&other).unwrap()).is_none());
        assert!(staging.get("nope").is_none());
        // Over the quota: refused; a dropped reservation gives its room back.
        assert_eq!(staging.reserve(41).err(), Some(Refusal::Full));
        drop(staging.reserve(40).unwrap());
        let _b = staging
            .open(staging.reserve(40).unwrap(), checker())
            .unwrap();
        assert_eq!(staging.usage(), (100, 2));
        // Detaching gives the room back.
        let up = staging.detach(&a.id).unwrap();
        assert!(staging.get(&a.id).is_none());
        assert_eq!(staging.usage(), (40, 1));
        let path = up.state.lock().await.path.clone();
        assert!(path.exists());
        let store: Arc<dyn Store> =
            Arc::new(wbs_store::SledStore::create_or_open(&tmp.path().join("data")).unwrap());
        staging.clean(up, store).await;
        assert!(!path.exists());
        // The number of open uploads is bounded too.
        let _c = staging
            .open(staging.reserve(1).unwrap(), checker())
            .unwrap();
        let _d = staging
            .open(staging.reserve(1).unwrap(), checker())
            .unwrap();
        assert_eq!(staging.reserve(1).err(), Some(Refusal::Full));
    }

    #[test]
    fn only_staging_files_are_removed_as_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let up = tmp.path().join("up");
        let staging = Staging::new(&settings(&up, 100, 3), tmp.path());
        staging.prepare().unwrap();
        std::fs::write(up.join(format!("{}.part", "ab".repeat(16))), b"x").unwrap();
        std::fs::write(up.join("notes.part"), b"keep").unwrap();
        std::fs::write(up.join("README"), b"keep").unwrap();
        assert_eq!(staging.prepare().unwrap(), 1);
        assert!(up.join("notes.part").exists());
        assert!(up.join("README").exists());
        // A directory others can enter is refused.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&up, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert!(staging.prepare().is_err());
        }
    }
}
