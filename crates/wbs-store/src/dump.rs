//! Every record of a store as one document: what backups carry and what a
//! restore writes back ([`StoreRecords`]).
//!
//! This is a *logical* copy (cases, objects, tokens, audit log, ...), not a
//! copy of sled's files: sled's on-disk format is private to one sled
//! version and cannot be copied consistently while the server runs, while
//! these records can be taken in one consistent snapshot, checked for
//! internal consistency, and loaded into any backend that implements
//! [`Store`](crate::Store). The indexes (lookup hash → case, blob →
//! object, token name → hash, ...) are not carried: a restore rebuilds them
//! from the records, so an index can never disagree with its data.
//!
//! Spent proof-of-work ids are not carried either: the key that seals
//! challenges lives only in the server's memory, so every challenge issued
//! before a restart (and therefore before any restore) is already invalid.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::blob::StagedBlob;
use crate::error::StoreError;
use crate::records::{hex32, AuditEntry, CaseRecord, ObjectKind, ObjectRecord};
use crate::store::BlobReader;
use crate::types::{BlobId, Day, TokenName};

/// Format tag of [`StoreRecords`].
pub const RECORDS_FORMAT: &str = "wbs-store-records/1";

/// Every record of a store, consistent with itself: taken while no write
/// could commit ([`MetaStore::snapshot`](crate::MetaStore::snapshot)).
///
/// Holds what the store holds, no more: SHA-256 hashes of lookup keys and
/// of investigator tokens among them, so it deserves the same protection as
/// the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRecords {
    /// Always [`RECORDS_FORMAT`].
    pub format: String,
    /// The highest object sequence number ever handed out (the export
    /// cursor); at least the `seq` of every object, more if cases were
    /// deleted since.
    pub last_seq: u64,
    /// The highest audit entry number ever handed out.
    pub last_audit_seq: u64,
    /// Every case with the lookup hash it is indexed under, oldest first
    /// (by `first_seq`).
    pub cases: Vec<CaseEntry>,
    /// Every object, ascending by `seq`.
    pub objects: Vec<ObjectRecord>,
    /// The ids of reply-bundle items applied so far.
    pub applied_items: Vec<AppliedEntry>,
    /// The investigator tokens (their hashes, never a secret).
    pub tokens: Vec<TokenEntry>,
    /// The whole audit log, oldest first.
    pub audit: Vec<AuditEntry>,
    /// Where the daily digest stopped counting (absent: never sent), so a
    /// restored server neither repeats nor skips arrivals in its next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::records::DigestState>,
}

/// A case and its lookup hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseEntry {
    /// SHA-256 of the reporter's lookup key.
    #[serde(with = "hex32")]
    pub lookup_hash: [u8; 32],
    /// The case.
    pub case: CaseRecord,
}

/// A reply-bundle item that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedEntry {
    /// The item's id in its bundle.
    pub item_id: String,
    /// The date it was applied.
    pub on: Day,
}

/// An investigator token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// SHA-256 of the token's secret.
    #[serde(with = "hex32")]
    pub token_hash: [u8; 32],
    /// Its name.
    pub name: TokenName,
    /// The date it was added.
    pub created_on: Day,
    /// Its TOTP second factor (sealed secret, last accepted step), if
    /// enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<crate::records::TotpRecord>,
}

fn bad(msg: String) -> StoreError {
    StoreError::Corrupt(format!("the records are inconsistent: {msg}"))
}

impl StoreRecords {
    /// The blob every object needs, with its size and SHA-256, in `seq`
    /// order.
    pub fn blobs(&self) -> Vec<StagedBlob> {
        self.objects
            .iter()
            .map(|o| StagedBlob {
                id: o.blob.clone(),
                size: o.size,
                sha256: o.sha256,
            })
            .collect()
    }

