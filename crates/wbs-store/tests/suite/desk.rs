//! Investigator tokens, the audit log and spent proof-of-work ids.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::*;
use wbs_store::{SledStore, Store, StoreError};

fn is_date(s: &str) -> bool {
    wbs_protocol::date::unix_days_from_date(s).is_some()
}

#[test]
fn tokens_are_found_by_hash_listed_by_name_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::create_or_open(&data(&dir)).unwrap();
        store.add_token("siti", [1; 32]).unwrap();
        store.add_token("budi", [2; 32]).unwrap();
        assert_eq!(store.token_name(&[1; 32]).unwrap().as_deref(), Some("siti"));
        assert_eq!(store.token_name(&[3; 32]).unwrap(), None);
    }
    let store = SledStore::open(&data(&dir)).unwrap();
    let listed = store.list_tokens().unwrap();
    let names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["budi", "siti"]);
    assert!(listed.iter().all(|t| is_date(&t.created_on)));
    assert_eq!(store.token_name(&[2; 32]).unwrap().as_deref(), Some("budi"));

    store.revoke_token("siti").unwrap();
    assert_eq!(store.token_name(&[1; 32]).unwrap(), None);
    assert!(matches!(
        store.revoke_token("siti"),
        Err(StoreError::NotFound)
    ));
    // The name is free again, for a new secret.
    store.add_token("siti", [4; 32]).unwrap();
    assert_eq!(store.token_name(&[4; 32]).unwrap().as_deref(), Some("siti"));
}

#[test]
fn a_taken_name_a_known_hash_or_a_bad_name_is_invalid() {
    let (_dir, store) = fresh();
    store.add_token("siti", [1; 32]).unwrap();
    for (name, hash) in [
        ("siti", [9; 32]),
        ("other", [1; 32]),
        ("", [8; 32]),
        (" x", [7; 32]),
    ] {
        let err = store.add_token(name, hash).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{name:?}: {err:?}");
    }
    assert_eq!(store.list_tokens().unwrap().len(), 1);
    assert_eq!(store.token_name(&[9; 32]).unwrap(), None);
}

#[test]
fn the_audit_log_keeps_dated_entries_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::create_or_open(&data(&dir)).unwrap();
        store.audit("siti", "export", "since 0, 3 cases").unwrap();
        store.audit("operator", "token_add", "budi").unwrap();
    }
    let store = SledStore::open(&data(&dir)).unwrap();
    store.audit("budi", "import", "2 applied").unwrap();
    let log = store.audit_log().unwrap();
    let lines: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.seq,
                e.actor.as_str(),
                e.action.as_str(),
                e.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1, "siti", "export", "since 0, 3 cases"),
            (2, "operator", "token_add", "budi"),
            (3, "budi", "import", "2 applied"),
        ]
    );
    for e in &log {
        assert!(is_date(&e.on), "{:?} is not a bare date", e.on);
    }
}

#[test]
fn a_challenge_id_is_spent_once_until_it_expires() {
    let (_dir, store) = fresh();
    let id = [7u8; 16];
    assert!(store.spend_pow(id, 1_000, 500).unwrap());
    assert!(!store.spend_pow(id, 1_000, 500).unwrap());
    assert!(!store.spend_pow(id, 1_000, 999).unwrap());
    // Already expired: refused, and not remembered.
    assert!(!store.spend_pow([8; 16], 500, 500).unwrap());
    assert_eq!(store.pow_ids_remembered(), 1);
}

#[test]
fn expired_challenge_ids_are_pruned() {
    let (_dir, store) = fresh();
    for i in 0..50u8 {
        assert!(store.spend_pow([i; 16], 100 + u64::from(i), 10).unwrap());
    }
    assert_eq!(store.pow_ids_remembered(), 50);
    // At time 125, ids expiring at 100..=125 are gone.
    assert!(store.spend_pow([200; 16], 1_000, 125).unwrap());
    assert_eq!(store.pow_ids_remembered(), 50 - 26 + 1);
    // One that has not expired yet is still refused.
    assert!(!store.spend_pow([30; 16], 130, 125).unwrap());
}

#[test]
fn racing_spends_of_one_challenge_have_exactly_one_winner() {
    let (_dir, store) = fresh();
    let store = Arc::new(store);
    let barrier = Arc::new(Barrier::new(8));
    let wins = (0..8)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                store.spend_pow([3; 16], 1_000, 1).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&won| won)
        .count();
    assert_eq!(wins, 1);
}
