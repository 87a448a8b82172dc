//! The records in PostgreSQL: [`MetaStore`] for [`PgStore`].
//!
//! Every call that changes something is one transaction, committed before
//! it returns (so before the server answers). Calls that add objects take
//! their sequence numbers from the `objects` counter row *last*, just
//! before inserting the objects, and hold its row lock until they commit:
//! see the crate doc, "The export cursor", for why this makes commit order
//! seq order across any number of instances.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use postgres::{GenericClient, Transaction};
use wbs_protocol::Status;

use super::blobs::{PgReader, Source};
use super::{big, db, is_retryable, is_unique, unbig, PgStore};
use crate::blob::StagedBlob;
use crate::dump::{
    AppliedEntry, BlobOpener, CaseEntry, StoreRecords, StoreSnapshot, TokenEntry, RECORDS_FORMAT,
};
use crate::error::StoreError;
use crate::ids::new_case_id;
use crate::records::{
    AuditEntry, CaseRecord, DigestState, ImportItem, ObjectKind, ObjectRecord, ReplyRecord,
    SessionRecord, TokenAuth, TokenInfo, TotpRecord,
};
use crate::store::{page_limit, BlobReader, MetaStore};
use crate::types::{BlobId, CaseId, Day, TokenName};

/// An error inside a transaction: the database's (which may be worth a
/// retry) or the store's own.
enum E {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for E {
    fn from(e: postgres::Error) -> Self {
        E::Pg(e)
    }
}

impl From<StoreError> for E {
    fn from(e: StoreError) -> Self {
        E::Store(e)
    }
}

impl From<E> for StoreError {
    fn from(e: E) -> Self {
        match e {
            E::Pg(e) => db(e),
            E::Store(e) => e,
        }
    }
}

type R<T> = Result<T, E>;

/// How often a transaction that lost a deadlock or a race between
/// instances is tried again.
const RETRIES: usize = 5;

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode record: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{what}: record does not parse: {e}")))
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: not 32 bytes")))
}

fn day(text: &str) -> Result<Day, StoreError> {
    Day::parse(text).map_err(|_| StoreError::Corrupt(format!("{text:?} is not a date")))
}

fn token_name(name: &str) -> Result<TokenName, StoreError> {
    TokenName::parse(name)
        .map_err(|_| StoreError::Corrupt(format!("tokens: {name:?} is not a token name")))
}

