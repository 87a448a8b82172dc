//! The investigators' case book: the legal deadline clocks of a case and the
//! statistics over many, shared by `wbs-inspect` (command line), the
//! desktop workbench on the air-gapped machine and the desk pages of
//! `wbs-server`.
//!
//! - [`day`]: calendar dates (WBS stores dates, never an hour).
//! - [`policy`]: the periods (EU Directive 2019/1937 art. 9 by default),
//!   calendar or working days, and a holiday list.
//! - [`clocks`]: *acknowledge by* and *feedback by* of one case.
//!
//! This crate must stay pure: functions over values. It never opens a
//! socket, never starts an async runtime and reads no file on its own
//! ([`policy::Policy::from_toml`] takes text).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clocks;
pub mod day;
pub mod policy;

pub use clocks::{clocks, CaseFacts, ClockState, Clocks};
pub use day::Day;
pub use policy::{DayKind, Holiday, Policy, PolicyError};
