//! The generic store suite on PostgreSQL: the very tests of
//! `sled_suite.rs`, each on a fresh database of its own (see
//! `wbs_store::testing`: `WBS_TEST_DATABASE_URL`, or a throw-away cluster
//! this process starts). Missing PostgreSQL binaries fail these tests.

mod common;

/// The backend every test of the suite runs on.
fn backend() -> common::Fx {
    common::Fx::new_postgres()
}

#[path = "suite/cases.rs"]
mod cases;
#[path = "suite/desk.rs"]
mod desk;
#[path = "suite/export_order.rs"]
mod export_order;
#[path = "suite/import.rs"]
mod import;
#[path = "suite/snapshot.rs"]
mod snapshot;