/// The 1-based number of the item at 0-based position `i`.
fn one_based(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// Marks staged blobs as used by the transaction's records: each must be
/// staged (committed by its sink), unused, and exactly what the caller
/// says it is. Refused otherwise, so a forged or reused `StagedBlob`
/// never attaches a blob to a second object.
fn use_blobs(tx: &mut Transaction<'_>, blobs: &[&StagedBlob]) -> R<()> {
    for b in blobs {
        let size = big(b.size, "a blob's size")?;
        let n = tx.execute(
            "UPDATE blobs SET used = true \
             WHERE id = $1 AND complete AND NOT used AND size = $2 AND sha256 = $3",
            &[&b.id.as_str(), &size, &&b.sha256[..]],
        )?;
        if n != 1 {
            return Err(E::Store(StoreError::Invalid(format!(
                "blob {} was never staged, does not match what it claims, or already belongs \
                 to an object",
                b.id
            ))));
        }
    }
    Ok(())
}

/// Takes `n` sequence numbers from the `objects` counter and returns the
/// first. The row lock this takes is held until the transaction ends.
fn take_seqs(tx: &mut Transaction<'_>, n: usize) -> R<u64> {
    let n = i64::try_from(n).map_err(|_| StoreError::Invalid("too many objects".into()))?;
    let last: i64 = tx
        .query_one(
            "UPDATE counters SET value = value + $1 WHERE name = 'objects' RETURNING value",
            &[&n],
        )?
        .get(0);
    Ok(unbig(last - n + 1, "the object counter")?)
}

/// Inserts object `seq` of `case` and updates the case's counters.
fn put_object(
    tx: &mut Transaction<'_>,
    seq: u64,
    case: &mut CaseRecord,
    kind: ObjectKind,
    blob: &StagedBlob,
    on: Day,
) -> R<()> {
    let record = ObjectRecord {
        seq,
        case_id: case.id.clone(),
        kind,
        blob: blob.id.clone(),
        size: blob.size,
        sha256: blob.sha256,
        on,
    };
    tx.execute(
        "INSERT INTO objects (seq, case_id, blob, record) VALUES ($1, $2, $3, $4)",
        &[
            &big(seq, "seq")?,
            &case.id.as_str(),
            &blob.id.as_str(),
            &json(&record)?,
        ],
    )?;
    case.objects += 1;
    case.bytes += blob.size;
    case.last_seq = seq;
    Ok(())
}

fn write_case(tx: &mut Transaction<'_>, case: &CaseRecord) -> R<()> {
    tx.execute(
        "UPDATE cases SET record = $2 WHERE id = $1",
        &[&case.id.as_str(), &json(case)?],
    )?;
    Ok(())
}

fn lock_case(tx: &mut Transaction<'_>, id: &CaseId) -> R<Option<CaseRecord>> {
    let row = tx.query_opt(
        "SELECT record FROM cases WHERE id = $1 FOR UPDATE",
        &[&id.as_str()],
    )?;
    Ok(match row {
        Some(r) => Some(parse(r.get(0), "cases")?),
        None => None,
    })
}

fn objects_of(
    client: &mut impl GenericClient,
    id: &CaseId,
) -> Result<Vec<ObjectRecord>, StoreError> {
    let rows = client
        .query(
            "SELECT record FROM objects WHERE case_id = $1 ORDER BY seq",
            &[&id.as_str()],
        )
        .map_err(db)?;
    rows.iter().map(|r| parse(r.get(0), "objects")).collect()
}

impl PgStore {
    /// Runs `f` in a transaction and commits, trying again after a
    /// deadlock or serialization failure.
    fn tx<T>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> R<T>) -> Result<T, StoreError> {
        let mut conn = self.pool().get()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = (|| {
                let mut tx = conn.transaction()?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match result {
                // A lost deadlock, or another instance applying the same
                // reply-bundle item first: the next attempt sees its commit.
                Err(E::Pg(e))
                    if attempt < RETRIES
                        && (is_retryable(&e) || is_unique(&e, "applied_items_pkey")) =>
                {
                    continue
                }
                other => return other.map_err(StoreError::from),
            }
        }
    }

    /// One page of a listing: `sql` takes the position to start after
    /// (`$1`) and the page size (`$2`, capped at [`MAX_PAGE`](crate::MAX_PAGE)).
    /// A position past what the database can hold has nothing after it.
    fn page(&self, sql: &str, after: u64, limit: usize) -> Result<Vec<postgres::Row>, StoreError> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let limit = page_limit(limit) as i64;
        let mut conn = self.pool().get()?;
        conn.query(sql, &[&after, &limit]).map_err(db)
    }

    /// Runs a call that consumes staged blobs: on failure, removes those
    /// of them no record uses (the call's own transaction rolled back).
    fn with_blobs<T>(
        &self,
        blobs: &[&StagedBlob],
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = f();
        if result.is_err() {
            let ids: Vec<&BlobId> = blobs.iter().map(|b| &b.id).collect();
            self.discard_unused(&ids);
        }
        result
    }

    /// Removes blobs that no record uses. Best effort: what stays is swept
    /// when a store opens, two days on.
    fn discard_unused(&self, ids: &[&BlobId]) {
        if ids.is_empty() {
            return;
        }
        let ids: Vec<&str> = ids.iter().map(|b| b.as_str()).collect();
        if let Ok(mut conn) = self.pool().get() {
            let _ = conn.execute("DELETE FROM blobs WHERE id = ANY($1) AND NOT used", &[&ids]);
        }
    }

    fn query_one_i64(&self, sql: &str) -> Result<i64, StoreError> {
        let mut conn = self.pool().get()?;
        Ok(conn.query_one(sql, &[]).map_err(db)?.get(0))
    }
}

