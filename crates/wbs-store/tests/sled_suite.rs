//! The generic store suite on the embedded backend (sled and blob files).
//! `postgres_suite.rs` runs the very same tests on PostgreSQL.

mod common;

/// The backend every test of the suite runs on.
fn backend() -> common::Fx {
    common::Fx::new_sled()
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
