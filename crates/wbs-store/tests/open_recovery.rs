//! Opening a data directory: the marker, damage detection, and the sweep of
//! crash leftovers.

mod common;

use std::fs;
use std::io::Write;

use common::*;
use wbs_store::{BlobStore, MetaStore, SledStore, StoreError, MARKER_FILE};

fn expect_corrupt(result: Result<SledStore, StoreError>) -> String {
    match result {
        Err(StoreError::Corrupt(msg)) => msg,
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("expected Corrupt, got a store"),
    }
}

#[test]
fn first_start_creates_the_layout_and_marker_and_open_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    drop(SledStore::create_or_open(&data).unwrap());
    for part in ["db", "blobs", "tmp"] {
        assert!(data.join(part).is_dir(), "{part} missing");
    }
    let marker: serde_json::Value =
        serde_json::from_slice(&fs::read(data.join(MARKER_FILE)).unwrap()).unwrap();
    assert_eq!(marker["format"], "wbs-store");
    assert_eq!(marker["version"], wbs_store::FORMAT_VERSION);
    SledStore::open(&data).unwrap();
    SledStore::create_or_open(&data).unwrap();
}

#[test]
fn open_without_a_store_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    assert!(matches!(
        SledStore::open(&data),
        Err(StoreError::Invalid(_))
    ));
    private_dir(&data);
    assert!(matches!(
        SledStore::open(&data),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(fs::read_dir(&data).unwrap().count(), 0);
}

#[test]
fn a_lost_database_is_corrupt_and_never_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 0);
    }
    fs::remove_dir_all(data.join("db")).unwrap();
    let msg = expect_corrupt(SledStore::create_or_open(&data));
    assert!(msg.contains("missing"), "{msg}");
    expect_corrupt(SledStore::open(&data));
    assert!(!data.join("db").exists(), "an empty database was created");
}

#[test]
fn a_database_emptied_behind_the_stores_back_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 0);
    }
    // Someone "fixed" a broken database by creating a new, empty one.
    fs::remove_dir_all(data.join("db")).unwrap();
    drop(sled::open(data.join("db")).unwrap());
    let msg = expect_corrupt(SledStore::open(&data));
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn a_garbled_database_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 0);
    }
    let db_file = data.join("db").join("db");
    let len = fs::metadata(&db_file).unwrap().len() as usize;
    fs::write(&db_file, vec![0xa5u8; len.max(4096)]).unwrap();
    // sled "recovers" an unreadable log as an empty database; the store must
    // see through that.
    expect_corrupt(SledStore::open(&data));
}

#[test]
fn blob_files_without_a_marker_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        new_case(&store, 1, 0);
    }
    fs::remove_file(data.join(MARKER_FILE)).unwrap();
    let msg = expect_corrupt(SledStore::create_or_open(&data));
    assert!(msg.contains(MARKER_FILE), "{msg}");
    expect_corrupt(SledStore::open(&data));
    // Still corrupt with the database gone too: the blobs alone say a store
    // lived here.
    fs::remove_dir_all(data.join("db")).unwrap();
    expect_corrupt(SledStore::create_or_open(&data));
}

#[test]
fn a_database_with_records_but_no_marker_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    {
        let store = SledStore::create_or_open(&data).unwrap();
        store.add_token(&tn("siti"), [1; 32], None).unwrap();
    }
    fs::remove_file(data.join(MARKER_FILE)).unwrap();
    expect_corrupt(SledStore::create_or_open(&data));
}

#[test]
fn a_first_start_interrupted_before_the_marker_is_completed() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    private_dir(&data);
    // The database was created, then the process died.
    drop(sled::open(data.join("db")).unwrap());
    let store = SledStore::create_or_open(&data).unwrap();
    assert!(data.join(MARKER_FILE).is_file());
    new_case(&store, 1, 0);
}

#[test]
fn a_marker_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    drop(SledStore::create_or_open(&data).unwrap());
    fs::write(
        data.join(MARKER_FILE),
        br#"{"format":"wbs-store","version":2}"#,
    )
    .unwrap();
    assert!(matches!(
        SledStore::open(&data),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn crash_leftovers_are_removed_at_open_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    let (case, orphan) = {
        let store = SledStore::create_or_open(&data).unwrap();
        let case = new_case(&store, 1, 1);
        // Staged, but the process "died" before the metadata was committed.
        let orphan = stage(&store, b"never committed");
        // Half written, never finished: the sink's file is kept by forgetting
        // the sink (as a crash would), not by dropping it.
        let mut sink = store.blob_sink().unwrap();
        sink.write_all(b"half").unwrap();
        std::mem::forget(sink);
        (case, orphan)
    };
    assert!(blob_path(&data, &orphan.id).exists());
    assert_eq!(fs::read_dir(data.join("tmp")).unwrap().count(), 1);

    let store = SledStore::open(&data).unwrap();
    assert_eq!(store.recovered_leftovers(), 2);
    assert!(!blob_path(&data, &orphan.id).exists());
    assert_eq!(fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    for o in store.objects_of_case(&case.id).unwrap() {
        assert_eq!(read_blob(&store, &o.blob).len() as u64, o.size);
    }
    assert!(store.missing_blobs().is_empty());
}

#[test]
fn a_missing_blob_file_is_reported_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    let lost = {
        let store = SledStore::create_or_open(&data).unwrap();
        let case = new_case(&store, 1, 1);
        store.objects_of_case(&case.id).unwrap()[1].blob.clone()
    };
    fs::remove_file(blob_path(&data, &lost)).unwrap();
    let store = SledStore::open(&data).unwrap();
    assert_eq!(store.missing_blobs(), [lost]);
}

#[test]
fn a_second_opener_of_a_live_store_fails_before_touching_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    let live = SledStore::create_or_open(&data).unwrap();
    let staged = stage(&live, b"about to be committed");
    let mut sink = live.blob_sink().unwrap();
    sink.write_all(b"being written").unwrap();

    match SledStore::open(&data) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("in use"), "{msg}"),
        other => panic!("expected a lock error, got {other:?}"),
    }
    assert!(SledStore::create_or_open(&data).is_err());
    // Neither the staged blob nor the file being written was swept.
    assert!(blob_path(&data, &staged.id).exists());
    assert_eq!(fs::read_dir(data.join("tmp")).unwrap().count(), 1);
    live.create_case(lookup(1), RECIPIENT, DAY, staged, vec![])
        .unwrap();
    let staged = sink.finish().unwrap();
    live.discard_blob(staged).unwrap();
}
