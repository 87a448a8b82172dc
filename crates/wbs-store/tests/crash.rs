//! What a call acknowledged is on disk: a process that dies right after the
//! call returns (no destructors, no background flush) loses none of it.
//!
//! The test runs itself again as a child process that does the work and then
//! aborts; the parent reopens the data directory and checks.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;
use wbs_protocol::Status;
use wbs_store::{BlobStore, ImportItem, MetaStore, SledStore};

const CHILD_ENV: &str = "WBS_STORE_CRASH_CHILD_DATA";
const TEST_NAME: &str = "acknowledged_writes_survive_an_abort_right_after_the_call";

fn child(data: &Path) -> ! {
    let store = SledStore::create_or_open(data).unwrap();
    let case = new_case(&store, 1, 1);
    let m = stage(&store, b"follow-up");
    store.add_followup(&case.id, m, vec![], LATER).unwrap();
    store.set_status(&case.id, Status::InReview, LATER).unwrap();
    let reply = stage(&store, b"reply");
    let item = ImportItem {
        item_id: "item".into(),
        case_id: case.id.clone(),
        status: Some(Status::NeedInfo),
        reply: Some(("r1".into(), reply)),
    };
    store.apply_import(vec![item], LATER).unwrap();
    store.add_token(&tn("siti"), [1; 32], None).unwrap();
    store.audit("siti", "export", "since 0").unwrap();
    assert!(store.spend_pow([9; 16], u64::MAX, 1).unwrap());
    // Crash leftovers: a staged blob nobody committed, a half-written one.
    std::mem::forget(stage(&store, b"orphan"));
    let mut sink = store.blob_sink().unwrap();
    sink.write_all(b"half").unwrap();
    std::mem::forget(sink);
    std::process::abort();
}

#[test]
fn acknowledged_writes_survive_an_abort_right_after_the_call() {
    if let Some(data) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&data));
    }
    let dir = tempfile::tempdir().unwrap();
    let data = data(&dir);
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--test-threads=1"])
        .env(CHILD_ENV, &data)
        .status()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(6),
            "the child did not get to abort: {status:?}"
        );
    }
    #[cfg(not(unix))]
    assert!(!status.success());

    let store = SledStore::open(&data).unwrap();
    assert_eq!(store.recovered_leftovers(), 2);
    let case = store
        .case_by_lookup(&lookup(1))
        .unwrap()
        .expect("the case was lost");
    assert_eq!((case.followups, case.replies.len()), (1, 1));
    assert_eq!(case.status, Status::NeedInfo);
    assert_eq!(case.history.len(), 3);
    assert_eq!(store.cursor().unwrap(), 4);
    for o in store.all_objects_since(0).unwrap() {
        assert_eq!(read_blob(&store, &o.blob).len() as u64, o.size);
    }
    assert_eq!(store.token_name(&[1; 32]).unwrap().as_deref(), Some("siti"));
    assert_eq!(store.all_audit().unwrap().len(), 1);
    assert!(
        !store.spend_pow([9; 16], u64::MAX, 1).unwrap(),
        "a spent challenge came back"
    );
}
