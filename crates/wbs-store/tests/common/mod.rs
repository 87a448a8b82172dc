//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wbs_store::{SledStore, StagedBlob, Store};

pub const DAY: &str = "2024-05-01";
pub const LATER: &str = "2024-05-09";
pub const RECIPIENT: &str = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq";

/// A fresh store in a temporary directory (kept alive by the returned guard).
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
pub fn stage(store: &dyn Store, bytes: &[u8]) -> StagedBlob {
    let mut sink = store.blob_sink().unwrap();
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
pub fn new_case(store: &dyn Store, n: u32, attachments: usize) -> wbs_store::CaseRecord {
    let report = stage(store, format!("report {n}").as_bytes());
    let atts = (0..attachments)
        .map(|i| stage(store, format!("attachment {n}/{i}").as_bytes()))
        .collect();
    store
        .create_case(lookup(n), RECIPIENT, DAY, report, atts)
        .unwrap()
}

/// The whole content of a blob.
pub fn read_blob(store: &dyn Store, id: &str) -> Vec<u8> {
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
