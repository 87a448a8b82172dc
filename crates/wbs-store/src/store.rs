//! The storage traits: the seam between the server and a backend.
//!
//! [`MetaStore`] holds the records (cases, objects, tokens, audit log and
//! the state several server instances share); [`BlobStore`] holds the
//! encrypted bytes. A backend implements both; [`Store`] is any type that
//! does, and `Arc<dyn Store>` is the handle the server passes around.

use std::io::Read;

use wbs_protocol::Status;

use crate::blob::{BlobSink, StagedBlob};
use crate::dump::StoreSnapshot;
use crate::error::StoreError;
use crate::records::{
    AuditEntry, CaseRecord, DigestState, ImportItem, ObjectRecord, SessionRecord, TokenAuth,
    TokenInfo,
};
use crate::types::{BlobId, CaseId, Day, TokenName};

/// A blob being read: a stream, never the whole blob in memory.
pub type BlobReader = Box<dyn Read + Send>;

/// The most entries one page of a listing may ask for; larger limits are
/// cut down to it.
pub const MAX_PAGE: usize = 10_000;

/// The encrypted bytes: one blob per object, written and read as streams.
///
/// A blob is first *staged* ([`blob_sink`](BlobStore::blob_sink), then
/// [`BlobSink::finish`]): durable, but referenced by nothing. A
/// [`MetaStore`] call that commits records referencing it (`create_case`,
/// `add_followup`, `apply_import`) makes it part of a case; a staged blob
/// that never gets there is removed by [`discard_blob`](BlobStore::discard_blob)
/// or, after a crash, by the backend's sweep.
pub trait BlobStore: Send + Sync {
    /// Starts writing a new blob.
    fn blob_sink(&self) -> Result<BlobSink, StoreError>;

    /// Opens a blob for reading, as a stream. [`StoreError::NotFound`] if
    /// there is no such blob.
    fn open_blob(&self, id: &BlobId) -> Result<BlobReader, StoreError>;

    /// Removes a staged blob that will not be used after all (e.g. a later
    /// part of the same upload was refused). A blob that some case
    /// references is left alone ([`StoreError::Invalid`]).
    fn discard_blob(&self, blob: StagedBlob) -> Result<(), StoreError>;

    /// Blurs what a file system records about when blobs arrived (see the
    /// sled backend's implementation). Only backends that keep blobs as
    /// files have anything to do; the default does nothing and returns 0.
    fn blur_file_times(&self) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// The records: everything but the blobs' bytes.
///
/// All calls are synchronous and may block on I/O: call them from
/// `spawn_blocking`/`block_in_place`. Every call that changes something is
/// durable when it returns `Ok` (committed, and for sled flushed; see the
/// crate doc).
///
/// Calls that take [`StagedBlob`]s consume them: if the call fails before
/// its records are committed, it removes those blobs again, so a refused
/// submission leaves nothing behind.
///
/// No call returns a whole table: listings are paged (`after`, `limit`;
/// `limit` is capped at [`MAX_PAGE`]). The `all_*` helpers read page by
/// page for the callers that need everything.
pub trait MetaStore: Send + Sync {
    /// Creates a case from a report and its attachments (in upload order),
    /// with status `received`.
    ///
    /// `lookup_hash` is SHA-256 of the reporter's lookup key; the store
    /// indexes the case under it and never sees the key itself. If a case
    /// already has this hash, fails with [`StoreError::LookupExists`]; the
    /// check and the insert are one transaction, so of two racing calls
    /// exactly one wins.
    fn create_case(
        &self,
        lookup_hash: [u8; 32],
        reply_recipient: &str,
        received_on: Day,
        report: StagedBlob,
        attachments: Vec<StagedBlob>,
    ) -> Result<CaseRecord, StoreError>;

    /// The case indexed under a lookup hash, if any.
    fn case_by_lookup(&self, lookup_hash: &[u8; 32]) -> Result<Option<CaseRecord>, StoreError>;

    /// A case by its id, if any.
    fn case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError>;

    /// Adds a follow-up (message and attachments) from the reporter and
    /// returns its number, from 1. [`StoreError::NotFound`] for an unknown
    /// case. The same follow-up sent again (the same ciphertexts) is stored
    /// once and answered with the same number.
    fn add_followup(
        &self,
        case_id: &CaseId,
        message: StagedBlob,
        attachments: Vec<StagedBlob>,
        on: Day,
    ) -> Result<u32, StoreError>;

