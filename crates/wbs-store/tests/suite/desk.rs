//! Investigator tokens, the audit log and spent proof-of-work ids.

use std::sync::{Arc, Barrier};
use std::thread;

use crate::backend;
use crate::common::*;
use wbs_store::{Day, StoreError, TokenName};

/// Today or yesterday (a test may run across midnight).
fn is_today(d: &Day) -> bool {
    let today = Day::today();
    *d == today || *d == today.plus_days(-1)
}

#[test]
fn tokens_are_found_by_hash_listed_by_name_and_revoked() {
    let mut store = backend();
    store.add_token(&tn("siti"), [1; 32], None).unwrap();
    store.add_token(&tn("budi"), [2; 32], None).unwrap();
    assert_eq!(store.token_name(&[1; 32]).unwrap(), Some(tn("siti")));
    assert_eq!(store.token_name(&[3; 32]).unwrap(), None);
    store.reopen();
    let listed = store.list_tokens().unwrap();
    let names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["budi", "siti"]);
    assert!(listed.iter().all(|t| is_today(&t.created_on)));
    assert_eq!(store.token_name(&[2; 32]).unwrap(), Some(tn("budi")));

    store.revoke_token(&tn("siti")).unwrap();
    assert_eq!(store.token_name(&[1; 32]).unwrap(), None);
    assert!(matches!(
        store.revoke_token(&tn("siti")),
        Err(StoreError::NotFound)
    ));
    // The name is free again, for a new secret.
    store.add_token(&tn("siti"), [4; 32], None).unwrap();
    assert_eq!(store.token_name(&[4; 32]).unwrap(), Some(tn("siti")));
}

#[test]
fn a_taken_name_a_known_hash_or_a_bad_name_is_invalid() {
    let store = backend();
    store.add_token(&tn("siti"), [1; 32], None).unwrap();
    for (name, hash) in [("siti", [9; 32]), ("other", [1; 32])] {
        let err = store.add_token(&tn(name), hash, None).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{name:?}: {err:?}");
    }
    // A name outside the one rule cannot even be made.
    for bad in ["", " x", "with space"] {
        assert!(matches!(TokenName::parse(bad), Err(StoreError::Invalid(_))));
    }
    assert_eq!(store.list_tokens().unwrap().len(), 1);
    assert_eq!(store.token_name(&[9; 32]).unwrap(), None);
}

#[test]
fn the_audit_log_keeps_dated_entries_in_order() {
    let mut store = backend();
    store.audit("siti", "export", "since 0, 3 cases").unwrap();
    store.audit("operator", "token_add", "budi").unwrap();
    store.reopen();
    store.audit("budi", "import", "2 applied").unwrap();
    let log = store.all_audit().unwrap();
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
        assert!(is_today(&e.on), "{:?} is not today", e.on);
    }
}

#[test]
fn a_challenge_id_is_spent_once_until_it_expires() {
    let store = backend();
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
    let store = backend();
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
    let store = backend();
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
