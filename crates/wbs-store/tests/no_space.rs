//! A full disk: `NoSpace`, nothing left behind, and the store keeps working.
//!
//! Needs a small file system to fill. The test runs itself again inside a
//! private mount namespace (`unshare`) with a 4 MiB tmpfs over its data
//! directory, so nothing outside the test is touched; where that is not
//! possible (not Linux, not root) it says so and passes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;
use wbs_store::{BlobStore, MetaStore, SledStore, StoreError};

const CHILD_ENV: &str = "WBS_STORE_NO_SPACE_CHILD_DIR";
const TEST_NAME: &str = "a_full_disk_is_no_space_and_leaves_nothing_behind";
/// Exit code of the wrapper shell when it cannot mount the tmpfs.
const CANNOT_MOUNT: i32 = 77;

fn child(dir: &Path) {
    let data = dir.join("wbs-data");
    let store = SledStore::create_or_open(&data).unwrap();
    let before = new_case(&store, 1, 0);

    // A blob larger than the whole file system.
    let mut sink = store.blob_sink().unwrap();
    let chunk = vec![0x42u8; 64 * 1024];
    let err = loop {
        if let Err(e) = sink.write_all(&chunk) {
            break e;
        }
        assert!(sink.size() < 64 << 20, "the tmpfs never filled up");
    };
    assert!(matches!(StoreError::from(err), StoreError::NoSpace));
    drop(sink);
    assert!(
        files_under(&data.join("tmp")).is_empty(),
        "partial blob left in tmp/"
    );

    // The space is free again: the store goes on working.
    let after = new_case(&store, 2, 1);
    assert_eq!(
        store.all_cases().unwrap(),
        vec![before.clone(), after.clone()]
    );

    // Now the metadata does not fit: the blobs are staged, then something
    // else fills the disk before the case is committed.
    let report = stage(&store, b"report");
    let filler = dir.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 512]).is_ok() {}
    }
    let err = store
        .create_case(lookup(3), RECIPIENT, DAY, report, vec![])
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSpace), "{err:?}");
    std::fs::remove_file(&filler).unwrap();

    // sled cannot go on after that; the store says so instead of pretending.
    assert!(matches!(store.health(), Err(StoreError::NoSpace)));
    let report = stage(&store, b"report again");
    let staged_id = report.id.clone();
    let err = store
        .create_case(lookup(4), RECIPIENT, DAY, report, vec![])
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSpace), "{err:?}");
    assert!(
        !blob_path(&data, &staged_id).exists(),
        "refused blob left behind"
    );
    drop(store);

    // After a restart: exactly what was acknowledged, and a working store.
    let store = SledStore::open(&data).unwrap();
    store.health().unwrap();
    assert_eq!(store.all_cases().unwrap(), vec![before, after]);
    assert_eq!(store.case_by_lookup(&lookup(3)).unwrap(), None);
    assert!(store.missing_blobs().is_empty());
    new_case(&store, 3, 0);
}

#[test]
fn a_full_disk_is_no_space_and_leaves_nothing_behind() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: needs Linux mount namespaces");
        return;
    }
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        eprintln!("skipped: cannot create a mount namespace here (needs root and unshare)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=4m wbs-store-test \"$0\" || exit {CANNOT_MOUNT}; exec \"$@\""
    );
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(dir.path())
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .status();
    match status {
        Ok(s) if s.code() == Some(CANNOT_MOUNT) => {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)")
        }
        Err(e) => eprintln!("skipped: cannot run unshare: {e}"),
        Ok(s) => assert!(s.success(), "the test inside the namespace failed: {s:?}"),
    }
}
