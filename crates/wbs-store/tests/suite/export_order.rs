//! The export cursor: every object gets a sequence number in commit order,
//! so an export at cursor X never misses an object with seq ≤ X.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::*;
use wbs_protocol::Status;
use wbs_store::{ImportItem, ObjectKind, SledStore, Store, StoreError};

#[test]
fn every_kind_of_object_gets_the_next_seq() {
    let (_dir, store) = fresh();
    assert_eq!(store.cursor().unwrap(), 0);
    let case = new_case(&store, 1, 1);
    let m = stage(&store, b"follow-up");
    let a = stage(&store, b"its attachment");
    store.add_followup(&case.id, m, vec![a], LATER).unwrap();
    let reply = stage(&store, b"reply");
    store
        .apply_import(
            vec![ImportItem {
                item_id: "item-1".into(),
                case_id: case.id.clone(),
                status: None,
                reply: Some(("reply-1".into(), reply)),
            }],
            LATER,
        )
        .unwrap();

    let all = store.objects_since(0).unwrap();
    let seqs: Vec<u64> = all.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let kinds: Vec<_> = all.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            ObjectKind::Report,
            ObjectKind::Attachment { index: 1 },
            ObjectKind::Followup { n: 1 },
            ObjectKind::FollowupAttachment { n: 1, index: 1 },
            ObjectKind::Reply { n: 1 },
        ]
    );
    assert_eq!(store.cursor().unwrap(), 5);
    let tail: Vec<u64> = store
        .objects_since(3)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(tail, [4, 5]);
    assert!(store.objects_since(5).unwrap().is_empty());
    assert!(store.objects_since(u64::MAX).unwrap().is_empty());
    assert_eq!(store.case(&case.id).unwrap().unwrap().last_seq, 5);
}

#[test]
fn the_counter_survives_reopening_and_deletion_never_reuses_a_number() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::create_or_open(&data(&dir)).unwrap();
        let case = new_case(&store, 1, 2);
        store.delete_case(&case.id).unwrap();
        assert_eq!(store.cursor().unwrap(), 3);
    }
    let store = SledStore::open(&data(&dir)).unwrap();
    assert_eq!(store.cursor().unwrap(), 3);
    let case = new_case(&store, 2, 0);
    assert_eq!(case.first_seq, 4);
    let seqs: Vec<u64> = store
        .objects_since(0)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(seqs, [4]);
}

/// Writers add cases and follow-ups from several threads while an exporter
/// keeps pulling `objects_since(cursor)` and moving its cursor to the last
/// seq it saw. If seq order could differ from commit order, the exporter
/// would sooner or later see a gap (seq X+2 committed before X+1) and skip
/// X+1 for good.
#[test]
fn a_concurrent_exporter_never_sees_a_gap_behind_its_cursor() {
    let (_dir, store) = fresh();
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    const WRITERS: u32 = 4;
    const CASES_EACH: u32 = 25;

    let exporter = {
        let (store, done) = (store.clone(), done.clone());
        thread::spawn(move || {
            let mut cursor = 0u64;
            let mut seen = 0usize;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.objects_since(cursor).unwrap();
                for (i, o) in batch.iter().enumerate() {
                    assert_eq!(o.seq, cursor + 1 + i as u64, "gap after cursor {cursor}");
                }
                if let Some(last) = batch.last() {
                    cursor = last.seq;
                }
                seen += batch.len();
                if finished {
                    return (cursor, seen);
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            thread::spawn(move || {
                for i in 0..CASES_EACH {
                    let n = w * 1000 + i;
                    let case = new_case(&*store, n, (i % 3) as usize);
                    let m = stage(&*store, b"follow-up");
                    store.add_followup(&case.id, m, vec![], LATER).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (cursor, seen) = exporter.join().unwrap();

    let total = store.objects_since(0).unwrap().len();
    assert_eq!(cursor, store.cursor().unwrap());
    assert_eq!(cursor as usize, total);
    assert_eq!(seen, total);
    assert_eq!(
        store.list_cases().unwrap().len(),
        (WRITERS * CASES_EACH) as usize
    );
}

/// Many submissions race for one receipt code: exactly one gets the case,
/// the others get `LookupExists` and their blobs are gone.
#[test]
fn racing_submissions_with_one_lookup_have_exactly_one_winner() {
    let (dir, store) = fresh();
    let store = Arc::new(store);
    const RACERS: usize = 8;
    let barrier = Arc::new(Barrier::new(RACERS));
    let results: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            thread::spawn(move || {
                let report = stage(&*store, format!("report {i}").as_bytes());
                barrier.wait();
                store.create_case(lookup(42), RECIPIENT, DAY, report, vec![])
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();

    let winners = results.iter().filter(|r| r.is_ok()).count();
    let losers = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::LookupExists)))
        .count();
    assert_eq!((winners, losers), (1, RACERS - 1));
    assert_eq!(store.list_cases().unwrap().len(), 1);
    assert_eq!(store.cursor().unwrap(), 1);
    assert_eq!(files_under(&data(&dir).join("blobs")).len(), 1);
}

#[test]
fn status_changes_do_not_consume_sequence_numbers() {
    let (_dir, store) = fresh();
    let case = new_case(&store, 1, 0);
    store.set_status(&case.id, Status::InReview, LATER).unwrap();
    assert_eq!(store.cursor().unwrap(), 1);
    let next = new_case(&store, 2, 0);
    assert_eq!(next.first_seq, 2);
}