    /// Sets a case's status, recording `(status, on)` in its history. Setting
    /// the status it already has changes nothing.
    fn set_status(&self, case_id: &CaseId, status: Status, on: Day) -> Result<(), StoreError>;

    /// Applies a reply bundle: status changes and replies, all or nothing in
    /// one transaction. Items whose `item_id` was applied before are
    /// skipped (their staged blobs are removed), so pushing a bundle twice
    /// is harmless. An unknown case id fails the whole batch with
    /// [`StoreError::NotFound`] and changes nothing; so does a reply id
    /// already used in its case ([`StoreError::Invalid`]).
    /// Returns `(applied, skipped)`.
    fn apply_import(&self, items: Vec<ImportItem>, on: Day) -> Result<(u32, u32), StoreError>;

    /// Up to `limit` cases with `first_seq > after`, oldest first (by
    /// `first_seq`, the order of arrival). Page on with the `first_seq` of
    /// the last case returned.
    fn list_cases(&self, after: u64, limit: usize) -> Result<Vec<CaseRecord>, StoreError>;

    /// Up to `limit` objects with `seq > cursor`, ascending.
    ///
    /// Sequence numbers are assigned inside the transaction that commits the
    /// objects, under a lock that makes commit order seq order (see the
    /// crate doc, "The export cursor"). So the answer never has a gap that
    /// a later commit could fill: the next cursor to hand out is the `seq`
    /// of the last object returned (or `cursor` if none). If you use
    /// [`cursor`](MetaStore::cursor) instead, read it *before* this call.
    fn objects_since(&self, cursor: u64, limit: usize) -> Result<Vec<ObjectRecord>, StoreError>;

    /// Every object of one case, ascending by `seq` (empty for an unknown
    /// case). Bounded by one case's size.
    fn objects_of_case(&self, case_id: &CaseId) -> Result<Vec<ObjectRecord>, StoreError>;

    /// The highest `seq` ever committed; every object up to it is visible
    /// to [`objects_since`](MetaStore::objects_since) (unless its case was
    /// deleted since).
    fn cursor(&self) -> Result<u64, StoreError>;

    /// Deletes a case: its record, lookup index entry, objects and their
    /// blobs. The records go in one transaction; a backend that keeps blobs
    /// in the database deletes them in the same transaction, one that keeps
    /// files removes them right after the commit. [`StoreError::NotFound`]
    /// if there is no such case.
    fn delete_case(&self, id: &CaseId) -> Result<(), StoreError>;

