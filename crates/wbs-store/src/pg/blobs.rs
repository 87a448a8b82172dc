//! Blobs in PostgreSQL: rows of [`CHUNK`] bytes in `blob_chunks`, written
//! and read as streams.
//!
//! A sink writes each full chunk in a short transaction of its own, under
//! a `blobs` row that says `complete = false`, and holds no connection in
//! between: a slow upload (a reporter on Tor) neither keeps a connection
//! from the pool nor keeps a transaction open in the database.
//! [`BlobWrite::finish`] writes the last chunk and marks the blob complete
//! with its size and SHA-256 in one synchronous commit: only then is it
//! staged (durable, `used = false`), and nothing reads or uses an
//! incomplete blob. An abandoned sink deletes what it wrote; what a crash
//! leaves is swept when a store opens, two days on. A blob smaller than
//! one chunk is one transaction. A reader fetches one chunk per query, so
//! neither side ever holds more than a chunk.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use postgres::Client;
use sha2::{Digest, Sha256};

use super::pool::Pool;
use super::{big, db, unbig, PgStore, CHUNK};
use crate::blob::{BlobSink, BlobWrite, StagedBlob};
use crate::error::StoreError;
use crate::ids::new_blob_id;
use crate::store::{BlobReader, BlobStore};
use crate::types::{BlobId, Day};

impl BlobStore for PgStore {
    fn blob_sink(&self) -> Result<BlobSink, StoreError> {
        Ok(BlobSink::new(Box::new(PgSink {
            pool: self.pool().clone(),
            id: new_blob_id(),
            started: false,
            buf: Vec::new(),
            next_chunk: 0,
            hasher: Sha256::new(),
            size: 0,
        })))
    }

    fn open_blob(&self, id: &BlobId) -> Result<BlobReader, StoreError> {
        let mut conn = self.pool().get()?;
        let size = blob_size(&mut conn, id)?.ok_or(StoreError::NotFound)?;
        drop(conn);
        Ok(Box::new(PgReader {
            source: Source::Pool(self.pool().clone()),
            id: id.clone(),
            size,
            next_chunk: 0,
            chunk: Vec::new(),
            pos: 0,
        }))
    }

