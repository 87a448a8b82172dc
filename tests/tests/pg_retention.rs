//! Retention with several `wbs-server` instances on one PostgreSQL
//! database runs once, not once per instance: of two instances sweeping at
//! start, only the one holding the store's `retention` lease deletes, and
//! each expired case is deleted (and audited) exactly once. The lease
//! outlives a SIGKILLed holder, so a fresh instance does not sweep beside
//! it; once the lease has run out, the next instance takes it over and
//! sweeps.
//!
//! The sweep runs at start and then hourly, and the lease lasts two hours;
//! neither is configurable, so the tests use the sweep at start and age the
//! lease in the database in place of waiting two hours. The store suite
//! (`a_lease_has_one_holder_until_it_runs_out`, run on PostgreSQL too)
//! checks the lease's expiry with a fake clock.

use std::collections::HashMap;
use std::time::Duration;

use wbs_e2e::{ServerOptions, TestServer};
use wbs_protocol::Status;
use wbs_store::testing::TestDb;
use wbs_store::{CaseId, Day, Store};

/// What the retention task logs when another instance holds its lease
/// (at debug level, which the test servers run at).
const LEASE_HELD: &str = "retention: another instance holds the lease";
const FAILED: &str = "retention sweep failed";
const RECIPIENT: &str = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq";

fn options(db: &TestDb) -> ServerOptions {
    ServerOptions {
        database_url: Some(db.url().to_owned()),
        tokens: Vec::new(),
        extra_config: "[retention]\nclosed_case_days = 365\n".into(),
        ..Default::default()
    }
}

fn store(db: &TestDb) -> Box<dyn Store> {
    wbs_store::open(&db.location()).unwrap()
}

/// Files `n` cases received 800 days ago and sets them to `status`
/// `closed_days_ago` days ago. `tag` keeps lookup hashes apart between calls.
fn file_cases(
    store: &dyn Store,
    tag: u8,
    n: u8,
    status: Status,
    closed_days_ago: i64,
) -> Vec<CaseId> {
    let today = Day::today();
    (0..n)
        .map(|i| {
            let mut sink = store.blob_sink().unwrap();
            std::io::Write::write_all(&mut sink, format!("report {tag}/{i}").as_bytes()).unwrap();
            let report = sink.finish().unwrap();
            let mut lookup = [0x77u8; 32];
            lookup[0] = tag;
            lookup[1] = i;
            let case = store
                .create_case(lookup, RECIPIENT, today.plus_days(-800), report, vec![])
                .unwrap();
            store
                .set_status(&case.id, status, today.plus_days(-closed_days_ago))
                .unwrap();
            case.id
        })
        .collect()
}

