//! The storage trait: the seam between the server and a backend.

use wbs_protocol::Status;

use crate::blob::{BlobSink, StagedBlob};
use crate::dump::StoreSnapshot;
use crate::error::StoreError;
use crate::records::{
    AuditEntry, CaseRecord, DigestState, ImportItem, ObjectRecord, TokenAuth, TokenInfo,
};

/// Everything the server needs from storage.
///
/// All calls are synchronous and may block on disk I/O: call them from
/// `spawn_blocking`/`block_in_place`. Every call that changes something is
/// durable when it returns `Ok` (see the crate doc for how far "durable"
/// goes with sled).
///
/// Calls that take [`StagedBlob`]s consume them: if the call fails before
/// its metadata is committed, it removes those blob files again, so a
/// refused submission leaves nothing behind.
///
/// Dates (`on`, `received_on`) must be UTC calendar dates `YYYY-MM-DD`;
/// anything else is [`StoreError::Invalid`].
pub trait Store: Send + Sync {
    /// Starts writing a new blob.
    fn blob_sink(&self) -> Result<BlobSink, StoreError>;

    /// Creates a case from a report and its attachments (in upload order),
    /// with status `received`.
    ///
    /// `lookup_hash` is SHA-256 of the reporter's lookup key; the store
    /// indexes the case under it and never sees the key itself. If a case
    /// already has this hash, fails with [`StoreError::LookupExists`]; the
    /// check and the insert are one transaction, so of two racing calls
    /// exactly one wins. Flushed to disk before it returns `Ok`.
    fn create_case(
        &self,
        lookup_hash: [u8; 32],
        reply_recipient: &str,
        received_on: &str,
        report: StagedBlob,
        attachments: Vec<StagedBlob>,
    ) -> Result<CaseRecord, StoreError>;

    /// The case indexed under a lookup hash, if any.
    fn case_by_lookup(&self, lookup_hash: &[u8; 32]) -> Result<Option<CaseRecord>, StoreError>;

    /// A case by its id, if any.
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, StoreError>;

    /// Adds a follow-up (message and attachments) from the reporter and
    /// returns its number, from 1. [`StoreError::NotFound`] for an unknown
    /// case.
    fn add_followup(
        &self,
        case_id: &str,
        message: StagedBlob,
        attachments: Vec<StagedBlob>,
        on: &str,
    ) -> Result<u32, StoreError>;

    /// Sets a case's status, recording `(status, on)` in its history. Setting
    /// the status it already has changes nothing.
    fn set_status(&self, case_id: &str, status: Status, on: &str) -> Result<(), StoreError>;

    /// Applies a reply bundle: status changes and replies, all or nothing in
    /// one transaction. Items whose `item_id` was applied before are
    /// skipped (their staged blobs are removed), so pushing a bundle twice
    /// is harmless. An unknown case id fails the whole batch with
    /// [`StoreError::NotFound`] and changes nothing; so does a reply id
    /// already used in its case ([`StoreError::Invalid`]).
    /// Returns `(applied, skipped)`.
    fn apply_import(&self, items: Vec<ImportItem>, on: &str) -> Result<(u32, u32), StoreError>;

    /// Every case, oldest first. One scan of the case records: no blob I/O.
    fn list_cases(&self) -> Result<Vec<CaseRecord>, StoreError>;

    /// Every object with `seq > cursor`, ascending.
    ///
    /// Sequence numbers are assigned inside the transaction that commits the
    /// objects, so commit order is seq order, and the answer never has a
    /// gap that a later commit could fill: the next cursor to hand out is
    /// the `seq` of the last object returned (or `cursor` if none). If you
    /// use [`cursor`](Store::cursor) instead, read it *before* this call.
    fn objects_since(&self, cursor: u64) -> Result<Vec<ObjectRecord>, StoreError>;

    /// Every object of one case, ascending by `seq` (empty for an unknown
    /// case).
    fn objects_of_case(&self, case_id: &str) -> Result<Vec<ObjectRecord>, StoreError>;

    /// The highest `seq` ever committed; every object up to it is visible
    /// to [`objects_since`](Store::objects_since) (unless its case was
    /// deleted since).
    fn cursor(&self) -> Result<u64, StoreError>;

    /// Opens a blob for reading. [`StoreError::NotFound`] if there is no
    /// such file, [`StoreError::Invalid`] if `id` is not a blob id.
    fn open_blob(&self, id: &str) -> Result<std::fs::File, StoreError>;

    /// Removes a staged blob that will not be used after all (e.g. a later
    /// part of the same upload was refused). A blob that some case
    /// references is left alone ([`StoreError::Invalid`]).
    fn discard_blob(&self, blob: StagedBlob) -> Result<(), StoreError>;

