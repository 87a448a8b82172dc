//! Snapshots: one consistent copy of every record while writers commit,
//! and the blobs they reference readable for as long as they live.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::backend;
use crate::common::*;
use wbs_store::Store;

#[test]
fn a_snapshot_is_consistent_while_writers_commit() {
    let store = Arc::new(backend());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3u32)
        .map(|w| {
            let store = store.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                // On PostgreSQL, each writer is an instance of its own.
                let own = store.another_instance();
                let s: &dyn Store = match &own {
                    Some(own) => &**own,
                    None => &**store,
                };
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) && n < 2000 {
                    let c = new_case(s, w * 10_000 + n, 2);
                    let m = stage(s, b"more");
                    s.add_followup(&c.id, m, vec![], LATER).unwrap();
                    s.audit("siti", "list_cases", "").unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Snapshot over and over while the writers commit, until the store has
    // grown to 100 cases (bounded: the writers stop at 6000).
    let started = std::time::Instant::now();
    let mut snapshots = 0;
    let mut largest = 0;
    while largest < 100 || snapshots < 50 {
        let snap = store.snapshot().unwrap();
        snap.records.check().unwrap_or_else(|e| {
            panic!("snapshot {snapshots} is inconsistent: {e}");
        });
        largest = largest.max(snap.records.cases.len());
        snapshots += 1;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the writers made only {largest} cases in two minutes"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let made: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(made as usize >= largest);
    store.snapshot().unwrap().records.check().unwrap();
}

#[test]
fn a_snapshot_reads_the_blobs_of_a_case_deleted_after_it() {
    let store = backend();
    let case = new_case(&store, 1, 1);
    let snap = store.snapshot().unwrap();
    store.delete_case(&case.id).unwrap();
    assert_eq!(store.case(&case.id).unwrap(), None);
    for o in &snap.records.objects {
        let mut bytes = Vec::new();
        snap.open_blob(&o.blob)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len() as u64, o.size, "blob {} went too early", o.blob);
    }
    drop(snap);
    // Once the snapshot is gone, so are the blobs.
    assert_eq!(store.blob_count(), 0);
}
