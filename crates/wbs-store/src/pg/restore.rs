//! Restoring records and blobs into a PostgreSQL database, in one
//! transaction: until [`RestoreTarget::finish`] commits, the database
//! holds nothing of the restore, and dropping an unfinished restore (or a
//! crash) leaves it as it was.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use postgres::Client;

use super::blobs::write_chunks;
use super::{big, db, PgStore};
use crate::blob::StagedBlob;
use crate::dump::StoreRecords;
use crate::error::StoreError;
use crate::location::RestoreTarget;
use crate::store::Store;
use crate::types::BlobId;

/// A restore in progress into a PostgreSQL database.
pub struct PgRestore {
    url: String,
    client: Client,
    records: StoreRecords,
    expected: HashMap<BlobId, StagedBlob>,
    written: HashSet<BlobId>,
}

impl std::fmt::Debug for PgRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRestore")
            .field("blobs", &self.expected.len())
            .field("written", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Starts restoring `records` (checked first) into the database at
    /// `url`, which must hold no WBS records (its schema is created or
    /// brought up to date first).
    pub fn restore(url: &str, records: StoreRecords) -> Result<PgRestore, StoreError> {
        records.check()?;
        let store = PgStore::open(url)?;
        let mut client = store.pool().connect()?;
        client.batch_execute("BEGIN").map_err(db)?;
        // No instance may write while the restore runs.
        client
            .batch_execute(
                "LOCK TABLE counters, cases, blobs, blob_chunks, objects, applied_items, \
                 tokens, audit, digest IN EXCLUSIVE MODE",
            )
            .map_err(db)?;
        let held: i64 = client
            .query_one(
                "SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM blobs) \
                 + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM audit) \
                 + (SELECT count(*) FROM applied_items) + (SELECT count(*) FROM digest) \
                 + (SELECT coalesce(sum(value), 0)::bigint FROM counters)",
                &[],
            )
            .map_err(db)?
            .get(0);
        if held != 0 {
            return Err(StoreError::Invalid(
                "the database already holds WBS records: restore only into a new or empty \
                 database (a restore never replaces or mixes with existing data)"
                    .into(),
            ));
        }
        let expected = records
            .blobs()
            .into_iter()
            .map(|b| (b.id.clone(), b))
            .collect();
        Ok(PgRestore {
            url: url.to_owned(),
            client,
            records,
            expected,
            written: HashSet::new(),
        })
    }
}

impl RestoreTarget for PgRestore {
    fn records(&self) -> &StoreRecords {
        &self.records
    }

    fn write_blob(&mut self, id: &str, data: &mut dyn Read) -> Result<(), StoreError> {
        let expected = self.expected.get(id).ok_or_else(|| {
            StoreError::Invalid(format!("blob {id:?} is not referenced by any object"))
        })?;
        if self.written.contains(id) {
            return Err(StoreError::Invalid(format!("blob {id} comes twice")));
        }
        self.client.batch_execute("SAVEPOINT blob").map_err(db)?;
        let written = (|| {
            let today = crate::types::Day::today().to_string();
            self.client
                .execute(
                    "INSERT INTO blobs (id, size, sha256, staged_on) \
                     VALUES ($1, 0, $2, $3::text::date)",
                    &[&expected.id.as_str(), &&[0u8; 32][..], &today],
                )
                .map_err(db)?;
            let (size, sha256) = write_chunks(&mut self.client, &expected.id, data)?;
            if size != expected.size || sha256 != expected.sha256 {
                return Err(StoreError::Corrupt(format!(
                    "blob {} does not match the size and SHA-256 its records give",
                    expected.id
                )));
            }
            self.client
                .execute(
                    "UPDATE blobs SET size = $2, sha256 = $3, complete = true, used = true \
                     WHERE id = $1",
                    &[
                        &expected.id.as_str(),
                        &big(size, "a blob's size")?,
                        &&sha256[..],
                    ],
                )
                .map_err(db)?;
            Ok(())
        })();
        match written {
            Ok(()) => {
                self.client
                    .batch_execute("RELEASE SAVEPOINT blob")
                    .map_err(db)?;
                self.written.insert(expected.id.clone());
                Ok(())
            }
            Err(e) => {
                self.client
                    .batch_execute("ROLLBACK TO SAVEPOINT blob")
                    .map_err(db)?;
                Err(e)
            }
        }
    }