    /// Checks that the records make one consistent store: every id well
    /// formed and unique, every object belonging to an existing case, the
    /// counters of each case matching its objects, every date a calendar
    /// date. A restore refuses records that fail this
    /// ([`StoreError::Corrupt`]), so a damaged backup never becomes a store
    /// that fails later.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.format != RECORDS_FORMAT {
            return Err(StoreError::Invalid(format!(
                "records have format {:?}, this build reads {RECORDS_FORMAT:?}",
                self.format
            )));
        }
        let mut cases: HashMap<&str, &CaseRecord> = HashMap::new();
        let mut lookups = HashSet::new();
        for entry in &self.cases {
            let c = &entry.case;
            if cases.insert(&c.id, c).is_some() {
                return Err(bad(format!("case {} appears twice", c.id)));
            }
            if !lookups.insert(entry.lookup_hash) {
                return Err(bad(format!("case {} shares its lookup hash", c.id)));
            }
            if c.history.last().map(|(s, _)| *s) != Some(c.status) {
                return Err(bad(format!("case {}: status and history disagree", c.id)));
            }
        }

        // Per case: (objects, bytes, last seq, report seq, reply blobs).
        struct Seen<'a> {
            objects: u32,
            bytes: u64,
            last_seq: u64,
            report_seq: Option<u64>,
            replies: HashMap<u32, &'a str>,
        }
        let mut seen: HashMap<&str, Seen<'_>> = HashMap::new();
        let mut blobs = HashSet::new();
        let mut last = 0u64;
        for o in &self.objects {
            if o.seq <= last {
                return Err(bad(format!("object seq {} is out of order", o.seq)));
            }
            last = o.seq;
            if o.seq > self.last_seq {
                return Err(bad(format!("object seq {} is above last_seq", o.seq)));
            }
            if !blobs.insert(o.blob.as_str()) {
                return Err(bad(format!("object {}: bad or shared blob id", o.seq)));
            }
            if !cases.contains_key(o.case_id.as_str()) {
                return Err(bad(format!(
                    "object {} belongs to case {}, which is not there",
                    o.seq, o.case_id
                )));
            }
            let s = seen.entry(&o.case_id).or_insert(Seen {
                objects: 0,
                bytes: 0,
                last_seq: 0,
                report_seq: None,
                replies: HashMap::new(),
            });
            s.objects += 1;
            s.bytes += o.size;
            s.last_seq = o.seq;
            match o.kind {
                ObjectKind::Report => {
                    let earlier = s.report_seq.replace(o.seq);
                    if earlier.is_some() {
                        return Err(bad(format!("case {} has two reports", o.case_id)));
                    }
                }
                ObjectKind::Reply { n } => {
                    s.replies.insert(n, &o.blob);
                }
                _ => {}
            }
        }
        for (id, c) in &cases {
            let Some(s) = seen.get(id) else {
                return Err(bad(format!("case {id} has no objects")));
            };
            if (s.objects, s.bytes, s.last_seq) != (c.objects, c.bytes, c.last_seq) {
                return Err(bad(format!(
                    "case {id} counts {} objects, {} bytes, last seq {}, but its objects \
                     make {}, {}, {}",
                    c.objects, c.bytes, c.last_seq, s.objects, s.bytes, s.last_seq
                )));
            }
            if s.report_seq != Some(c.first_seq) {
                return Err(bad(format!("case {id}: first_seq is not its report")));
            }
            if c.replies.len() != s.replies.len()
                || c.replies
                    .iter()
                    .any(|r| s.replies.get(&r.n) != Some(&r.blob.as_str()))
            {
                return Err(bad(format!("case {id}: its replies and objects disagree")));
            }
        }

        let mut items = HashSet::new();
        for item in &self.applied_items {
            if item.item_id.is_empty() || !items.insert(item.item_id.as_str()) {
                return Err(bad(format!(
                    "applied item {:?} is empty or twice",
                    item.item_id
                )));
            }
        }

        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        for t in &self.tokens {
            if !names.insert(t.name.as_str()) || !hashes.insert(t.token_hash) {
                return Err(bad(format!("token {:?} appears twice", t.name)));
            }
        }

        let mut last = 0u64;
        for a in &self.audit {
            if a.seq <= last || a.seq > self.last_audit_seq {
                return Err(bad(format!("audit entry {} is out of order", a.seq)));
            }
            last = a.seq;
        }
        Ok(())
    }
}

/// A consistent copy of every record ([`MetaStore::snapshot`](crate::MetaStore::snapshot)).
///
/// While it lives, every blob its records reference stays readable through
/// [`StoreSnapshot::open_blob`], even if the case is
/// deleted meanwhile.
pub struct StoreSnapshot {
    /// The records.
    pub records: StoreRecords,
    /// Reads a blob as of the snapshot.
    opener: BlobOpener,
    /// Whatever keeps the blobs in place for the backend.
    _hold: Box<dyn std::any::Any + Send + Sync>,
}

/// How a snapshot reads its blobs (see [`StoreSnapshot::new`]).
pub type BlobOpener = Box<dyn Fn(&BlobId) -> Result<BlobReader, StoreError> + Send + Sync>;

impl std::fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSnapshot")
            .field("cases", &self.records.cases.len())
            .field("objects", &self.records.objects.len())
            .finish_non_exhaustive()
    }
}

impl StoreSnapshot {
    /// A snapshot of `records`, reading its blobs with `opener`; `hold` is
    /// dropped with it (for a backend: whatever keeps the records' blobs
    /// from being removed meanwhile).
    pub fn new(
        records: StoreRecords,
        opener: BlobOpener,
        hold: impl std::any::Any + Send + Sync,
    ) -> Self {
        StoreSnapshot {
            records,
            opener,
            _hold: Box::new(hold),
        }
    }

    /// Opens one of the snapshot's blobs as a stream. It reads what the
    /// blob held when the snapshot was taken, even if its case has been
    /// deleted since.
    pub fn open_blob(&self, id: &BlobId) -> Result<BlobReader, StoreError> {
        (self.opener)(id)
    }
}
