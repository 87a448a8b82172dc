//! WBS storage: the interface the server talks to, and its two backends.
//!
//! - [`MetaStore`] holds the records (cases, objects, tokens, audit log,
//!   and the state several server instances share: spent proof-of-work
//!   ids, desk sessions, leases); [`BlobStore`] holds the encrypted bytes,
//!   written through a [`BlobSink`] and read through a [`BlobReader`], as
//!   streams. [`Store`] is both; `Arc<dyn Store>` is the server's handle.
//! - Values are typed and checked when made: [`CaseId`], [`BlobId`],
//!   [`TokenName`] (the one token-name rule of the workspace), [`Day`] (a
//!   UTC date, the only kind of time kept about a reporter).
//! - Every listing is paged (`list_cases`, `objects_since`, `audit_log`
//!   take `after` and `limit`); errors ([`StoreError`]) name no backend.
//! - [`StoreLocation`] says where a store is; [`open`], [`open_existing`]
//!   and [`restore`] are the one place that picks the backend:
//!   [`SledStore`], the embedded default (sled for metadata and indexes,
//!   one file per encrypted blob under the data directory), or
//!   [`PgStore`], PostgreSQL for records and blobs, shared by any number of
//!   server instances.
//! - [`testing::TestDb`] gives tests a throw-away PostgreSQL database.
//!
//! The same test suite (`tests/suite/`) runs on both backends
//! (`tests/sled_suite.rs`, `tests/postgres_suite.rs`).
//!
//! # What it stores, and what it must never store
//!
//! It stores what the server hands it and nothing more: opaque age files
//! (reports, attachments, follow-ups, replies), their sizes and SHA-256
//! digests, the SHA-256 of each case's lookup key, the reporter's reply
//! recipient (a public key), statuses, investigator token *hashes*, the
//! desk's audit log, spent proof-of-work ids, desk sessions (under the
//! SHA-256 of their id) and leases between server instances. The only
//! Unix times are expiries: of spent challenge ids (each kept only until
//! its challenge would have expired anyway, as before), of investigators'
//! sessions and of leases.
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
//! On PostgreSQL ([`PgStore`]) every call that changes something is one
//! transaction, committed before the call returns; with PostgreSQL's
//! default `synchronous_commit = on`, a commit is in the write-ahead log on
//! disk when it returns (docs/OPERATIONS.md says what replication adds). A
//! blob's chunks are written in a transaction of their own, committed by
//! [`BlobSink::finish`] before any record points at it; a staged blob that
//! no record ever uses is swept when a store opens, once it is two days
//! old (by date, so another instance's upload in flight is never touched).
//! Deleting a case deletes its records, its blobs and their chunks in one
//! transaction.
//!
//! # The export cursor
//!
//! The desk pulls "every object with `seq > cursor`" and then moves its
//! cursor to the highest `seq` it received. That is only correct if no
//! object can ever become visible with a `seq` at or below a cursor that
//! was already handed out: such an object would be skipped for good. A
//! plain counter or database sequence does not guarantee this. Two
//! transactions may take seq 7 and seq 8 in that order and commit in the
//! other order; a pull between the two commits sees 8 but not 7, hands out
//! cursor 8, and 7 is never exported. (The store-level race test,
//! `a_concurrent_exporter_gets_every_committed_object_exactly_once`,
//! catches exactly this when the counter is taken outside the committing
//! transaction: "gap after cursor 2".)
//!
//! The rule both backends keep: **sequence numbers are assigned inside the
//! transaction that commits the objects, under a lock held until that
//! transaction has committed, so commit order is seq order.**
//!
//! - sled runs the transactions that touch the counter one at a time (the
//!   counter lives in the same transaction), and a read never sees half a
//!   commit; `objects_since` reads the committed counter first and scans
//!   only up to it.
//! - PostgreSQL: the counter is one row (`counters`, name `objects`). A
//!   transaction that adds objects updates that row (`value = value + n
//!   RETURNING value`) as its last step before inserting them, which takes
//!   the row's lock, and keeps the lock until it commits or rolls back. A
//!   second transaction that wants numbers waits on the lock; when it gets
//!   it, it reads the committed value (READ COMMITTED re-reads the newest
//!   row version) and continues from there. A rollback undoes its increment
//!   too, so no number is left behind as a hole that could be filled later.
//!
//! Why a pull cannot skip an object on PostgreSQL: `objects_since` is one
//! statement, so one snapshot `S`. Suppose `S` shows an object with seq
//! `b` and an object with seq `a < b` commits but is not in `S`. The
//! transaction `T_a` that took `a` held the counter lock from taking `a`
//! until its commit; the transaction `T_b` that took `b > a` took its
//! numbers after `T_a`'s increment was visible to it, so only after `T_a`
//! had ended. PostgreSQL releases a transaction's locks only after its
//! commit is visible to new snapshots, and `T_b` committed after it got the
//! lock, so `T_a` was visible before `T_b` was. `S` shows `T_b`'s commit,
//! so `S` was taken after it, and shows `T_a`'s commit too: a
//! contradiction. Hence every snapshot shows a prefix of the sequence
//! (minus deleted cases), the cursor handed out is the last seq of that
//! prefix, and every object committed later has a higher seq. This holds
//! for any number of instances, since the lock is in the database. The
//! price is that commits that add objects are serialized (one at a time
//! holds the counter row from its increment to its commit, a few
//! milliseconds); status changes, look-ups and reads do not take it.
//! Pulls must read the primary: a replica applies commits in the same
//! order, but this argument is about the primary's snapshots.
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
//! freed; the store then refuses every further write ([`MetaStore::health`])
//! until it is reopened. What the failing call had committed in memory
//! never reached the disk, so it is gone after the restart (and its blob
//! files are swept then), exactly as its error said.
//!
//! # Backups
//!
//! [`MetaStore::snapshot`] takes every record as one consistent copy
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