    /// Registers an investigator token by the SHA-256 of its secret, with a
    /// sealed TOTP secret if `totp_sealed` is given (its last accepted step
    /// starts at 0); one transaction, so a token never exists without the
    /// second factor it was made with. [`StoreError::Invalid`] if the name
    /// or the hash is taken.
    fn add_token(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError>;

    /// The registered tokens, by name (a small table: one row per
    /// investigator).
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes a token by name; [`StoreError::NotFound`] if there is none.
    /// Its desk sessions end with it.
    fn revoke_token(&self, name: &TokenName) -> Result<(), StoreError>;

    /// The name and second factor of the token whose secret hashes to
    /// `token_hash`, if any.
    ///
    /// This is a lookup by hash, not a comparison of secrets: learning
    /// anything from its timing would need a SHA-256 preimage.
    fn token_auth(&self, token_hash: &[u8; 32]) -> Result<Option<TokenAuth>, StoreError>;

    /// The name of the token whose secret hashes to `token_hash`, if any.
    fn token_name(&self, token_hash: &[u8; 32]) -> Result<Option<TokenName>, StoreError> {
        Ok(self.token_auth(token_hash)?.map(|a| a.name))
    }

    /// Enrols, replaces (`Some`) or removes (`None`) the TOTP secret of the
    /// token called `name`, whose hash must be `token_hash` (whoever asks
    /// proves they hold the token). Replacing starts its last accepted step
    /// at 0 again. [`StoreError::NotFound`] if `name` has no token or the
    /// hash is not its hash (the same answer for both).
    fn set_token_totp(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError>;

    /// Records that TOTP time step `step` was used by the token hashing to
    /// `token_hash`: `true` (and durable) if `step` is above the last one
    /// accepted, `false` otherwise (a replayed or older code), in one
    /// transaction so two racing logins with the same code cannot both
    /// win, on any instance. [`StoreError::NotFound`] if the token has no
    /// TOTP enrolled.
    fn accept_totp_step(&self, token_hash: &[u8; 32], step: u64) -> Result<bool, StoreError>;

    /// The daily digest's state (default: never sent, cursor 0).
    fn digest_state(&self) -> Result<DigestState, StoreError>;

    /// Stores the daily digest's state, durably.
    fn set_digest_state(&self, state: &DigestState) -> Result<(), StoreError>;

    /// Appends a line to the audit log, dated today (UTC), never timed.
    fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError>;

    /// Up to `limit` audit entries with `seq > after`, oldest first.
    fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Spends a proof-of-work challenge id: `true` the first time, `false`
    /// for any later use, across every instance sharing the store. The id
    /// is remembered until `expires_at` (Unix seconds, compared with
    /// `now`); expired ids are pruned. An id that has already expired is
    /// refused (`false`), since it could not be remembered.
    fn spend_pow(&self, id: [u8; 16], expires_at: u64, now: u64) -> Result<bool, StoreError>;

    /// Opens a desk session under `id_hash` (SHA-256 of the session id;
    /// the id itself is never stored). First removes expired sessions and,
    /// if the token's name has `per_name` live sessions or more, its oldest
    /// ones; then refuses (`false`) if `max_total` live sessions remain.
    fn session_create(
        &self,
        id_hash: [u8; 32],
        session: &SessionRecord,
        now: u64,
        per_name: usize,
        max_total: usize,
    ) -> Result<bool, StoreError>;

    /// The live session under `id_hash`: `None` if there is none or it has
    /// expired at `now` (idle or absolute expiry; an expired one is
    /// removed).
    fn session_get(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Counts a use of a live session: its idle expiry becomes
    /// `now + idle_secs`, never past its absolute expiry.
    fn session_touch(&self, id_hash: &[u8; 32], now: u64, idle_secs: u64)
        -> Result<(), StoreError>;

    /// Ends a session (nothing if there is none).
    fn session_delete(&self, id_hash: &[u8; 32]) -> Result<(), StoreError>;

    /// Takes or renews the lease `name` for `holder` until `now + ttl_secs`:
    /// `true` if no one else holds it at `now` (free, expired, or already
    /// `holder`'s). With several instances on one store, a periodic job
    /// (retention, the daily digest) runs only on the instance holding its
    /// lease, so it runs once.
    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Makes everything durable (a no-op where every commit already is).
    fn flush(&self) -> Result<(), StoreError>;

    /// `Ok` while the store takes writes. Once a write could not be made
    /// durable (a full disk, an I/O error), a backend may refuse all further
    /// writes with that error until it is reopened: the server should then
    /// report itself unhealthy.
    fn health(&self) -> Result<(), StoreError>;

    /// Every record, as one consistent copy: no commit is half in it. For
    /// backups and verification while the server runs. While the snapshot
    /// lives, the blobs its records reference stay readable through
    /// [`StoreSnapshot::open_blob`], even if their case is deleted meanwhile.
    fn snapshot(&self) -> Result<StoreSnapshot, StoreError>;

    /// Every case, oldest first, read page by page.
    fn all_cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        let mut out: Vec<CaseRecord> = Vec::new();
        loop {
            let after = out.last().map_or(0, |c| c.first_seq);
            let page = self.list_cases(after, MAX_PAGE)?;
            let done = page.len() < MAX_PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// Every object with `seq > cursor`, ascending, read page by page.
    fn all_objects_since(&self, cursor: u64) -> Result<Vec<ObjectRecord>, StoreError> {
        let mut out: Vec<ObjectRecord> = Vec::new();
        loop {
            let after = out.last().map_or(cursor, |o| o.seq);
            let page = self.objects_since(after, MAX_PAGE)?;
            let done = page.len() < MAX_PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// The whole audit log, oldest first, read page by page.
    fn all_audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out: Vec<AuditEntry> = Vec::new();
        loop {
            let after = out.last().map_or(0, |a| a.seq);
            let page = self.audit_log(after, MAX_PAGE)?;
            let done = page.len() < MAX_PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }
}

/// A whole backend: records and blobs. Implemented for every type that
/// implements both traits; `Arc<dyn Store>` is the server's handle.
pub trait Store: MetaStore + BlobStore {}

impl<T: MetaStore + BlobStore + ?Sized> Store for T {}

/// `limit` capped at [`MAX_PAGE`] (and at least 1).
pub(crate) fn page_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}
