//! The whole flow (common/flow.rs) on PostgreSQL: with one instance, and
//! with two instances on one database, the reporter on one and the desk
//! (pulls, pushes and status look-ups) on the other. Afterwards nothing
//! secret is in the database either (read whole with `pg_dump`).

use std::process::Command;

use wbs_e2e::{ServerOptions, TestServer};
use wbs_store::testing::TestDb;

mod common;

fn on(db: &TestDb) -> ServerOptions {
    ServerOptions {
        pow_difficulty: 8,
        database_url: Some(db.url().to_owned()),
        ..Default::default()
    }
}

/// Everything in the database, as SQL text (binary columns in hex).
fn dump(db: &TestDb) -> Vec<u8> {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries in /usr/lib/postgresql (scripts/test.sh installs them)")
        .flatten()
        .map(|e| e.path().join("bin/pg_dump"))
        .filter(|p| p.exists())
        .max()
        .expect("pg_dump");
    let out = Command::new(bin)
        .args(["--data-only", "--no-owner", "--dbname"])
        .arg(db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn assert_nowhere_in(dump: &[u8], needles: &[Vec<u8>]) {
    assert!(dump.len() > 1000, "the dump is empty");
    for needle in needles {
        for form in [needle.clone(), wbs_protocol::hex(needle).into_bytes()] {
            assert!(
                !dump.windows(form.len()).any(|w| w == &form[..]),
                "{:?} found in the database",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn the_whole_flow_on_postgresql() {
    let db = TestDb::new();
    let mut server = TestServer::start(on(&db));
    let needles = common::flow::report_pull_open_reply_push_status_followup_pull(&server, &server);
    assert_nowhere_in(&dump(&db), &needles);
    assert!(
        !server.data.join("control.sock").exists(),
        "a server on PostgreSQL needs no control socket"
    );
    // A graceful stop is a clean exit (the database connections are
    // closed outside the async runtime).
    let status = server.stop();
    assert!(status.success(), "{status}: {}", server.log_text());
}

#[test]
fn two_instances_on_one_database_serve_one_flow() {
    let db = TestDb::new();
    let a = TestServer::start(on(&db));
    let b = a.twin();
    assert_ne!(a.url, b.url);
    let needles = common::flow::report_pull_open_reply_push_status_followup_pull(&a, &b);
    assert_nowhere_in(&dump(&db), &needles);
}