    fn missing_blobs(&self) -> Vec<BlobId> {
        self.records
            .objects
            .iter()
            .filter(|o| !self.written.contains(&o.blob))
            .map(|o| o.blob.clone())
            .collect()
    }

    fn finish(mut self: Box<Self>) -> Result<Box<dyn Store>, StoreError> {
        let missing = self.missing_blobs();
        if let Some(first) = missing.first() {
            return Err(StoreError::Corrupt(format!(
                "{} blob(s) the records reference are missing (the first is {first})",
                missing.len()
            )));
        }
        let r = &self.records;
        let c = &mut self.client;
        let json = |v: &dyn erased::Json| v.to_json();
        c.execute(
            "UPDATE counters SET value = $1 WHERE name = 'objects'",
            &[&big(r.last_seq, "last_seq")?],
        )
        .map_err(db)?;
        c.execute(
            "UPDATE counters SET value = $1 WHERE name = 'audit'",
            &[&big(r.last_audit_seq, "last_audit_seq")?],
        )
        .map_err(db)?;
        for entry in &r.cases {
            c.execute(
                "INSERT INTO cases (id, lookup_hash, first_seq, record) VALUES ($1, $2, $3, $4)",
                &[
                    &entry.case.id.as_str(),
                    &&entry.lookup_hash[..],
                    &big(entry.case.first_seq, "seq")?,
                    &json(&entry.case)?,
                ],
            )
            .map_err(db)?;
        }
        for o in &r.objects {
            c.execute(
                "INSERT INTO objects (seq, case_id, blob, record) VALUES ($1, $2, $3, $4)",
                &[
                    &big(o.seq, "seq")?,
                    &o.case_id.as_str(),
                    &o.blob.as_str(),
                    &json(o)?,
                ],
            )
            .map_err(db)?;
        }
        for item in &r.applied_items {
            c.execute(
                "INSERT INTO applied_items (item_id, on_day) VALUES ($1, $2::text::date)",
                &[&item.item_id, &item.on.to_string()],
            )
            .map_err(db)?;
        }
        for t in &r.tokens {
            let (sealed, step) = match &t.totp {
                Some(totp) => (
                    Some(totp.sealed.clone()),
                    big(totp.last_step, "a TOTP step")?,
                ),
                None => (None, 0),
            };
            c.execute(
                "INSERT INTO tokens (hash, name, created_on, totp_sealed, totp_last_step) \
                 VALUES ($1, $2, $3::text::date, $4, $5)",
                &[
                    &&t.token_hash[..],
                    &t.name.as_str(),
                    &t.created_on.to_string(),
                    &sealed,
                    &step,
                ],
            )
            .map_err(db)?;
        }
        for a in &r.audit {
            c.execute(
                "INSERT INTO audit (seq, on_day, actor, action, detail) \
                 VALUES ($1, $2::text::date, $3, $4, $5)",
                &[
                    &big(a.seq, "an audit seq")?,
                    &a.on.to_string(),
                    &a.actor,
                    &a.action,
                    &a.detail,
                ],
            )
            .map_err(db)?;
        }
        if let Some(d) = &r.digest {
            c.execute(
                "INSERT INTO digest (id, cursor, sent_on) VALUES (1, $1, $2::text::date)",
                &[
                    &big(d.cursor, "the digest cursor")?,
                    &d.sent_on.map(|d| d.to_string()),
                ],
            )
            .map_err(db)?;
        }
        c.batch_execute("COMMIT").map_err(db)?;
        Ok(Box::new(PgStore::open(&self.url)?))
    }
}

mod erased {
    use crate::error::StoreError;

    /// A record that serializes to JSON (objects and cases).
    pub(super) trait Json {
        fn to_json(&self) -> Result<String, StoreError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Result<String, StoreError> {
            serde_json::to_string(self)
                .map_err(|e| StoreError::Backend(format!("cannot encode record: {e}")))
        }
    }
}
