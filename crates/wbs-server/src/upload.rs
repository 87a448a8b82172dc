//! Streaming uploads into blob storage, with the age header check applied
//! as the first bytes arrive. No object is ever held whole in memory.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use wbs_protocol::header::{
    check_header, payload_len_is_valid, HeaderCheck, HeaderError, Stanzas, MAX_HEADER_LEN,
};
use wbs_store::{BlobSink, StagedBlob, Store};

use crate::error::ApiError;
use crate::guard::{BodyMeter, GuardError};

/// Bytes gathered before each hand-over to the blocking writer.
const WRITE_BATCH: usize = 256 * 1024;

/// What an object must look like.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRules {
    /// Recipient stanzas required: how many, of which kind.
    pub recipients: Stanzas,
    /// Largest object.
    pub max_bytes: u64,
    /// Longest silence from the client.
    pub idle: Duration,
}

/// Tracks the header check and size while bytes stream through (also
/// across the requests of a resumable upload, [`crate::resumable`]).
pub struct Checker {
    rules: ObjectRules,
    prefix: Vec<u8>,
    header_len: Option<usize>,
    total: u64,
}

impl Checker {
    /// A checker for an object that follows `rules`.
    pub fn new(rules: ObjectRules) -> Self {
        Checker {
            rules,
            prefix: Vec::new(),
            header_len: None,
            total: 0,
        }
    }

    /// Checks the next bytes of the object.
    pub fn feed(&mut self, chunk: &[u8], part: &str) -> Result<(), ApiError> {
        self.total += chunk.len() as u64;
        if self.total > self.rules.max_bytes {
            return Err(ApiError::too_large(format!(
                "{part} is larger than the limit of {} bytes",
                self.rules.max_bytes
            )));
        }
        if self.header_len.is_none() {
            let room = (MAX_HEADER_LEN + 1).saturating_sub(self.prefix.len());
            self.prefix
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            match check_header(&self.prefix, self.rules.recipients) {
                Ok(HeaderCheck::Complete { header_len }) => {
                    self.header_len = Some(header_len);
                    self.prefix = Vec::new();
                }
                Ok(HeaderCheck::NeedMore) => {}
                Err(e) => return Err(header_error(part, e)),
            }
        }
        Ok(())
    }

    /// Checks that the object ended where it may.
    pub fn finish(&self, part: &str) -> Result<(), ApiError> {
        let header_len = self
            .header_len
            .ok_or_else(|| header_error(part, HeaderError::Malformed("truncated header")))?;
        if !payload_len_is_valid(self.total - header_len as u64) {
            return Err(header_error(part, HeaderError::Payload));
        }
        Ok(())
    }
}

fn header_error(part: &str, e: HeaderError) -> ApiError {
    ApiError::unprocessable("invalid_object", format!("{part}: {e}"))
}

/// Maps a multipart error: a failure of the body guard keeps its own answer
/// ([`GuardError::to_api`]), the body limit becomes 413, the rest 400.
pub fn multipart_error(e: MultipartError) -> ApiError {
    if let Some(g) = GuardError::find(&e) {
        return g.to_api();
    }
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("the request is larger than the server accepts")
    } else {
        ApiError::bad_request(
            "malformed_multipart",
            format!("malformed multipart body: {}", e.body_text()),
        )
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Streams one multipart field into a staged blob, checking it on the way.
pub async fn receive_field(
    store: &Arc<dyn Store>,
    field: &mut Field<'_>,
    rules: ObjectRules,
    part: &str,
    meter: &BodyMeter,
) -> Result<StagedBlob, ApiError> {
    let s = store.clone();
    let mut sink: Option<BlobSink> =
        Some(blocking(move || s.blob_sink().map_err(ApiError::from)).await?);
    let mut writing: Option<tokio::task::JoinHandle<Result<BlobSink, ApiError>>> = None;
    let mut checker = Checker::new(rules);
    // Grows with the data: most objects are small reports, and a 256 KiB
    // buffer for each of them (32 uploads at once in the benchmark) left
    // the server's memory growing with load (docs/BENCHMARKS.md).
    let mut batch: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(rules.idle, field.chunk()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the upload stalled; nothing was stored",
                ))
            }
            Ok(Err(e)) => return Err(multipart_error(e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(c))) => c,
        };
        meter.consumed(chunk.len());
        checker.feed(&chunk, part)?;
        batch.extend_from_slice(&chunk);
        if batch.len() >= WRITE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH));
            // Double buffering: the next batch is received while this one
            // is hashed and written, instead of after (a 1 GiB upload: from
            // 220-350 to 320-370 MiB/s, docs/BENCHMARKS.md). At most two
            // batches are in memory. A write still running when the upload
            // fails finishes on its own and drops the sink, which removes
            // the temporary file.
            let mut ready = match writing.take() {
                Some(previous) => previous.await.map_err(ApiError::internal)??,
                None => sink.take().expect("the sink is here unless a write runs"),
            };
            writing = Some(tokio::task::spawn_blocking(move || {
                ready.write_all(&full).map_err(io_error)?;
                Ok::<_, ApiError>(ready)
            }));
        }
    }
    checker.finish(part)?;
    let mut sink = match writing.take() {
        Some(previous) => previous.await.map_err(ApiError::internal)??,
        None => sink.take().expect("the sink is here unless a write runs"),
    };
    blocking(move || {
        sink.write_all(&batch).map_err(io_error)?;
        sink.finish().map_err(ApiError::from)
    })
    .await
}

/// The same, from a blocking reader (reply bundles on import).
pub fn receive_reader(
    store: &dyn Store,
    reader: &mut dyn Read,
    rules: ObjectRules,
    part: &str,
) -> Result<StagedBlob, ApiError> {
    let mut sink = store.blob_sink()?;
    let mut checker = Checker::new(rules);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                ApiError::unprocessable(
                    "hash_mismatch",
                    format!("{part} does not match its SHA-256"),
                )
            } else {
                ApiError::bad_request("malformed_bundle", format!("{part}: {e}"))
            }
        })?;
        if n == 0 {
            break;
        }
        checker.feed(&buf[..n], part)?;
        sink.write_all(&buf[..n]).map_err(io_error)?;
    }
    checker.finish(part)?;
    Ok(sink.finish()?)
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::from(wbs_store::StoreError::from(e))
}
