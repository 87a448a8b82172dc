//! Blobs in PostgreSQL: rows of [`CHUNK`] bytes in `blob_chunks`, written
//! and read as streams.
//!
//! A sink writes its chunks inside one transaction on a connection of its
//! own, and [`BlobWrite::finish`] adds the `blobs` row and commits: a blob
//! is either whole and durable (staged, `used = false`) or not there at
//! all, and an abandoned upload leaves nothing (its transaction rolls
//! back). A blob smaller than one chunk takes a connection only for its
//! commit. A reader fetches one chunk per query, so neither side ever
//! holds more than a chunk.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use postgres::Client;
use sha2::{Digest, Sha256};

use super::pool::{Conn, Pool};
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
            conn: None,
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
            .query_opt("SELECT used FROM blobs WHERE id = $1", &[&blob.id.as_str()])
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
        .query_opt("SELECT size FROM blobs WHERE id = $1", &[&id.as_str()])
        .map_err(db)?;
    row.map(|r| unbig(r.get(0), "a blob's size")).transpose()
}

/// Writes one blob (see the module doc).
pub(crate) struct PgSink {
    pool: Arc<Pool>,
    id: BlobId,
    /// Taken when the first full chunk is written; in a transaction then.
    conn: Option<Conn>,
    buf: Vec<u8>,
    next_chunk: i32,
    hasher: Sha256,
    size: u64,
}

impl PgSink {
    /// Writes the buffered chunk, first opening the transaction.
    fn write_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.conn.is_none() {
            let mut conn = self.pool.get().map_err(io::Error::other)?;
            conn.batch_execute("BEGIN").map_err(io_db)?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("just set");
        conn.execute(
            "INSERT INTO blob_chunks (blob, n, data) VALUES ($1, $2, $3)",
            &[&self.id.as_str(), &self.next_chunk, &self.buf],
        )
        .map_err(io_db)?;
        self.next_chunk += 1;
        self.buf.clear();
        Ok(())
    }
}

fn io_db(e: postgres::Error) -> io::Error {
    match db(e) {
        StoreError::NoSpace => io::Error::from(io::ErrorKind::StorageFull),
        other => io::Error::other(other.to_string()),
    }
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
            self.write_chunk()?;
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
        // The last, partial chunk and the blob's row go in with the commit.
        if self.conn.is_none() {
            let mut conn = self.pool.get()?;
            conn.batch_execute("BEGIN").map_err(db)?;
            self.conn = Some(conn);
        }
        if !self.buf.is_empty() {
            self.write_chunk().map_err(StoreError::from)?;
        }
        let today = Day::today().to_string();
        let size = big(self.size, "a blob's size")?;
        let conn = self.conn.as_mut().expect("set above");
        conn.execute(
            "INSERT INTO blobs (id, size, sha256, staged_on) VALUES ($1, $2, $3, $4::text::date)",
            &[&self.id.as_str(), &size, &&sha256[..], &today],
        )
        .map_err(db)?;
        // Durable when this returns (synchronous_commit, the default; see
        // docs/OPERATIONS.md): only then does the caller get a StagedBlob.
        conn.batch_execute("COMMIT").map_err(db)?;
        let conn = self.conn.take();
        drop(conn);
        Ok(StagedBlob {
            id: self.id.clone(),
            size: self.size,
            sha256,
        })
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Unfinished: nothing of it may stay. If the rollback fails the
            // connection is broken, and closing it rolls back too.
            if conn.batch_execute("ROLLBACK").is_err() {
                conn.discard();
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