/// How many times retention audited the deletion of each case.
fn retention_deletions(store: &dyn Store) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for e in store.all_audit().unwrap() {
        if e.actor == "retention" {
            assert_eq!(e.action, "delete_case", "{e:?}");
            let id = e
                .detail
                .split_whitespace()
                .find_map(|w| w.strip_prefix("case="))
                .unwrap_or_else(|| panic!("no case id in {e:?}"))
                .to_string();
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

/// Makes the retention lease run out now, as two hours without a renewal
/// would: the lease row's expiry, in seconds since the epoch, set to 0.
fn let_lease_run_out(db: &TestDb) {
    let aged = db.count(
        "WITH aged AS (UPDATE leases SET until = 0 WHERE name = 'retention' RETURNING 1) \
         SELECT count(*) FROM aged",
    );
    assert_eq!(aged, 1, "no retention lease to age");
}

/// What the retention task of one instance did at its start.
#[derive(Debug, PartialEq)]
enum Turn {
    /// Swept and deleted this many cases.
    Deleted(usize),
    /// Stood back: another instance holds the lease.
    LeaseHeld,
}

/// Waits until the retention task of `server` has taken its turn since log
/// byte `from`. A sweep that deletes nothing logs nothing, so a test waits
/// for one only where there is something to delete.
fn turn(server: &TestServer, from: usize) -> Turn {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let log = server.log_text()[from..].to_string();
        assert!(!log.contains(FAILED), "{log}");
        let deleted = log.lines().find_map(|l| {
            l.split("retention: deleted ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|n| n.parse::<usize>().unwrap())
        });
        match (deleted, log.contains(LEASE_HELD)) {
            (Some(_), true) => panic!("swept and stood back at once:\n{log}"),
            (Some(n), false) => return Turn::Deleted(n),
            (None, true) => return Turn::LeaseHeld,
            (None, false) => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the instance neither swept nor stood back for the lease:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_instances_starting_together_delete_each_expired_case_once() {
    let db = TestDb::new();
    // Both instances' first start takes the lease with nothing to sweep;
    // then they crash, and the lease is let run out.
    let mut a = TestServer::start(options(&db));
    let mut b = a.twin();
    a.kill();
    b.kill();
    let s = store(&db);
    let expired = file_cases(&*s, 1, 6, Status::ClosedSubstantiated, 400);
    let recent = file_cases(&*s, 2, 2, Status::Rejected, 30);
    let open = file_cases(&*s, 3, 2, Status::Investigating, 400);
    let_lease_run_out(&db);

    // Both start at once; each sweeps at start if it gets the lease.
    let (from_a, from_b) = (a.log_text().len(), b.log_text().len());
    std::thread::scope(|scope| {
        scope.spawn(|| a.spawn());
        scope.spawn(|| b.spawn());
    });
    let mut turns = [turn(&a, from_a), turn(&b, from_b)];
    turns.sort_by_key(|t| *t == Turn::LeaseHeld);
    assert_eq!(
        turns,
        [Turn::Deleted(expired.len()), Turn::LeaseHeld],
        "exactly one instance sweeps; a:\n{}\nb:\n{}",
        a.log_text(),
        b.log_text()
    );

    let deletions = retention_deletions(&*s);
    assert_eq!(deletions.len(), expired.len(), "{deletions:?}");
    for id in &expired {
        assert_eq!(deletions.get(id.as_str()), Some(&1), "{id}: {deletions:?}");
        assert!(s.case(id).unwrap().is_none(), "{id} still there");
    }
    for id in recent.iter().chain(&open) {
        assert!(s.case(id).unwrap().is_some(), "{id} deleted");
    }
}

#[test]
fn a_killed_holders_lease_keeps_others_back_until_it_runs_out() {
    let db = TestDb::new();
    let s = store(&db);
    let first = file_cases(&*s, 1, 3, Status::ClosedUnsubstantiated, 400);
    let mut holder = TestServer::start(options(&db));
    assert_eq!(turn(&holder, 0), Turn::Deleted(3), "{}", holder.log_text());
    // More cases expire (as if a day had passed). A second instance,
    // started while the first runs, stands back and deletes none of them.
    let second = file_cases(&*s, 2, 4, Status::Rejected, 400);
    let mut other = holder.twin();
    assert_eq!(turn(&other, 0), Turn::LeaseHeld, "{}", other.log_text());

    // The holder dies (SIGKILL: no chance to hand anything back).
    holder.kill();
    // A restarted instance is a new holder: the dead one's lease, not yet
    // run out, keeps it back as well, and nothing is deleted.
    let from = other.log_text().len();
    other.kill();
    other.spawn();
    assert_eq!(turn(&other, from), Turn::LeaseHeld, "{}", other.log_text());
    let from = holder.log_text().len();
    holder.spawn();
    assert_eq!(
        turn(&holder, from),
        Turn::LeaseHeld,
        "{}",
        holder.log_text()
    );
    for id in &second {
        assert!(
            s.case(id).unwrap().is_some(),
            "{id} deleted beside the lease"
        );
    }

    // Once the lease has run out, the next instance to sweep takes it over
    // and deletes each newly expired case once.
    let_lease_run_out(&db);
    let from = other.log_text().len();
    other.kill();
    other.spawn();
    assert_eq!(turn(&other, from), Turn::Deleted(4), "{}", other.log_text());
    let deletions = retention_deletions(&*s);
    assert_eq!(deletions.len(), first.len() + second.len(), "{deletions:?}");
    for id in first.iter().chain(&second) {
        assert_eq!(deletions.get(id.as_str()), Some(&1), "{id}: {deletions:?}");
        assert!(s.case(id).unwrap().is_none(), "{id} still there");
    }
    // The lease is now the new holder's: another instance stays back.
    let from = holder.log_text().len();
    holder.kill();
    holder.spawn();
    assert_eq!(
        turn(&holder, from),
        Turn::LeaseHeld,
        "{}",
        holder.log_text()
    );
}
