//! [`PgStore`]: records and blobs in one PostgreSQL database, shared by any
//! number of server instances. See the crate doc for the export cursor and
//! the durability rule; `schema.rs` for the tables.

mod blobs;
mod meta;
mod pool;
mod restore;
mod schema;
mod tls;

use std::sync::Arc;

use postgres::error::SqlState;
use postgres::GenericClient;

pub use restore::PgRestore;

use crate::error::StoreError;
use crate::types::Day;
use pool::{describe, Pool};
use schema::{MIGRATIONS, MIGRATION_LOCK, SCHEMA_VERSION};

/// Bytes per row of `blob_chunks`. A blob is written and read one chunk
/// at a time, so this (plus the driver's copy of it) is what one upload
/// or one download keeps in memory, whatever the blob's size.
pub(crate) const CHUNK: usize = 256 * 1024;

/// A staged blob that no record uses is removed when a store opens, once
/// it is this many days old (by date; an upload in flight on another
/// instance is never that old).
const STALE_STAGED_DAYS: i64 = 2;

/// The PostgreSQL backend.
pub struct PgStore {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url`, creates the schema if the
    /// database has none, applies pending migrations, and removes staged
    /// blobs that were never used (older than two days).
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        Self::open_with(url, true)
    }

    /// Like [`open`](PgStore::open), but refuses a database that holds no
    /// WBS schema yet ([`StoreError::Invalid`]).
    pub fn open_existing(url: &str) -> Result<PgStore, StoreError> {
        Self::open_with(url, false)
    }

    fn open_with(url: &str, create: bool) -> Result<PgStore, StoreError> {
        let (config, tls) = tls::configure(url)?;
        let pool = Arc::new(Pool::new(config, tls));
        {
            let mut conn = pool.get()?;
            check_writable(&mut conn)?;
            migrate(&mut conn, create)?;
            let stale = Day::today().plus_days(-STALE_STAGED_DAYS).to_string();
            conn.execute(
                "DELETE FROM blobs WHERE NOT used AND staged_on < $1::text::date",
                &[&stale],
            )
            .map_err(db)?;
        }
        Ok(PgStore { pool })
    }

    /// The schema version of the database (for `verify` and tests).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        let mut conn = self.pool.get()?;
        schema_version(&mut *conn)?.ok_or_else(|| StoreError::Corrupt("no schema version".into()))
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

/// Refuses a database that takes no writes. Reachable is not enough:
/// after a failover the old primary may come back as a read-only standby,
/// and every write would fail.
pub(crate) fn check_writable(client: &mut postgres::Client) -> Result<(), StoreError> {
    let writable: bool = client
        .query_one(
            "SELECT NOT pg_is_in_recovery() \
             AND current_setting('transaction_read_only') = 'off'",
            &[],
        )
        .map_err(db)?
        .get(0);
    if writable {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "the database takes no writes (a read-only standby, or read-only by \
             configuration); point WBS at the primary"
                .into(),
        ))
    }
}

/// The version in `wbs_schema`, `None` if the table is not there.
fn schema_version(client: &mut impl GenericClient) -> Result<Option<i32>, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('wbs_schema') IS NOT NULL", &[])
        .map_err(db)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt("SELECT version FROM wbs_schema WHERE id = 1", &[])
        .map_err(db)?;
    Ok(Some(row.map_or(0, |r| r.get(0))))
}

/// Brings the schema to [`SCHEMA_VERSION`], or refuses a newer one.
fn migrate(client: &mut postgres::Client, create: bool) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db)?;
    let result = (|| {
        let version = match schema_version(client)? {
            Some(v) => v,
            None if create => {
                client
                    .batch_execute(
                        "CREATE TABLE IF NOT EXISTS wbs_schema (\
                         id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);\
                         INSERT INTO wbs_schema (id, version) VALUES (1, 0) \
                         ON CONFLICT (id) DO NOTHING;",
                    )
                    .map_err(db)?;
                0
            }
            None => {
                return Err(StoreError::Invalid(
                    "the database holds no WBS store (no wbs_schema table); start \
                     wbs-server on it once to create one"
                        .into(),
                ))
            }
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::Incompatible(format!(
                "the database has WBS schema version {version}, but this wbs-server knows \
                 only up to version {SCHEMA_VERSION}: it was written by a newer WBS. Run \
                 that newer version (never an older binary against a newer schema)"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let next = i as i32 + 1;
            let mut tx = client.transaction().map_err(db)?;
            tx.batch_execute(sql).map_err(db)?;
            tx.execute("UPDATE wbs_schema SET version = $1 WHERE id = 1", &[&next])
                .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        Ok(())
    })();
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked.map_err(db)?;
    Ok(())
}

/// A database error as a store error: a full disk is
/// [`StoreError::NoSpace`], everything else [`StoreError::Backend`].
pub(crate) fn db(e: postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::DISK_FULL => StoreError::NoSpace,
        _ => StoreError::Backend(describe(&e)),
    }
}

/// Whether `e` is a unique violation of `constraint`.
pub(crate) fn is_unique(e: &postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|d| {
        *d.code() == SqlState::UNIQUE_VIOLATION && d.constraint() == Some(constraint)
    })
}

/// Whether retrying the transaction may succeed (a deadlock or a
/// serialization failure between instances).
pub(crate) fn is_retryable(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// `u64` to `bigint`, refusing what does not fit.
pub(crate) fn big(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} {v} is out of range")))
}

/// `bigint` from the database to `u64`; a negative one is damage.
pub(crate) fn unbig(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative")))
}