/// The number of an existing follow-up of `objects` whose message and
/// attachments have exactly the SHA-256s of `blobs` (message first), as in
/// the sled backend: age encryption is randomised, so the same ciphertext
/// twice is one follow-up sent again.
fn same_followup(objects: &[ObjectRecord], blobs: &[&StagedBlob]) -> Option<u32> {
    let same_as = |n: u32| {
        let mut stored: Vec<(u32, [u8; 32])> = objects
            .iter()
            .filter_map(|o| match o.kind {
                ObjectKind::FollowupAttachment { n: m, index } if m == n => Some((index, o.sha256)),
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
    objects.iter().find_map(|o| match o.kind {
        ObjectKind::Followup { n } if o.sha256 == blobs[0].sha256 && same_as(n) => Some(n),
        _ => None,
    })
}

impl MetaStore for PgStore {
    fn create_case(
        &self,
        lookup_hash: [u8; 32],
        reply_recipient: &str,
        received_on: Day,
        report: StagedBlob,
        attachments: Vec<StagedBlob>,
    ) -> Result<CaseRecord, StoreError> {
        let all: Vec<&StagedBlob> = std::iter::once(&report).chain(&attachments).collect();
        self.with_blobs(&all, || {
            self.tx(|tx| {
                let taken = tx
                    .query_opt("SELECT 1 FROM cases WHERE lookup_hash = $1", &[&&lookup_hash[..]])?
                    .is_some();
                if taken {
                    return Err(E::Store(StoreError::LookupExists));
                }
                use_blobs(tx, &all)?;
                let id = new_case_id();
                let mut case = CaseRecord::received(id.clone(), reply_recipient, received_on);
                // Last: the counter's row lock is held until the commit.
                let first = take_seqs(tx, all.len())?;
                case.first_seq = first;
                let inserted = tx.execute(
                    "INSERT INTO cases (id, lookup_hash, first_seq, record) VALUES ($1, $2, $3, '')",
                    &[&id.as_str(), &&lookup_hash[..], &big(first, "seq")?],
                );
                match inserted {
                    Err(e) if is_unique(&e, "cases_lookup_hash_key") => {
                        return Err(E::Store(StoreError::LookupExists))
                    }
                    other => other?,
                };
                put_object(tx, first, &mut case, ObjectKind::Report, &report, received_on)?;
                for (i, blob) in attachments.iter().enumerate() {
                    let kind = ObjectKind::Attachment {
                        index: one_based(i),
                    };
                    put_object(tx, first + 1 + i as u64, &mut case, kind, blob, received_on)?;
                }
                write_case(tx, &case)?;
                Ok(case.clone())
            })
        })
    }

    fn case_by_lookup(&self, lookup_hash: &[u8; 32]) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt(
                "SELECT record FROM cases WHERE lookup_hash = $1",
                &[&&lookup_hash[..]],
            )
            .map_err(db)?;
        row.map(|r| parse(r.get(0), "cases")).transpose()
    }

    fn case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt("SELECT record FROM cases WHERE id = $1", &[&id.as_str()])
            .map_err(db)?;
        row.map(|r| parse(r.get(0), "cases")).transpose()
    }

    fn add_followup(
        &self,
        case_id: &CaseId,
        message: StagedBlob,
        attachments: Vec<StagedBlob>,
        on: Day,
    ) -> Result<u32, StoreError> {
        let all: Vec<&StagedBlob> = std::iter::once(&message).chain(&attachments).collect();
        let (n, resent) = self.with_blobs(&all, || {
            self.tx(|tx| {
                // The row lock makes the resend check and the insert one
                // step, on every instance.
                let Some(mut case) = lock_case(tx, case_id)? else {
                    return Err(E::Store(StoreError::NotFound));
                };
                let objects = objects_of(tx, case_id)?;
                if let Some(n) = same_followup(&objects, &all) {
                    return Ok((n, true));
                }
                use_blobs(tx, &all)?;
                let n = case.followups + 1;
                let first = take_seqs(tx, all.len())?;
                put_object(
                    tx,
                    first,
                    &mut case,
                    ObjectKind::Followup { n },
                    &message,
                    on,
                )?;
                for (i, blob) in attachments.iter().enumerate() {
                    let kind = ObjectKind::FollowupAttachment {
                        n,
                        index: one_based(i),
                    };
                    put_object(tx, first + 1 + i as u64, &mut case, kind, blob, on)?;
                }
                case.followups = n;
                write_case(tx, &case)?;
                Ok((n, false))
            })
        })?;
        if resent {
            // Already stored: the client sent it again after losing the
            // answer. Its new copies go.
            let ids: Vec<&BlobId> = all.iter().map(|b| &b.id).collect();
            self.discard_unused(&ids);
        }
        Ok(n)
    }

    fn set_status(&self, case_id: &CaseId, status: Status, on: Day) -> Result<(), StoreError> {
        self.tx(|tx| {
            let Some(mut case) = lock_case(tx, case_id)? else {
                return Err(E::Store(StoreError::NotFound));
            };
            if case.status != status {
                case.status = status;
                case.history.push((status, on));
                write_case(tx, &case)?;
            }
            Ok(())
        })
    }

    fn apply_import(&self, items: Vec<ImportItem>, on: Day) -> Result<(u32, u32), StoreError> {
        let blobs: Vec<&StagedBlob> = items
            .iter()
            .filter_map(|item| item.reply.as_ref().map(|(_, blob)| blob))
            .collect();
        let skipped = self.with_blobs(&blobs, || {
            if let Some(item) = items.iter().find(|i| i.item_id.is_empty()) {
                return Err(StoreError::Invalid(format!(
                    "an item for case {} has an empty item id",
                    item.case_id
                )));
            }
            self.tx(|tx| import_items(tx, &items, on))
        })?;
        let dropped: Vec<&BlobId> = skipped
            .iter()
            .filter_map(|&i| items[i].reply.as_ref().map(|(_, b)| &b.id))
            .collect();
        self.discard_unused(&dropped);
        Ok(((items.len() - skipped.len()) as u32, skipped.len() as u32))
    }

    fn list_cases(&self, after: u64, limit: usize) -> Result<Vec<CaseRecord>, StoreError> {
        let rows = self.page(
            "SELECT record FROM cases WHERE first_seq > $1 ORDER BY first_seq LIMIT $2",
            after,
            limit,
        )?;
        rows.iter().map(|r| parse(r.get(0), "cases")).collect()
    }

    fn objects_since(&self, cursor: u64, limit: usize) -> Result<Vec<ObjectRecord>, StoreError> {
        // One statement, one snapshot: every object in it committed before
        // the snapshot, and so did every object with a lower seq (crate
        // doc, "The export cursor").
        let rows = self.page(
            "SELECT record FROM objects WHERE seq > $1 ORDER BY seq LIMIT $2",
            cursor,
            limit,
        )?;
        rows.iter().map(|r| parse(r.get(0), "objects")).collect()
    }

    fn objects_of_case(&self, case_id: &CaseId) -> Result<Vec<ObjectRecord>, StoreError> {
        let mut conn = self.pool().get()?;
        objects_of(&mut *conn, case_id)
    }

    fn cursor(&self) -> Result<u64, StoreError> {
        unbig(
            self.query_one_i64("SELECT value FROM counters WHERE name = 'objects'")?,
            "the object counter",
        )
    }

    fn delete_case(&self, id: &CaseId) -> Result<(), StoreError> {
        self.tx(|tx| {
            if lock_case(tx, id)?.is_none() {
                return Err(E::Store(StoreError::NotFound));
            }
            let blobs: Vec<String> = tx
                .query(
                    "SELECT blob FROM objects WHERE case_id = $1",
                    &[&id.as_str()],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.execute("DELETE FROM objects WHERE case_id = $1", &[&id.as_str()])?;
            tx.execute("DELETE FROM cases WHERE id = $1", &[&id.as_str()])?;
            // The blobs and their chunks (ON DELETE CASCADE) go in the same
            // transaction as the records.
            tx.execute("DELETE FROM blobs WHERE id = ANY($1)", &[&blobs])?;
            Ok(())
        })
    }

    fn add_token(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let today = Day::today().to_string();
        self.tx(|tx| {
            let inserted = tx.execute(
                "INSERT INTO tokens (hash, name, created_on, totp_sealed) \
                 VALUES ($1, $2, $3::text::date, $4)",
                &[&&token_hash[..], &name.as_str(), &today, &totp_sealed],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(e) if is_unique(&e, "tokens_name_key") => Err(E::Store(StoreError::Invalid(
                    format!("a token named {:?} already exists", name.as_str()),
                ))),
                Err(e) if is_unique(&e, "tokens_pkey") => Err(E::Store(StoreError::Invalid(
                    "this token is already registered under another name".into(),
                ))),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut conn = self.pool().get()?;
        let rows = conn
            .query(
                "SELECT name, created_on::text, totp_sealed IS NOT NULL FROM tokens ORDER BY name",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    name: token_name(r.get(0))?,
                    created_on: day(r.get(1))?,
                    totp: r.get(2),
                })
            })
            .collect()
    }

    fn revoke_token(&self, name: &TokenName) -> Result<(), StoreError> {
        self.tx(|tx| {
            let Some(row) = tx.query_opt(
                "DELETE FROM tokens WHERE name = $1 RETURNING hash",
                &[&name.as_str()],
            )?
            else {
                return Err(E::Store(StoreError::NotFound));
            };
            let hash: Vec<u8> = row.get(0);
            // Its desk sessions end with it, on every instance.
            tx.execute("DELETE FROM sessions WHERE token_hash = $1", &[&hash])?;
            Ok(())
        })
    }

    fn token_auth(&self, token_hash: &[u8; 32]) -> Result<Option<TokenAuth>, StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt(
                "SELECT name, totp_sealed, totp_last_step FROM tokens WHERE hash = $1",
                &[&&token_hash[..]],
            )
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Option<Vec<u8>> = row.get(1);
        Ok(Some(TokenAuth {
            name: token_name(row.get(0))?,
            totp: match sealed {
                Some(sealed) => Some(TotpRecord {
                    sealed,
                    last_step: unbig(row.get(2), "a TOTP step")?,
                }),
                None => None,
            },
        }))
    }

    fn set_token_totp(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE tokens SET totp_sealed = $3, totp_last_step = 0 \
                 WHERE name = $1 AND hash = $2",
                &[&name.as_str(), &&token_hash[..], &totp_sealed],
            )?;
            if n == 1 {
                Ok(())
            } else {
                Err(E::Store(StoreError::NotFound))
            }
        })
    }

    fn accept_totp_step(&self, token_hash: &[u8; 32], step: u64) -> Result<bool, StoreError> {
        let step = big(step, "a TOTP step")?;
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE tokens SET totp_last_step = $2 \
                 WHERE hash = $1 AND totp_sealed IS NOT NULL AND totp_last_step < $2",
                &[&&token_hash[..], &step],
            )?;
            if n == 1 {
                return Ok(true);
            }
            let enrolled = tx
                .query_opt(
                    "SELECT 1 FROM tokens WHERE hash = $1 AND totp_sealed IS NOT NULL",
                    &[&&token_hash[..]],
                )?
                .is_some();
            if enrolled {
                Ok(false)
            } else {
                Err(E::Store(StoreError::NotFound))
            }
        })
    }

    fn digest_state(&self) -> Result<DigestState, StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt("SELECT cursor, sent_on::text FROM digest WHERE id = 1", &[])
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(DigestState::default());
        };
        let sent_on: Option<String> = row.get(1);
        Ok(DigestState {
            cursor: unbig(row.get(0), "the digest cursor")?,
            sent_on: sent_on.as_deref().map(day).transpose()?,
        })
    }

    fn set_digest_state(&self, state: &DigestState) -> Result<(), StoreError> {
        let cursor = big(state.cursor, "the digest cursor")?;
        let sent_on = state.sent_on.map(|d| d.to_string());
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO digest (id, cursor, sent_on) VALUES (1, $1, $2::text::date) \
                 ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, \
                 sent_on = excluded.sent_on",
                &[&cursor, &sent_on],
            )?;
            Ok(())
        })
    }

    fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        let today = Day::today().to_string();
        self.tx(|tx| {
            let seq: i64 = tx
                .query_one(
                    "UPDATE counters SET value = value + 1 WHERE name = 'audit' RETURNING value",
                    &[],
                )?
                .get(0);
            tx.execute(
                "INSERT INTO audit (seq, on_day, actor, action, detail) \
                 VALUES ($1, $2::text::date, $3, $4, $5)",
                &[&seq, &today, &actor, &action, &detail],
            )?;
            Ok(())
        })
    }

    fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.page(
            "SELECT seq, on_day::text, actor, action, detail FROM audit \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            after,
            limit,
        )?;
        rows.iter().map(audit_entry).collect()
    }

    fn spend_pow(&self, id: [u8; 16], expires_at: u64, now: u64) -> Result<bool, StoreError> {
        if expires_at <= now {
            return Ok(false);
        }
        let (expires_at, now) = (big(expires_at, "an expiry")?, big(now, "a time")?);
        self.tx(|tx| {
            tx.execute(
                "DELETE FROM pow_spent WHERE id IN \
                 (SELECT id FROM pow_spent WHERE expires_at <= $1 LIMIT 1000)",
                &[&now],
            )?;
            let n = tx.execute(
                "INSERT INTO pow_spent (id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING",
                &[&&id[..], &expires_at],
            )?;
            Ok(n == 1)
        })
    }

    fn session_create(
        &self,
        id_hash: [u8; 32],
        session: &SessionRecord,
        now: u64,
        per_name: usize,
        max_total: usize,
    ) -> Result<bool, StoreError> {
        let now = big(now, "a time")?;
        let (idle, expires) = (
            big(session.idle_until, "an expiry")?,
            big(session.expires_at, "an expiry")?,
        );
        let per_name = i64::try_from(per_name.max(1)).unwrap_or(i64::MAX);
        let max_total = i64::try_from(max_total).unwrap_or(i64::MAX);
        self.tx(|tx| {
            // One opening at a time across instances, so the limits hold.
            tx.batch_execute("LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE")?;
            tx.execute(
                "DELETE FROM sessions WHERE idle_until <= $1 OR expires_at <= $1",
                &[&now],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions \
                 WHERE name = $1 ORDER BY expires_at \
                 LIMIT greatest((SELECT count(*) FROM sessions WHERE name = $1) + 1 - $2, 0))",
                &[&session.name.as_str(), &per_name],
            )?;
            let live: i64 = tx.query_one("SELECT count(*) FROM sessions", &[])?.get(0);
            if live >= max_total {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO sessions (id_hash, name, token_hash, csrf, idle_until, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&id_hash[..],
                    &session.name.as_str(),
                    &&session.token_hash[..],
                    &&session.csrf[..],
                    &idle,
                    &expires,
                ],
            )?;
            Ok(true)
        })
    }

    fn session_get(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt(
                "SELECT name, token_hash, csrf, idle_until, expires_at FROM sessions \
                 WHERE id_hash = $1",
                &[&&id_hash[..]],
            )
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let session = SessionRecord {
            name: token_name(row.get(0))?,
            token_hash: hash32(row.get(1), "sessions")?,
            csrf: hash32(row.get(2), "sessions")?,
            idle_until: unbig(row.get(3), "an expiry")?,
            expires_at: unbig(row.get(4), "an expiry")?,
        };
        if !session.alive(now) {
            conn.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]])
                .map_err(db)?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    fn session_touch(
        &self,
        id_hash: &[u8; 32],
        now: u64,
        idle_secs: u64,
    ) -> Result<(), StoreError> {
        let idle_until = big(now.saturating_add(idle_secs), "an expiry")?;
        let now = big(now, "a time")?;
        let mut conn = self.pool().get()?;
        conn.execute(
            "UPDATE sessions SET idle_until = least($3, expires_at) \
             WHERE id_hash = $1 AND idle_until > $2 AND expires_at > $2",
            &[&&id_hash[..], &now, &idle_until],
        )
        .map_err(db)?;
        Ok(())
    }

    fn session_delete(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        let mut conn = self.pool().get()?;
        conn.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]])
            .map_err(db)?;
        Ok(())
    }

    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let until = big(now.saturating_add(ttl_secs), "an expiry")?;
        let now = big(now, "a time")?;
        let mut conn = self.pool().get()?;
        // The insert or the conditional update is one statement under the
        // row's lock: of two instances asking together, one wins.
        let n = conn
            .execute(
                "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE leases.holder = excluded.holder OR leases.until <= $4",
                &[&name, &holder, &until, &now],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every call commits before it returns.
        Ok(())
    }

    fn health(&self) -> Result<(), StoreError> {
        let mut conn = self.pool().get()?;
        super::check_writable(&mut conn)
    }

    fn snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        let mut client = self.pool().connect()?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(db)?;
        let records = read_records(&mut client)?;
        // The connection stays in its transaction while the snapshot
        // lives: its blobs are read as of the snapshot, even those of a
        // case deleted meanwhile (MVCC keeps the rows for it).
        let pinned = Arc::new(Mutex::new(client));
        let reader_client = pinned.clone();
        let opener: BlobOpener = Box::new(move |id: &BlobId| {
            let size = {
                let mut client = reader_client.lock().unwrap_or_else(|e| e.into_inner());
                let row = client
                    .query_opt(
                        "SELECT size FROM blobs WHERE id = $1 AND complete",
                        &[&id.as_str()],
                    )
                    .map_err(db)?;
                match row {
                    Some(r) => unbig(r.get(0), "a blob's size")?,
                    None => return Err(StoreError::NotFound),
                }
            };
            let reader: BlobReader = Box::new(PgReader {
                source: Source::Pinned(reader_client.clone()),
                id: id.clone(),
                size,
                next_chunk: 0,
                chunk: Vec::new(),
                pos: 0,
            });
            Ok(reader)
        });
        Ok(StoreSnapshot::new(records, opener, pinned))
    }
}

