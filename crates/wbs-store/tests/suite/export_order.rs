//! The export cursor: every object gets a sequence number in commit order,
//! so an export at cursor X never misses an object with seq ≤ X.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use crate::backend;
use crate::common::*;
use wbs_protocol::Status;
use wbs_store::{ImportItem, ObjectKind, Store, StoreError};

#[test]
fn every_kind_of_object_gets_the_next_seq() {
    let store = backend();
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

    let all = store.all_objects_since(0).unwrap();
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
        .all_objects_since(3)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(tail, [4, 5]);
    assert!(store.all_objects_since(5).unwrap().is_empty());
    assert!(store.all_objects_since(u64::MAX).unwrap().is_empty());
    assert_eq!(store.case(&case.id).unwrap().unwrap().last_seq, 5);
}

#[test]
fn the_counter_survives_reopening_and_deletion_never_reuses_a_number() {
    let mut store = backend();
    let case = new_case(&store, 1, 2);
    store.delete_case(&case.id).unwrap();
    assert_eq!(store.cursor().unwrap(), 3);
    store.reopen();
    assert_eq!(store.cursor().unwrap(), 3);
    let case = new_case(&store, 2, 0);
    assert_eq!(case.first_seq, 4);
    let seqs: Vec<u64> = store
        .all_objects_since(0)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(seqs, [4]);
}

/// Writers add cases, follow-ups and replies from several threads (on
/// PostgreSQL each through a store handle of its own, as separate server
/// instances would, so through separate connections) while an exporter
/// keeps pulling pages of `objects_since(cursor)` and moving its cursor to
/// the last seq it saw. If seq order could differ from commit order, the
/// exporter would sooner or later see a gap (seq X+2 committed before X+1)
/// and skip X+1 for good. Every committed object must reach the exporter
/// exactly once.
#[test]
fn a_concurrent_exporter_gets_every_committed_object_exactly_once() {
    let store = Arc::new(backend());
    let done = Arc::new(AtomicBool::new(false));
    const WRITERS: u32 = 4;
    const CASES_EACH: u32 = 25;

    let exporter = {
        let (store, done) = (store.clone(), done.clone());
        thread::spawn(move || {
            let mut cursor = 0u64;
            let mut got: Vec<(u64, wbs_store::BlobId)> = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                // Small pages, so paging is part of what is raced.
                let batch = store.objects_since(cursor, 7).unwrap();
                for (i, o) in batch.iter().enumerate() {
                    assert_eq!(o.seq, cursor + 1 + i as u64, "gap after cursor {cursor}");
                }
                if let Some(last) = batch.last() {
                    cursor = last.seq;
                }
                got.extend(batch.into_iter().map(|o| (o.seq, o.blob)));
                if finished && cursor == store.cursor().unwrap() {
                    return (cursor, got);
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            let own = store.another_instance();
            thread::spawn(move || {
                let s: &dyn Store = match &own {
                    Some(own) => &**own,
                    None => &**store,
                };
                let mut committed = Vec::new();
                for i in 0..CASES_EACH {
                    let n = w * 1000 + i;
                    let case = new_case(s, n, (i % 3) as usize);
                    let m = stage(s, b"follow-up");
                    s.add_followup(&case.id, m, vec![], LATER).unwrap();
                    if i % 5 == 0 {
                        let reply = ImportItem {
                            item_id: format!("item-{n}"),
                            case_id: case.id.clone(),
                            status: None,
                            reply: Some((format!("r-{n}"), stage(s, b"reply"))),
                        };
                        s.apply_import(vec![reply], LATER).unwrap();
                    }
                    committed.extend(
                        s.objects_of_case(&case.id)
                            .unwrap()
                            .into_iter()
                            .map(|o| o.blob),
                    );
                }
                committed
            })
        })
        .collect();
    let mut committed = Vec::new();
    for w in writers {
        committed.extend(w.join().unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let (cursor, got) = exporter.join().unwrap();

    let total = store.all_objects_since(0).unwrap().len();
    assert_eq!(cursor, store.cursor().unwrap());
    assert_eq!(cursor as usize, total);
    assert_eq!(got.len(), total, "an object came twice or not at all");
    let mut got_blobs: Vec<_> = got.into_iter().map(|(_, b)| b).collect();
    got_blobs.sort();
    committed.sort();
    assert_eq!(
        got_blobs, committed,
        "not every committed object, exactly once"
    );
    assert_eq!(
        store.all_cases().unwrap().len(),
        (WRITERS * CASES_EACH) as usize
    );
}

/// Many submissions race for one receipt code: exactly one gets the case,
/// the others get `LookupExists` and their blobs are gone.
#[test]
fn racing_submissions_with_one_lookup_have_exactly_one_winner() {
    let store = backend();
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
    assert_eq!(store.all_cases().unwrap().len(), 1);
    assert_eq!(store.cursor().unwrap(), 1);
    assert_eq!(store.blob_count(), 1);
}

#[test]
fn status_changes_do_not_consume_sequence_numbers() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    store.set_status(&case.id, Status::InReview, LATER).unwrap();
    assert_eq!(store.cursor().unwrap(), 1);
    let next = new_case(&store, 2, 0);
    assert_eq!(next.first_seq, 2);
}