    /// Deletes a case: its record, lookup index entry and objects in one
    /// transaction, then its blob files. [`StoreError::NotFound`] if there
    /// is no such case.
    fn delete_case(&self, id: &str) -> Result<(), StoreError>;

    /// Registers an investigator token by the SHA-256 of its secret.
    /// [`StoreError::Invalid`] if the name is taken (or not a usable name).
    fn add_token(&self, name: &str, token_hash: [u8; 32]) -> Result<(), StoreError>;

    /// The registered tokens, by name.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes a token by name; [`StoreError::NotFound`] if there is none.
    fn revoke_token(&self, name: &str) -> Result<(), StoreError>;

    /// The name of the token whose secret hashes to `token_hash`, if any.
    ///
    /// This is a lookup by hash, not a comparison of secrets: learning
    /// anything from its timing would need a SHA-256 preimage.
    fn token_name(&self, token_hash: &[u8; 32]) -> Result<Option<String>, StoreError>;

    /// Registers a token like [`add_token`](Store::add_token), with a
    /// sealed TOTP secret if `totp_sealed` is given (its last accepted
    /// step starts at 0); one transaction, so a token never exists without
    /// the second factor it was made with.
    fn add_token_with_totp(
        &self,
        name: &str,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError>;

    /// The name and second factor of the token whose secret hashes to
    /// `token_hash`, if any (a lookup by hash, as in
    /// [`token_name`](Store::token_name)).
    fn token_auth(&self, token_hash: &[u8; 32]) -> Result<Option<TokenAuth>, StoreError>;

    /// Enrols, replaces (`Some`) or removes (`None`) the TOTP secret of the
    /// token called `name`, whose hash must be `token_hash` (whoever asks
    /// proves they hold the token). Replacing starts its last accepted step
    /// at 0 again. [`StoreError::NotFound`] if `name` has no token or the
    /// hash is not its hash (the same answer for both).
    fn set_token_totp(
        &self,
        name: &str,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError>;

    /// Records that TOTP time step `step` was used by the token hashing to
    /// `token_hash`: `true` (and durable) if `step` is above the last one
    /// accepted, `false` otherwise (a replayed or older code), in one
    /// transaction so two racing logins with the same code cannot both
    /// win. [`StoreError::NotFound`] if the token has no TOTP enrolled.
    fn accept_totp_step(&self, token_hash: &[u8; 32], step: u64) -> Result<bool, StoreError>;

    /// The daily digest's state (default: never sent, cursor 0).
    fn digest_state(&self) -> Result<DigestState, StoreError>;

    /// Stores the daily digest's state, durably. `sent_on` must be a date.
    fn set_digest_state(&self, state: &DigestState) -> Result<(), StoreError>;

    /// Appends a line to the audit log, dated today (UTC), never timed.
    fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError>;

    /// The whole audit log, oldest first.
    fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError>;

    /// Spends a proof-of-work challenge id: `true` the first time, `false`
    /// for any later use. The id is remembered until `expires_at` (Unix
    /// seconds, compared with `now`); expired ids are pruned. An id that has
    /// already expired is refused (`false`), since it could not be
    /// remembered.
    fn spend_pow(&self, id: [u8; 16], expires_at: u64, now: u64) -> Result<bool, StoreError>;

    /// Flushes everything to disk.
    fn flush(&self) -> Result<(), StoreError>;

    /// `Ok` while the store takes writes. Once a write could not be made
    /// durable (a full disk, an I/O error), the store refuses all further
    /// writes with that error until it is reopened: the server should then
    /// report itself unhealthy, and the operator free space and restart it.
    fn health(&self) -> Result<(), StoreError>;

    /// Blurs what the file system records about when objects arrived.
    ///
    /// A blob file's `mtime` and `atime` are set back to midnight when it is
    /// written, but its inode change time (`ctime`) cannot be set: it keeps
    /// the moment of writing. This moves the `ctime` of every blob file from
    /// today and yesterday to now, all in one sweep and in the order of
    /// their random ids, so those files no longer say when each arrived,
    /// only that it was before this sweep; and it sets the times of the
    /// blob and staging directories back to midnight. Run often (the server
    /// does so every few minutes, at start and at shutdown), an exact time
    /// survives only until the next sweep. Returns how many files it
    /// touched.
    fn blur_file_times(&self) -> Result<usize, StoreError>;

    /// Every record, as one consistent copy: no commit is half in it. For
    /// backups and verification while the server runs. Writers wait only
    /// while the records are read; while the snapshot lives, the blobs its
    /// records reference stay readable with
    /// [`open_blob`](Store::open_blob), even if their case is deleted
    /// meanwhile (blobs never change once committed, so reading them later
    /// is consistent).
    fn snapshot(&self) -> Result<StoreSnapshot, StoreError>;
}
