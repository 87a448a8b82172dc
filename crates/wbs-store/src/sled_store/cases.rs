//! Cases and their objects: creating, extending, importing, listing,
//! deleting.
//!
//! Every call that adds objects draws their sequence numbers from the
//! `last_seq` counter in `meta` *inside* the transaction that commits them.
//! sled runs transactions one at a time, and a plain read never sees half a
//! commit, so commit order is seq order: once `objects_since` has shown
//! seq X, no object with seq ≤ X can appear later, and an export cursor can
//! never skip one.

use sled::transaction::ConflictableTransactionResult;
use wbs_protocol::Status;

use super::{CaseTx, SledStore, META_LAST_SEQ};
use crate::blob::StagedBlob;
use crate::codec::{
    abort, case_object_key, from_json, read_u64, seq_key, seq_of_case_object_key, to_json,
    AppliedItem, StoredCase,
};
use crate::error::StoreError;
use crate::ids::{is_case_id, new_case_id};
use crate::records::{CaseRecord, ImportItem, ObjectKind, ObjectRecord, ReplyRecord};
use crate::types::{CaseId, Day};

type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Hands out sequence numbers within one transaction.
struct SeqCounter {
    last: u64,
}

impl SeqCounter {
    fn load(tx: &CaseTx<'_>) -> TxResult<SeqCounter> {
        let last = match tx.meta.get(META_LAST_SEQ)? {
            Some(v) => read_u64(&v, "meta last_seq").map_err(abort)?,
            None => 0,
        };
        Ok(SeqCounter { last })
    }

