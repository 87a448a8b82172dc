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

fn session(name: &str, token: u8, now: u64) -> wbs_store::SessionRecord {
    wbs_store::SessionRecord {
        name: tn(name),
        token_hash: [token; 32],
        csrf: [token ^ 0xff; 32],
        idle_until: now + 600,
        expires_at: now + 3600,
    }
}

#[test]
fn a_session_is_found_by_its_hash_until_it_idles_or_expires() {
    let mut store = backend();
    let now = 1_000_000;
    assert!(store
        .session_create([1; 32], &session("siti", 1, now), now, 3, 100)
        .unwrap());
    let found = store.session_get(&[1; 32], now + 1).unwrap().unwrap();
    assert_eq!(found, session("siti", 1, now));
    assert_eq!(store.session_get(&[2; 32], now).unwrap(), None);
    // Sessions survive a restart (and, on PostgreSQL, are seen by every
    // instance).
    store.reopen();
    // A use moves the idle expiry, never past the absolute one.
    store.session_touch(&[1; 32], now + 500, 600).unwrap();
    assert!(store.session_get(&[1; 32], now + 1000).unwrap().is_some());
    for t in (1000..=3500).step_by(500) {
        store.session_touch(&[1; 32], now + t, 600).unwrap();
    }
    let s = store.session_get(&[1; 32], now + 3500).unwrap().unwrap();
    assert_eq!(s.idle_until, now + 3600);
    assert_eq!(store.session_get(&[1; 32], now + 3600).unwrap(), None);
    // Gone for good, even for an earlier clock.
    assert_eq!(store.session_get(&[1; 32], now).unwrap(), None);

    assert!(store
        .session_create([3; 32], &session("budi", 2, now), now, 3, 100)
        .unwrap());
    assert_eq!(
        store.session_get(&[3; 32], now + 601).unwrap(),
        None,
        "idle"
    );
    assert!(store
        .session_create([4; 32], &session("budi", 2, now), now, 3, 100)
        .unwrap());
    store.session_delete(&[4; 32]).unwrap();
    assert_eq!(store.session_get(&[4; 32], now).unwrap(), None);
}

#[test]
fn sessions_are_capped_per_name_and_in_all_and_end_with_their_token() {
    let store = backend();
    let now = 2_000_000;
    store.add_token(&tn("siti"), [1; 32], None).unwrap();
    for i in 0..3u8 {
        let mut s = session("siti", 1, now);
        s.expires_at += u64::from(i);
        assert!(store.session_create([i; 32], &s, now, 2, 4).unwrap());
    }
    // Two per name: the oldest went.
    assert_eq!(store.session_get(&[0; 32], now).unwrap(), None);
    assert!(store.session_get(&[1; 32], now).unwrap().is_some());
    assert!(store.session_get(&[2; 32], now).unwrap().is_some());
    assert!(store
        .session_create([10; 32], &session("budi", 9, now), now, 2, 4)
        .unwrap());
    assert!(store
        .session_create([11; 32], &session("dewi", 8, now), now, 2, 4)
        .unwrap());
    // Four in all: a fifth name is refused, and nothing is evicted for it.
    assert!(!store
        .session_create([12; 32], &session("eko", 7, now), now, 2, 4)
        .unwrap());
    assert_eq!(store.session_get(&[12; 32], now).unwrap(), None);
    assert!(store.session_get(&[11; 32], now).unwrap().is_some());
    // Expired sessions make room.
    assert!(store
        .session_create([12; 32], &session("eko", 7, now + 700), now + 700, 2, 4)
        .unwrap());
    // Revoking a token ends its sessions.
    let now = now + 700;
    assert!(store
        .session_create([20; 32], &session("siti", 1, now), now, 2, 4)
        .unwrap());
    store.revoke_token(&tn("siti")).unwrap();
    assert_eq!(store.session_get(&[20; 32], now).unwrap(), None);
}

#[test]
fn a_lease_has_one_holder_until_it_runs_out() {
    let store = backend();
    let now = 5_000;
    assert!(store.try_lease("retention", "a", 60, now).unwrap());
    assert!(!store.try_lease("retention", "b", 60, now + 10).unwrap());
    // Its holder renews it; other leases are independent.
    assert!(store.try_lease("retention", "a", 60, now + 30).unwrap());
    assert!(store.try_lease("digest", "b", 60, now + 30).unwrap());
    assert!(!store.try_lease("retention", "b", 60, now + 89).unwrap());
    // Run out: anyone may take it.
    assert!(store.try_lease("retention", "b", 60, now + 90).unwrap());
    assert!(!store.try_lease("retention", "a", 60, now + 91).unwrap());
}

#[test]
fn racing_instances_take_a_lease_once() {
    let store = Arc::new(backend());
    const RACERS: usize = 8;
    let barrier = Arc::new(Barrier::new(RACERS));
    let wins = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            thread::spawn(move || {
                let own = store.another_instance();
                let s: &dyn wbs_store::Store = match &own {
                    Some(own) => &**own,
                    None => &**store,
                };
                barrier.wait();
                s.try_lease("retention", &format!("instance-{i}"), 60, 100)
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&won| won)
        .count();
    assert_eq!(wins, 1);
}

#[test]
fn racing_logins_never_pass_the_session_caps() {
    let store = Arc::new(backend());
    let now = 3_000_000;
    for (i, name) in [
        "siti", "budi", "dewi", "eko", "fajar", "gita", "hadi", "intan",
    ]
    .into_iter()
    .enumerate()
    {
        store
            .add_token(&tn(name), [0x40 + i as u8; 32], None)
            .unwrap();
    }
    // Eight logins at once, round after round: of one name (at most two
    // may live), then of eight names (at most three in all).
    for round in 0..10u8 {
        let same_name = round % 2 == 0;
        let barrier = Arc::new(Barrier::new(8));
        let ids: Vec<[u8; 32]> = (0..8u8)
            .map(|i| {
                let mut id = [round; 32];
                id[0] = i;
                id[1] = 0xee;
                id
            })
            .collect();
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), *id);
                let name = if same_name {
                    "siti"
                } else {
                    [
                        "siti", "budi", "dewi", "eko", "fajar", "gita", "hadi", "intan",
                    ][i]
                };
                thread::spawn(move || {
                    barrier.wait();
                    store
                        .session_create(id, &session(name, 1, now), now, 2, 3)
                        .unwrap()
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let live = ids
            .iter()
            .filter(|id| store.session_get(id, now).unwrap().is_some())
            .count();
        let cap = if same_name { 2 } else { 3 };
        assert!(
            live <= cap,
            "round {round}: {live} sessions live, cap {cap}"
        );
        assert!(live >= 1, "round {round}: every login was refused");
        // Clear this round's sessions for the next.
        for id in &ids {
            store.session_delete(id).unwrap();
        }
    }
}
