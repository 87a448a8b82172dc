//! WBS storage: the [`Store`] trait the server talks to, and [`SledStore`],
//! the embedded default (sled for metadata and indexes, one file per
//! encrypted blob under the data directory). The trait is the seam for a
//! networked backend (PostgreSQL) when one machine is not enough.
//!
//! # What it stores, and what it must never store
//!
//! It stores what the server hands it and nothing more: opaque age files
//! (reports, attachments, follow-ups, replies), their sizes and SHA-256
//! digests, the SHA-256 of each case's lookup key, the reporter's reply
//! recipient (a public key), statuses, investigator token *hashes*, the
//! desk's audit log and spent proof-of-work ids.
//!
//! It must never store plaintext, a receipt code or a lookup key, an IP
//! address, a user agent, or an exact time. Every date it keeps is a UTC
//! calendar date `YYYY-MM-DD`, and it refuses any other date string, so a
//! seized data directory tells at most on which day something arrived.
//! Case ids are random and unrelated to receipt codes.
//!
//! # Durability
//!
//! A receipt is returned only after everything it covers is durably stored
//! (DESIGN.md, "Storage"). So:
//!
//! 1. A blob is streamed to `<data>/tmp/`, fsynced, renamed into
//!    `<data>/blobs/<id[0..2]>/<id>`, and that directory fsynced
//!    ([`BlobSink::finish`]) *before* any metadata points at it.
//! 2. The metadata is committed in one sled transaction, and every call that
//!    commits calls `Db::flush` before it returns.
//! 3. sled's `flush` writes its log with `sync_file_range` on Linux (sled
//!    issue #1452), which neither flushes the drive's volatile write cache
//!    nor the file's metadata, so on its own it is weaker than `fsync`;
//!    sled's background thread fsyncs only every half second. To close that
//!    gap, [`SledStore`] also calls `fsync` on sled's data file (through a
//!    read-only handle of its own) after every flush, and on the files in
//!    `db/blobs/`, where sled puts log items too large for a segment
//!    (over ~128 KiB) without ever syncing them. This relies on how sled
//!    0.34 lays out its files; re-check it whenever the sled version
//!    changes.
//!
//! A crash can therefore leave only blob files that nothing references yet;
//! [`SledStore`] removes them, and everything in `tmp/`, when it opens
//! ([`SledStore::recovered_leftovers`]).
//!
//! # Damage is reported, never papered over
//!
//! The first start writes a marker file `<data>/WBS-STORE`. From then on a
//! missing or unreadable metadata database is [`StoreError::Corrupt`], as
//! are blob files without a marker: the store never silently begins again
//! empty, which would make every receipt code look unknown.
//!
//! A full disk or an exceeded quota is [`StoreError::NoSpace`], and the
//! failed call leaves nothing behind: a blob that does not fit is removed
//! again, and so are the staged blobs of a call that fails. If the disk
//! fills while sled writes its log, sled keeps failing even after space is
//! freed; the store then refuses every further write ([`Store::health`])
//! until it is reopened. What the failing call had committed in memory
//! never reached the disk, so it is gone after the restart (and its blob
//! files are swept then), exactly as its error said.
//!
//! # Backups
//!
//! [`Store::snapshot`] takes every record as one consistent copy
//! ([`StoreRecords`], a logical dump, not sled's files) while the server
//! keeps running, and keeps the blobs it references in place while it is in
//! use. [`SledStore::restore`] checks such records for consistency and
//! writes a fresh store from them and their blobs, each checked against its
//! recorded SHA-256, into a new or empty directory. The backup file format
//! itself belongs to the server (`wbs-server backup`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blob;
mod codec;
mod dump;
mod error;
mod group_sync;
mod ids;
mod layout;
mod location;
mod pg;
mod records;
mod sled_store;
mod store;
pub mod testing;
mod types;

pub use blob::{BlobSink, BlobWrite, StagedBlob};
pub use dump::{
    AppliedEntry, BlobOpener, CaseEntry, StoreRecords, StoreSnapshot, TokenEntry, RECORDS_FORMAT,
};
pub use error::StoreError;
pub use ids::{is_blob_id, is_case_id, BLOB_ID_LEN, CASE_ID_LEN};
pub use layout::{FORMAT_VERSION, MARKER_FILE};
pub use location::{open, open_existing, redact, restore, RestoreTarget, StoreLocation};
pub use pg::{PgRestore, PgStore};
pub use records::{
    AuditEntry, CaseRecord, DigestState, ImportItem, ObjectKind, ObjectRecord, ReplyRecord,
    SessionRecord, TokenAuth, TokenInfo, TotpRecord,
};
pub use sled_store::{Restore, SledStore};
pub use store::{BlobReader, BlobStore, MetaStore, Store, MAX_PAGE};
pub use types::{is_token_name, BlobId, CaseId, Day, TokenName};