    fn discard_blob(&self, blob: StagedBlob) -> Result<(), StoreError> {
        let mut conn = self.pool().get()?;
        let row = conn
            .query_opt(
                "SELECT used FROM blobs WHERE id = $1 AND complete",
                &[&blob.id.as_str()],
            )
            .map_err(db)?;
        match row {
            Some(r) if r.get::<_, bool>(0) => Err(StoreError::Invalid(format!(
                "blob {} belongs to a case and cannot be discarded",
                blob.id
            ))),
            Some(_) => {
                conn.execute(
                    "DELETE FROM blobs WHERE id = $1 AND NOT used",
                    &[&blob.id.as_str()],
                )
                .map_err(db)?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

fn blob_size(client: &mut Client, id: &BlobId) -> Result<Option<u64>, StoreError> {
    let row = client
        .query_opt(
            "SELECT size FROM blobs WHERE id = $1 AND complete",
            &[&id.as_str()],
        )
        .map_err(db)?;
    row.map(|r| unbig(r.get(0), "a blob's size")).transpose()
}

/// Writes one blob (see the module doc).
pub(crate) struct PgSink {
    pool: Arc<Pool>,
    id: BlobId,
    /// Whether the (incomplete) `blobs` row has been committed, so that
    /// an abandoned sink has something to remove.
    started: bool,
    buf: Vec<u8>,
    next_chunk: i32,
    hasher: Sha256,
    size: u64,
}

impl PgSink {
    /// Writes the buffered full chunk in a short transaction of its own,
    /// first creating the incomplete `blobs` row. These commits need not
    /// wait for the disk: the commit of [`finish`](BlobWrite::finish) is
    /// synchronous, and flushing the write-ahead log up to it flushes
    /// everything written before it.
    fn write_chunk(&mut self) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
            .map_err(db)?;
        if !self.started {
            insert_incomplete(&mut tx, &self.id)?;
        }
        tx.execute(
            "INSERT INTO blob_chunks (blob, n, data) VALUES ($1, $2, $3)",
            &[&self.id.as_str(), &self.next_chunk, &self.buf],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        self.started = true;
        self.next_chunk += 1;
        self.buf.clear();
        Ok(())
    }
}

/// The `blobs` row of a blob being written: not complete, so nothing can
/// use or read it yet.
fn insert_incomplete(tx: &mut postgres::Transaction<'_>, id: &BlobId) -> Result<(), StoreError> {
    let today = Day::today().to_string();
    tx.execute(
        "INSERT INTO blobs (id, size, sha256, staged_on) VALUES ($1, 0, $2, $3::text::date)",
        &[&id.as_str(), &&[0u8; 32][..], &today],
    )
    .map_err(db)?;
    Ok(())
}

fn io_store(e: StoreError) -> io::Error {
    match e {
        StoreError::NoSpace => io::Error::from(io::ErrorKind::StorageFull),
        other => io::Error::other(other.to_string()),
    }
}

fn io_db(e: postgres::Error) -> io::Error {
    io_store(db(e))
}

impl Write for PgSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(CHUNK.min(data.len().max(8 * 1024)));
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.size += n as u64;
        if self.buf.len() == CHUNK {
            self.write_chunk().map_err(io_store)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWrite for PgSink {
    fn size(&self) -> u64 {
        self.size
    }

    fn finish(mut self: Box<Self>) -> Result<StagedBlob, StoreError> {
        let sha256: [u8; 32] = self.hasher.clone().finalize().into();
        let size = big(self.size, "a blob's size")?;
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction().map_err(db)?;
        if !self.started {
            insert_incomplete(&mut tx, &self.id)?;
        }
        if !self.buf.is_empty() {
            tx.execute(
                "INSERT INTO blob_chunks (blob, n, data) VALUES ($1, $2, $3)",
                &[&self.id.as_str(), &self.next_chunk, &self.buf],
            )
            .map_err(db)?;
        }
        let n = tx
            .execute(
                "UPDATE blobs SET size = $2, sha256 = $3, complete = true \
                 WHERE id = $1 AND NOT complete",
                &[&self.id.as_str(), &size, &&sha256[..]],
            )
            .map_err(db)?;
        if n != 1 {
            return Err(StoreError::Backend(format!(
                "blob {} was removed while it was being written",
                self.id
            )));
        }
        // Synchronous (the default): durable when this returns, and only
        // then does the caller get a StagedBlob.
        tx.commit().map_err(db)?;
        self.started = false;
        Ok(StagedBlob {
            id: self.id.clone(),
            size: self.size,
            sha256,
        })
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        if self.started {
            // Unfinished: nothing of it may stay. Best effort; what a
            // failure leaves is swept when a store opens, two days on.
            if let Ok(mut conn) = self.pool.get() {
                let _ = conn.execute(
                    "DELETE FROM blobs WHERE id = $1 AND NOT complete",
                    &[&self.id.as_str()],
                );
            }
        }
    }
}

/// Where a reader gets its chunks.
pub(crate) enum Source {
    /// A pooled connection per chunk.
    Pool(Arc<Pool>),
    /// A snapshot's own connection, in its repeatable-read transaction.
    Pinned(Arc<Mutex<Client>>),
}

/// Reads one blob, a chunk at a time.
pub(crate) struct PgReader {
    pub(crate) source: Source,
    pub(crate) id: BlobId,
    pub(crate) size: u64,
    pub(crate) next_chunk: i32,
    pub(crate) chunk: Vec<u8>,
    pub(crate) pos: usize,
}

impl PgReader {
    fn fetch(&mut self) -> io::Result<()> {
        let sql = "SELECT data FROM blob_chunks WHERE blob = $1 AND n = $2";
        let params: [&(dyn postgres::types::ToSql + Sync); 2] =
            [&self.id.as_str(), &self.next_chunk];
        let row = match &self.source {
            Source::Pool(pool) => {
                let mut conn = pool.get().map_err(io::Error::other)?;
                conn.query_opt(sql, &params).map_err(io_db)?
            }
            Source::Pinned(client) => {
                let mut client = client.lock().unwrap_or_else(|e| e.into_inner());
                client.query_opt(sql, &params).map_err(io_db)?
            }
        };
        let Some(row) = row else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "blob {} ends before its recorded size (deleted while being read?)",
                    self.id
                ),
            ));
        };
        self.chunk = row.get(0);
        self.pos = 0;
        self.next_chunk += 1;
        Ok(())
    }
}

impl Read for PgReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            let read_so_far = u64::try_from(self.next_chunk).unwrap_or(0) * CHUNK as u64;
            if read_so_far >= self.size {
                return Ok(0);
            }
            self.fetch()?;
            if self.chunk.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes `data` as the chunks of blob `id` inside the caller's
/// transaction; returns its size and SHA-256. For a restore, whose blobs
/// and records commit together.
pub(crate) fn write_chunks(
    tx: &mut Client,
    id: &BlobId,
    data: &mut dyn Read,
) -> Result<(u64, [u8; 32]), StoreError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0i32;
    loop {
        let mut filled = 0;
        while filled < CHUNK {
            let got = data.read(&mut buf[filled..])?;
            if got == 0 {
                break;
            }
            filled += got;
        }
        if filled == 0 && n > 0 {
            break;
        }
        hasher.update(&buf[..filled]);
        size += filled as u64;
        if filled > 0 {
            tx.execute(
                "INSERT INTO blob_chunks (blob, n, data) VALUES ($1, $2, $3)",
                &[&id.as_str(), &n, &&buf[..filled]],
            )
            .map_err(db)?;
            n += 1;
        }
        if filled < CHUNK {
            break;
        }
    }
    Ok((size, hasher.finalize().into()))
}