fn audit_entry(r: &postgres::Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: unbig(r.get(0), "an audit seq")?,
        on: day(r.get(1))?,
        actor: r.get(2),
        action: r.get(3),
        detail: r.get(4),
    })
}

/// The body of `apply_import`'s transaction. Returns the positions of the
/// skipped items.
fn import_items(tx: &mut Transaction<'_>, items: &[ImportItem], on: Day) -> R<Vec<usize>> {
    let ids: Vec<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
    let applied_before: HashSet<String> = tx
        .query(
            "SELECT item_id FROM applied_items WHERE item_id = ANY($1)",
            &[&ids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut seen = HashSet::new();
    let mut skipped = Vec::new();
    let mut todo = Vec::new();
    for (pos, item) in items.iter().enumerate() {
        if applied_before.contains(&item.item_id) || !seen.insert(item.item_id.as_str()) {
            skipped.push(pos);
        } else {
            todo.push(item);
        }
    }
    // Lock the cases in id order, so two imports never deadlock.
    let mut case_ids: Vec<&str> = todo.iter().map(|i| i.case_id.as_str()).collect();
    case_ids.sort_unstable();
    case_ids.dedup();
    let mut cases: HashMap<String, CaseRecord> = HashMap::new();
    for row in tx.query(
        "SELECT id, record FROM cases WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&case_ids],
    )? {
        cases.insert(row.get(0), parse(row.get(1), "cases")?);
    }
    if case_ids.len() != cases.len() {
        return Err(E::Store(StoreError::NotFound));
    }
    let replies: Vec<&StagedBlob> = todo
        .iter()
        .filter_map(|i| i.reply.as_ref().map(|(_, b)| b))
        .collect();
    use_blobs(tx, &replies)?;
    // Last: the counter's row lock is held until the commit.
    let mut next = if replies.is_empty() {
        0
    } else {
        take_seqs(tx, replies.len())?
    };
    for item in &todo {
        let case = cases.get_mut(item.case_id.as_str()).expect("locked above");
        if let Some(status) = item.status {
            if status != case.status {
                case.status = status;
                case.history.push((status, on));
            }
        }
        if let Some((reply_id, blob)) = &item.reply {
            if reply_id.is_empty() || case.replies.iter().any(|r| &r.id == reply_id) {
                return Err(E::Store(StoreError::Invalid(format!(
                    "reply id {reply_id:?} is empty or already used in case {}",
                    case.id
                ))));
            }
            let n = one_based(case.replies.len());
            put_object(tx, next, case, ObjectKind::Reply { n }, blob, on)?;
            next += 1;
            case.replies.push(ReplyRecord {
                id: reply_id.clone(),
                n,
                blob: blob.id.clone(),
                size: blob.size,
                on,
            });
        }
        let inserted = tx.execute(
            "INSERT INTO applied_items (item_id, on_day) VALUES ($1, $2::text::date)",
            &[&item.item_id, &on.to_string()],
        );
        match inserted {
            // Another instance applied it meanwhile: start over, and it is
            // skipped.
            Err(e) if is_unique(&e, "applied_items_pkey") => {
                return Err(E::Pg(e));
            }
            other => other?,
        };
    }
    for case in cases.values() {
        write_case(tx, case)?;
    }
    Ok(skipped)
}

/// Every record, inside the caller's repeatable-read transaction.
fn read_records(client: &mut postgres::Client) -> Result<StoreRecords, StoreError> {
    let counter = |client: &mut postgres::Client, name: &str| -> Result<u64, StoreError> {
        let v: i64 = client
            .query_one("SELECT value FROM counters WHERE name = $1", &[&name])
            .map_err(db)?
            .get(0);
        unbig(v, "a counter")
    };
    let last_seq = counter(client, "objects")?;
    let last_audit_seq = counter(client, "audit")?;
    let mut records = StoreRecords {
        format: RECORDS_FORMAT.into(),
        last_seq,
        last_audit_seq,
        cases: Vec::new(),
        objects: Vec::new(),
        applied_items: Vec::new(),
        tokens: Vec::new(),
        audit: Vec::new(),
        digest: None,
    };
    for row in client
        .query(
            "SELECT lookup_hash, record FROM cases ORDER BY first_seq",
            &[],
        )
        .map_err(db)?
    {
        records.cases.push(CaseEntry {
            lookup_hash: hash32(row.get(0), "cases")?,
            case: parse(row.get(1), "cases")?,
        });
    }
    for row in client
        .query("SELECT record FROM objects ORDER BY seq", &[])
        .map_err(db)?
    {
        records.objects.push(parse(row.get(0), "objects")?);
    }
    for row in client
        .query(
            "SELECT item_id, on_day::text FROM applied_items ORDER BY item_id",
            &[],
        )
        .map_err(db)?
    {
        records.applied_items.push(AppliedEntry {
            item_id: row.get(0),
            on: day(row.get(1))?,
        });
    }
    for row in client
        .query(
            "SELECT hash, name, created_on::text, totp_sealed, totp_last_step FROM tokens \
             ORDER BY hash",
            &[],
        )
        .map_err(db)?
    {
        let sealed: Option<Vec<u8>> = row.get(3);
        records.tokens.push(TokenEntry {
            token_hash: hash32(row.get(0), "tokens")?,
            name: token_name(row.get(1))?,
            created_on: day(row.get(2))?,
            totp: match sealed {
                Some(sealed) => Some(TotpRecord {
                    sealed,
                    last_step: unbig(row.get(4), "a TOTP step")?,
                }),
                None => None,
            },
        });
    }
    for row in client
        .query(
            "SELECT seq, on_day::text, actor, action, detail FROM audit ORDER BY seq",
            &[],
        )
        .map_err(db)?
    {
        records.audit.push(audit_entry(&row)?);
    }
    if let Some(row) = client
        .query_opt("SELECT cursor, sent_on::text FROM digest WHERE id = 1", &[])
        .map_err(db)?
    {
        let sent_on: Option<String> = row.get(1);
        records.digest = Some(DigestState {
            cursor: unbig(row.get(0), "the digest cursor")?,
            sent_on: sent_on.as_deref().map(day).transpose()?,
        });
    }
    Ok(records)
}
