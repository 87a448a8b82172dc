//! The data directory is the server user's alone: mode 0700, every file in
//! it 0600 and every directory 0700, whatever the umask sled created its
//! files with; a directory other users can enter is refused with a message
//! that says what to run.

mod common;

use std::path::Path;

use common::*;
use wbs_store::{MetaStore, SledStore, StoreError};

/// Every path under `root` (itself included) whose mode is not 0700 for a
/// directory or 0600 for anything else.
fn not_private(root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode_of(&p) != want {
            bad.push(format!("{} is {:04o}", p.display(), mode_of(&p)));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    bad
}

fn expect_not_private(result: Result<SledStore, StoreError>, dir: &Path) {
    match result {
        Err(StoreError::NotPrivate(msg)) => {
            assert!(
                msg.contains(&format!("chmod 700 {}", dir.display())),
                "{msg}"
            );
        }
        Err(other) => panic!("expected NotPrivate, got {other:?}"),
        Ok(_) => panic!("a data directory open to others was accepted"),
    }
}

#[test]
fn a_new_store_and_everything_in_it_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 2);
        store.add_token(&tn("siti"), [1; 32], None).unwrap();
        store.flush().unwrap();
    }
    // sled created its files with this process's umask (0644 under 022).
    assert_eq!(not_private(&data), Vec::<String>::new());

    // Whatever loosened them (sled under umask 000, a careless copy) is
    // tightened at the next open, without refusing: only the directory
    // itself is the operator's to fix.
    for p in files_under(&data) {
        set_mode(&p, 0o666);
    }
    set_mode(&data.join("db"), 0o777);
    set_mode(&data.join("blobs"), 0o755);
    drop(SledStore::open(&data).unwrap());
    assert_eq!(not_private(&data), Vec::<String>::new());
}

#[test]
fn a_data_directory_other_users_can_enter_is_refused() {
    for mode in [0o755, 0o750, 0o711, 0o701, 0o770] {
        let dir = tempfile::tempdir().unwrap();
        let data = data(&dir);
        private_dir(&data);
        set_mode(&data, mode);
        expect_not_private(SledStore::create_or_open(&data), &data);
        expect_not_private(SledStore::open(&data), &data);
        assert_eq!(files_under(&data), Vec::<std::path::PathBuf>::new());
        assert_eq!(mode_of(&data), mode, "the store changed the mode itself");
        // Fixed as the message says, it opens.
        set_mode(&data, 0o700);
        drop(SledStore::create_or_open(&data).unwrap());
    }
}

#[test]
fn an_existing_store_opened_up_to_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 0);
    }
    set_mode(&data, 0o755);
    expect_not_private(SledStore::open(&data), &data);
    expect_not_private(SledStore::create_or_open(&data), &data);
    set_mode(&data, 0o700);
    let store = SledStore::open(&data).unwrap();
    assert_eq!(store.all_cases().unwrap().len(), 1);
}

#[test]
fn a_restore_into_a_directory_open_to_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let records = {
        let store = SledStore::create_or_open(&data(&dir)).unwrap();
        new_case(&store, 1, 1);
        store.snapshot().unwrap().records.clone()
    };
    let target = dir.path().join("restored");
    private_dir(&target);
    set_mode(&target, 0o755);
    match SledStore::restore(&target, records.clone()) {
        Err(StoreError::NotPrivate(msg)) => assert!(msg.contains("chmod 700"), "{msg}"),
        other => panic!("expected NotPrivate, got {other:?}"),
    }
    assert_eq!(files_under(&target), Vec::<std::path::PathBuf>::new());
    // A restore into a new directory makes it private.
    let fresh = dir.path().join("fresh");
    let mut restore = SledStore::restore(&fresh, records).unwrap();
    for id in restore.missing_blobs() {
        let mut f = std::fs::File::open(blob_path(&data(&dir), &id)).unwrap();
        restore.write_blob(&id, &mut f).unwrap();
    }
    drop(restore.finish().unwrap());
    assert_eq!(not_private(&fresh), Vec::<String>::new());
}