    fn next(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    fn store(&self, tx: &CaseTx<'_>) -> TxResult<()> {
        tx.meta.insert(META_LAST_SEQ, &seq_key(self.last))?;
        Ok(())
    }
}

fn read_case(tx: &CaseTx<'_>, id: &str) -> TxResult<Option<StoredCase>> {
    match tx.cases.get(id)? {
        Some(bytes) => Ok(Some(from_json(&bytes, "cases").map_err(abort)?)),
        None => Ok(None),
    }
}

fn write_case(tx: &CaseTx<'_>, stored: &StoredCase) -> TxResult<()> {
    tx.cases
        .insert(stored.case.id.as_bytes(), to_json(stored).map_err(abort)?)?;
    Ok(())
}

/// Records one new object of `case` with the next seq and updates the
/// case's counters. Refuses a blob that some object already uses.
fn put_object(
    tx: &CaseTx<'_>,
    seqs: &mut SeqCounter,
    case: &mut CaseRecord,
    kind: ObjectKind,
    blob: &StagedBlob,
    on: Day,
) -> TxResult<u64> {
    if tx.blob_refs.get(blob.id.as_bytes())?.is_some() {
        return Err(abort(StoreError::Invalid(format!(
            "blob {} already belongs to an object",
            blob.id
        ))));
    }
    let seq = seqs.next();
    let record = ObjectRecord {
        seq,
        case_id: case.id.clone(),
        kind,
        blob: blob.id.clone(),
        size: blob.size,
        sha256: blob.sha256,
        on,
    };
    tx.objects
        .insert(&seq_key(seq), to_json(&record).map_err(abort)?)?;
    tx.case_objects
        .insert(case_object_key(&case.id, seq), &[] as &[u8])?;
    tx.blob_refs.insert(blob.id.as_bytes(), &seq_key(seq))?;
    case.objects += 1;
    case.bytes += blob.size;
    case.last_seq = seq;
    Ok(seq)
}

/// The 1-based number of the item at 0-based position `i`. (No case gets
/// anywhere near 2^32 attachments or replies; saturate rather than panic.)
fn one_based(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

impl SledStore {
    /// Runs a call that consumes staged blobs: checks they are really
    /// staged, commits, and on failure before the commit removes them; on
    /// success flushes. A flush failure after the commit keeps the blobs:
    /// by then metadata points at them.
    fn commit_with_blobs<T>(
        &self,
        blobs: &[&StagedBlob],
        commit: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let committed = blobs
            .iter()
            .try_for_each(|b| self.files.check_staged(b))
            .and_then(|()| commit());
        match committed {
            Ok(value) => {
                self.sync()?;
                Ok(value)
            }
            Err(e) => {
                self.discard_unreferenced(blobs.iter().map(|b| b.id.as_str()));
                Err(e)
            }
        }
    }

    pub(super) fn create_case_impl(
        &self,
        lookup_hash: [u8; 32],
        reply_recipient: &str,
        received_on: Day,
        report: StagedBlob,
        attachments: Vec<StagedBlob>,
    ) -> Result<CaseRecord, StoreError> {
        let all: Vec<&StagedBlob> = std::iter::once(&report).chain(&attachments).collect();
        self.commit_with_blobs(&all, || {
            self.case_tx(|tx| {
                if tx.lookups.get(lookup_hash)?.is_some() {
                    return Err(abort(StoreError::LookupExists));
                }
                // 100 random bits: a clash is practically impossible, but
                // looking costs nothing here.
                let id: CaseId = loop {
                    let id = new_case_id();
                    if tx.cases.get(id.as_bytes())?.is_none() {
                        break id;
                    }
                };
                let mut seqs = SeqCounter::load(tx)?;
                let mut case = CaseRecord::received(id.clone(), reply_recipient, received_on);
                case.first_seq = put_object(
                    tx,
                    &mut seqs,
                    &mut case,
                    ObjectKind::Report,
                    &report,
                    received_on,
                )?;
                for (i, blob) in attachments.iter().enumerate() {
                    let kind = ObjectKind::Attachment {
                        index: one_based(i),
                    };
                    put_object(tx, &mut seqs, &mut case, kind, blob, received_on)?;
                }
                seqs.store(tx)?;
                tx.lookups.insert(&lookup_hash, id.as_bytes())?;
                let stored = StoredCase {
                    lookup: lookup_hash,
                    case,
                };
                write_case(tx, &stored)?;
                Ok(stored.case)
            })
        })
    }

    pub(super) fn stored_case(&self, id: &str) -> Result<Option<StoredCase>, StoreError> {
        match self.trees.cases.get(id)? {
            Some(bytes) => Ok(Some(from_json(&bytes, "cases")?)),
            None => Ok(None),
        }
    }

    pub(super) fn case_by_lookup_impl(
        &self,
        lookup_hash: &[u8; 32],
    ) -> Result<Option<CaseRecord>, StoreError> {
        let Some(id) = self.trees.lookups.get(lookup_hash)? else {
            return Ok(None);
        };
        // A case deleted between the two reads simply is not there.
        let id = String::from_utf8_lossy(&id).into_owned();
        Ok(self.stored_case(&id)?.map(|s| s.case))
    }

    pub(super) fn add_followup_impl(
        &self,
        case_id: &str,
        message: StagedBlob,
        attachments: Vec<StagedBlob>,
        on: Day,
    ) -> Result<u32, StoreError> {
        let all: Vec<&StagedBlob> = std::iter::once(&message).chain(&attachments).collect();
        // One follow-up at a time, so a resent follow-up finds the first
        // one even when both arrive together (see `same_followup`).
        let _one_at_a_time = self.followups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = self.same_followup(case_id, &all)? {
            // Already stored: the client sent it again after losing the
            // answer. Nothing changes; the answer is the same.
            self.discard_unreferenced(all.iter().map(|b| b.id.as_str()));
            self.sync()?;
            return Ok(n);
        }
        self.commit_with_blobs(&all, || {
            self.case_tx(|tx| {
                let Some(mut stored) = read_case(tx, case_id)? else {
                    return Err(abort(StoreError::NotFound));
                };
                let case = &mut stored.case;
                let n = case.followups + 1;
                let mut seqs = SeqCounter::load(tx)?;
                put_object(
                    tx,
                    &mut seqs,
                    case,
                    ObjectKind::Followup { n },
                    &message,
                    on,
                )?;
                for (i, blob) in attachments.iter().enumerate() {
                    let kind = ObjectKind::FollowupAttachment {
                        n,
                        index: one_based(i),
                    };
                    put_object(tx, &mut seqs, case, kind, blob, on)?;
                }
                case.followups = n;
                seqs.store(tx)?;
                write_case(tx, &stored)?;
                Ok(n)
            })
        })
    }

    /// The number of a follow-up of `case_id` whose objects have exactly
    /// the SHA-256s of `blobs` (message first, then attachments in order).
    ///
    /// age encryption is randomised, so two follow-ups a reporter wrote
    /// never share a message ciphertext; the same bytes arriving twice are
    /// one follow-up sent again (a client retrying after a connection broke
    /// mid-answer). Storing it once makes that retry safe.
    fn same_followup(
        &self,
        case_id: &str,
        blobs: &[&StagedBlob],
    ) -> Result<Option<u32>, StoreError> {
        let objects = match self.objects_of_case_impl(case_id) {
            Ok(objects) => objects,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let same_as = |n: u32| {
            let mut stored: Vec<(u32, [u8; 32])> = objects
                .iter()
                .filter_map(|o| match o.kind {
                    ObjectKind::FollowupAttachment { n: m, index } if m == n => {
                        Some((index, o.sha256))
                    }
                    _ => None,
                })
                .collect();
            stored.sort_unstable_by_key(|(index, _)| *index);
            stored.len() == blobs.len() - 1
                && stored
                    .iter()
                    .zip(&blobs[1..])
                    .all(|((_, digest), blob)| *digest == blob.sha256)
        };
        Ok(objects.iter().find_map(|o| match o.kind {
            ObjectKind::Followup { n } if o.sha256 == blobs[0].sha256 && same_as(n) => Some(n),
            _ => None,
        }))
    }

    pub(super) fn set_status_impl(
        &self,
        case_id: &str,
        status: Status,
        on: Day,
    ) -> Result<(), StoreError> {
        let changed = self.case_tx(|tx| {
            let Some(mut stored) = read_case(tx, case_id)? else {
                return Err(abort(StoreError::NotFound));
            };
            if stored.case.status == status {
                return Ok(false);
            }
            stored.case.status = status;
            stored.case.history.push((status, on));
            write_case(tx, &stored)?;
            Ok(true)
        })?;
        if changed {
            self.sync()?;
        }
        Ok(())
    }

    pub(super) fn apply_import_impl(
        &self,
        items: Vec<ImportItem>,
        on: Day,
    ) -> Result<(u32, u32), StoreError> {
        let blobs: Vec<&StagedBlob> = items
            .iter()
            .filter_map(|item| item.reply.as_ref().map(|(_, blob)| blob))
            .collect();
        let (applied, skipped) = self.commit_with_blobs(&blobs, || {
            if let Some(item) = items.iter().find(|i| i.item_id.is_empty()) {
                return Err(StoreError::Invalid(format!(
                    "an item for case {} has an empty item id",
                    item.case_id
                )));
            }
            self.case_tx(|tx| import_items(tx, &items, on))
        })?;
        // Skipped items were applied by an earlier push: their freshly
        // staged replies are duplicates that nothing references.
        self.discard_unreferenced(
            skipped
                .iter()
                .filter_map(|&i| items[i].reply.as_ref().map(|(_, b)| b.id.as_str())),
        );
        Ok((applied, skipped.len() as u32))
    }

    pub(super) fn list_cases_impl(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<CaseRecord>, StoreError> {
        // The `objects` tree is in seq order, and a case's first object is
        // its report: walking the reports after `after` walks the cases in
        // order of arrival without reading any other case.
        let mut cases = Vec::new();
        let Some(from) = after.checked_add(1) else {
            return Ok(cases);
        };
        for value in self.trees.objects.range(seq_key(from)..).values() {
            let object: ObjectRecord = from_json(&value?, "objects")?;
            if object.kind != ObjectKind::Report {
                continue;
            }
            if let Some(stored) = self.stored_case(&object.case_id)? {
                cases.push(stored.case);
                if cases.len() >= limit {
                    break;
                }
            }
        }
        Ok(cases)
    }

    pub(super) fn objects_since_impl(
        &self,
        cursor: u64,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>, StoreError> {
        // Read the counter first: every commit up to it is complete, so the
        // scan below sees all of 1..=top. Objects a concurrent commit adds
        // beyond `top` are left for the next call, keeping the answer
        // free of gaps.
        let top = crate::MetaStore::cursor(self)?;
        if cursor >= top {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for value in self
            .trees
            .objects
            .range(seq_key(cursor + 1)..=seq_key(top))
            .values()
            .take(limit)
        {
            out.push(from_json(&value?, "objects")?);
        }
        Ok(out)
    }

    pub(super) fn objects_of_case_impl(
        &self,
        case_id: &str,
    ) -> Result<Vec<ObjectRecord>, StoreError> {
        // An empty or short prefix would match other cases' objects.
        if !is_case_id(case_id) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for key in self.trees.case_objects.scan_prefix(case_id).keys() {
            let seq = seq_of_case_object_key(&key?)?;
            if let Some(value) = self.trees.objects.get(seq_key(seq))? {
                out.push(from_json(&value, "objects")?);
            }
        }
        Ok(out)
    }

    pub(super) fn delete_case_impl(&self, id: &str) -> Result<(), StoreError> {
        // sled transactions cannot scan, so the case's objects are listed
        // first and the transaction checks that none was added meanwhile
        // (last_seq unchanged); if one was, list again.
        // Anything but a case id (an empty string above all) would turn the
        // prefix scan below into a scan of other cases' objects.
        if !is_case_id(id) {
            return Err(StoreError::NotFound);
        }
        for _attempt in 0..16 {
            let Some(before) = self.stored_case(id)? else {
                return Err(StoreError::NotFound);
            };
            let mut seqs = Vec::new();
            for key in self.trees.case_objects.scan_prefix(id).keys() {
                seqs.push(seq_of_case_object_key(&key?)?);
            }
            let removed = self.case_tx(|tx| {
                let Some(now) = read_case(tx, id)? else {
                    return Err(abort(StoreError::NotFound));
                };
                if now.case.last_seq != before.case.last_seq {
                    return Ok(None);
                }
                let mut blobs = Vec::with_capacity(seqs.len());
                for &seq in &seqs {
                    if let Some(value) = tx.objects.remove(&seq_key(seq))? {
                        let record: ObjectRecord = from_json(&value, "objects").map_err(abort)?;
                        tx.blob_refs.remove(record.blob.as_bytes())?;
                        blobs.push(record.blob);
                    }
                    tx.case_objects.remove(case_object_key(id, seq))?;
                }
                if tx.lookups.get(now.lookup)?.as_deref() == Some(id.as_bytes()) {
                    tx.lookups.remove(&now.lookup)?;
                }
                tx.cases.remove(id.as_bytes())?;
                Ok(Some(blobs))
            })?;
            let Some(blobs) = removed else { continue };
            // Metadata first, durably; only then the files. A crash in
            // between leaves unreferenced blobs, which the next start sweeps.
            // While a snapshot (a backup) is in use, the files stay until it
            // is done with them.
            self.sync()?;
            self.pins.remove(blobs);
            return Ok(());
        }
        Err(StoreError::Backend(format!(
            "case {id} kept changing while being deleted; try again"
        )))
    }
}

/// The body of `apply_import`'s transaction. Returns how many items were
/// applied and the positions of the skipped ones.
fn import_items(tx: &CaseTx<'_>, items: &[ImportItem], on: Day) -> TxResult<(u32, Vec<usize>)> {
    let mut seqs = SeqCounter::load(tx)?;
    let mut applied = 0u32;
    let mut skipped = Vec::new();
    for (pos, item) in items.iter().enumerate() {
        // Reads see this transaction's own writes, so an item id repeated
        // within one batch is skipped the second time too.
        if tx.applied_items.get(item.item_id.as_bytes())?.is_some() {
            skipped.push(pos);
            continue;
        }
        let Some(mut stored) = read_case(tx, &item.case_id)? else {
            return Err(abort(StoreError::NotFound));
        };
        let case = &mut stored.case;
        if let Some(status) = item.status {
            if status != case.status {
                case.status = status;
                case.history.push((status, on));
            }
        }
        if let Some((reply_id, blob)) = &item.reply {
            if reply_id.is_empty() || case.replies.iter().any(|r| &r.id == reply_id) {
                return Err(abort(StoreError::Invalid(format!(
                    "reply id {reply_id:?} is empty or already used in case {}",
                    case.id
                ))));
            }
            let n = one_based(case.replies.len());
            put_object(tx, &mut seqs, case, ObjectKind::Reply { n }, blob, on)?;
            case.replies.push(ReplyRecord {
                id: reply_id.clone(),
                n,
                blob: blob.id.clone(),
                size: blob.size,
                on,
            });
        }
        write_case(tx, &stored)?;
        let mark = to_json(&AppliedItem { on }).map_err(abort)?;
        tx.applied_items.insert(item.item_id.as_bytes(), mark)?;
        applied += 1;
    }
    seqs.store(tx)?;
    Ok((applied, skipped))
}
