//! The investigators' case book: the decrypted case folders, the legal
//! deadline clocks of a case and the statistics over many, shared by
//! `wbs-inspect` (command line), the desktop workbench on the air-gapped
//! machine and the desk pages of `wbs-server`.
//!
//! - [`day`]: calendar dates (WBS stores dates, never an hour).
//! - [`policy`]: the periods (EU Directive 2019/1937 art. 9 by default),
//!   calendar or working days, and a holiday list.
//! - [`clocks`]: *acknowledge by* and *feedback by* of one case.
//! - [`folders`]: the case book, read from the case folders that
//!   `wbs-inspect open` writes; full-text search.
//! - [`stats`]: the figures for a period, for the inspectorate and for
//!   publication (small counts hidden), as CSV and a printable page.
//!
//! This crate never opens a socket and never starts an async runtime. The
//! only files it reads are case folders ([`folders`]); it writes none
//! ([`stats`] returns text for the caller to write). [`policy::Policy::from_toml`]
//! takes text.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clocks;
pub mod day;
pub mod folders;
pub mod policy;
pub mod stats;

pub use clocks::{clocks, CaseFacts, ClockState, Clocks};
pub use day::Day;
pub use folders::{
    load_policy, Attachment, Case, CaseBook, FollowUpEntry, LoadError, LoadWarning, SentReply,
    StatusChange,
};
pub use policy::{DayKind, Holiday, Policy, PolicyError};
pub use stats::{Stats, StatsCase};
