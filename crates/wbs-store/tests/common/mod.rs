//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wbs_store::{BlobId, CaseId, Day, SledStore, StagedBlob, Store, TokenName};

/// 2024-05-01.
pub const DAY: Day = Day::from_unix_days(19_844);
/// 2024-05-09.
pub const LATER: Day = Day::from_unix_days(19_852);

/// A date.
pub fn d(s: &str) -> Day {
    Day::parse(s).unwrap()
}

/// A token name.
pub fn tn(s: &str) -> TokenName {
    TokenName::parse(s).unwrap()
}

/// A well-formed case id that no case has.
pub fn unknown_case() -> CaseId {
    CaseId::parse("0000000000000000000z").unwrap()
}

/// A backend under test: the store, and what a test needs to look behind
/// it (how many blobs it keeps, whether one is there, reopening it).
pub struct Fx {
    store: Option<Open>,
    kind: Kind,
}

enum Open {
    Sled(Box<SledStore>),
    Other(Box<dyn Store>),
}

/// Anything the helpers below can take as a store.
pub trait AsStore {
    /// The store.
    fn as_store(&self) -> &dyn Store;
}

impl AsStore for Fx {
    fn as_store(&self) -> &dyn Store {
        &**self
    }
}

impl AsStore for dyn Store + '_ {
    fn as_store(&self) -> &dyn Store {
        self
    }
}

impl AsStore for SledStore {
    fn as_store(&self) -> &dyn Store {
        self
    }
}

impl AsStore for wbs_store::PgStore {
    fn as_store(&self) -> &dyn Store {
        self
    }
}

enum Kind {
    Sled(tempfile::TempDir),
    Postgres(wbs_store::testing::TestDb),
}

impl std::ops::Deref for Fx {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        match self.store.as_ref().expect("the store is open") {
            Open::Sled(s) => &**s,
            Open::Other(s) => &**s,
        }
    }
}

impl Fx {
    /// A fresh sled store in a temporary directory.
    pub fn new_sled() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::create_or_open(&data(&dir)).unwrap();
        Fx {
            store: Some(Open::Sled(Box::new(store))),
            kind: Kind::Sled(dir),
        }
    }

    /// A fresh PostgreSQL store in a database of its own.
    pub fn new_postgres() -> Fx {
        let db = wbs_store::testing::TestDb::new();
        let store = wbs_store::open(&db.location()).unwrap();
        Fx {
            store: Some(Open::Other(store)),
            kind: Kind::Postgres(db),
        }
    }

    /// Closes the store and opens it again, as a restart would.
    pub fn reopen(&mut self) {
        self.store = None;
        let store = match &self.kind {
            Kind::Sled(dir) => Open::Sled(Box::new(SledStore::open(&data(dir)).unwrap())),
            Kind::Postgres(db) => Open::Other(wbs_store::open(&db.location()).unwrap()),
        };
        self.store = Some(store);
    }

    /// A second handle on the same store, as another server instance
    /// would have (PostgreSQL only; sled allows one process).
    pub fn another_instance(&self) -> Option<Box<dyn Store>> {
        match &self.kind {
            Kind::Sled(_) => None,
            Kind::Postgres(db) => Some(wbs_store::open(&db.location()).unwrap()),
        }
    }

    /// How many spent proof-of-work ids the store remembers.
    pub fn pow_ids_remembered(&self) -> usize {
        match (&self.kind, self.store.as_ref()) {
            (_, Some(Open::Sled(s))) => s.pow_ids_remembered(),
            (Kind::Postgres(db), _) => db.count("SELECT count(*) FROM pow_spent") as usize,
            _ => unreachable!("a sled fixture holds a SledStore"),
        }
    }

    /// The open sled store, for tests of what only it does.
    pub fn sled(&self) -> Option<&SledStore> {
        match self.store.as_ref() {
            Some(Open::Sled(s)) => Some(s),
            _ => None,
        }
    }

    /// The data directory, for a sled store.
    pub fn sled_data(&self) -> Option<PathBuf> {
        match &self.kind {
            Kind::Sled(dir) => Some(data(dir)),
            Kind::Postgres(_) => None,
        }
    }

    /// How many blobs the backend keeps (staged or referenced).
    pub fn blob_count(&self) -> usize {
        match &self.kind {
            Kind::Sled(dir) => files_under(&data(dir).join("blobs")).len(),
            Kind::Postgres(db) => db.count("SELECT count(*) FROM blobs") as usize,
        }
    }

    /// Whether the backend keeps blob `id`.
    pub fn has_blob(&self, id: &BlobId) -> bool {
        match &self.kind {
            Kind::Sled(dir) => blob_path(&data(dir), id).exists(),
            Kind::Postgres(db) => {
                db.count(&format!(
                    "SELECT count(*) FROM blobs WHERE id = '{}'",
                    id.as_str()
                )) > 0
            }
        }
    }

    /// Partial writes left behind (temporary files; for PostgreSQL, chunks
    /// of blobs that were never finished).
    pub fn leftovers(&self) -> usize {
        match &self.kind {
            Kind::Sled(dir) => files_under(&data(dir).join("tmp")).len(),
            Kind::Postgres(db) => {
                db.count("SELECT count(*) FROM blobs WHERE NOT complete") as usize
            }
        }
    }
}
pub const RECIPIENT: &str = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq";

/// A fresh sled store in a temporary directory (kept alive by the returned
/// guard), for the tests of what only the file backend does.
pub fn fresh() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::create_or_open(&data(&dir)).unwrap();
    (dir, store)
}

/// The data directory inside a test's temporary directory.
pub fn data(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("wbs-data")
}

/// Creates `path` as an operator would for the server: mode 0700.
pub fn private_dir(path: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path).unwrap();
    set_mode(path, 0o700);
}

/// The permission bits of `path` (not following a symbolic link).
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Stages a blob holding `bytes`.
pub fn stage(store: &(impl AsStore + ?Sized), bytes: &[u8]) -> StagedBlob {
    let mut sink = store.as_store().blob_sink().unwrap();
    sink.write_all(bytes).unwrap();
    sink.finish().unwrap()
}

/// A lookup hash that differs per `n`.
pub fn lookup(n: u32) -> [u8; 32] {
    let mut h = [0x5au8; 32];
    h[..4].copy_from_slice(&n.to_be_bytes());
    h
}

/// Creates a case with a report and `attachments` attachments.
pub fn new_case(
    store: &(impl AsStore + ?Sized),
    n: u32,
    attachments: usize,
) -> wbs_store::CaseRecord {
    let store = store.as_store();
    let report = stage(store, format!("report {n}").as_bytes());
    let atts = (0..attachments)
        .map(|i| stage(store, format!("attachment {n}/{i}").as_bytes()))
        .collect();
    store
        .create_case(lookup(n), RECIPIENT, DAY, report, atts)
        .unwrap()
}

/// The whole content of a blob.
pub fn read_blob(store: &(impl AsStore + ?Sized), id: &BlobId) -> Vec<u8> {
    let store = store.as_store();
    let mut out = Vec::new();
    store.open_blob(id).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Where a blob's file lives.
pub fn blob_path(data: &Path, id: &str) -> PathBuf {
    data.join("blobs").join(&id[..2]).join(id)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
