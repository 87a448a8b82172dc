//! `wbs-inspect`: the air-gapped tool of WBS, and the only program that can
//! read a report.
//!
//! It makes the inspectorate's key pairs (`keygen`), decrypts the export
//! bundles the online desk carries over by USB (`open`), and encrypts the
//! investigator's replies and status changes into reply bundles that go back
//! the same way (`reply`).
//!
//! It runs on a machine that holds the inspectorate's private key and must
//! therefore **never touch a network**. It contains no networking code and
//! depends on no networking crate, directly or indirectly;
//! `tests/no_network.rs` checks the dependency tree for that on every test
//! run. Keep it that way: anything that needs a network belongs in
//! `wbs-desk`, on the other side of the air gap.
//!
//! Everything it reads from a bundle is untrusted, even after decryption:
//! names are sanitised, ids validated, hashes verified, and nothing is ever
//! written outside the output folder or over a file with other content.
//!
//! The library is what the command line and the desktop workbench share:
//! `open` (decrypt an export bundle into case folders), `reply` (write a
//! reply bundle), `keygen`, and the case folder layout (`casedir`). The
//! case list with its deadlines and the statistics (`cases`) are the
//! `wbs-casebook` crate's, on the command line.
#![forbid(unsafe_code)]

pub mod casedir;
pub mod cases;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod json;
pub mod keygen;
pub mod keyring;
pub mod open;
pub mod passphrase;
pub mod render;
pub mod reply;
