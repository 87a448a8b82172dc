//! Resumable uploads over HTTP (docs/PROTOCOL.md §7.4), after the IETF
//! draft "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload)
//! where it fits:
//!
//! - `POST /api/v1/uploads` opens an upload: a JSON body with the declared
//!   length and a proof of work, charged like a submission; 201 with the
//!   upload's id (also in `Location`).
//! - `HEAD /api/v1/uploads/{id}`: how many bytes the server holds
//!   (`Upload-Offset`), and whether the upload is complete.
//! - `PATCH /api/v1/uploads/{id}` with `Upload-Offset`: appends bytes. A
//!   range the server already holds may be sent again: bytes that equal
//!   what is held are accepted (idempotent), bytes that differ are refused
//!   (409 `upload_conflict`).
//! - `DELETE /api/v1/uploads/{id}`: cancels, removing every byte.
//!
//! None of these handlers logs anything about a request, and the id never
//! appears in a message.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use wbs_protocol::api::PowSolution;

use super::ApiJson;
use crate::error::ApiError;
use crate::resumable::{Refusal, Staging, Upload, UploadState};
use crate::state::SharedState;
use crate::upload::{Checker, ObjectRules};

/// Bytes gathered before each write to the staging file.
const WRITE_BATCH: usize = 256 * 1024;

/// The label objects get in error messages.
const PART: &str = "the upload";

/// `POST /api/v1/uploads` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenUpload {
    /// The whole object's length in bytes.
    pub length: u64,
    /// The solved challenge (absent when proof of work is off).
    #[serde(default)]
    pub pow: Option<PowSolution>,
}

/// `POST /api/v1/uploads` answer.
#[derive(Debug, Serialize)]
pub struct UploadOpened {
    /// The upload's id: a capability, known only to its client.
    pub upload: String,
    /// Bytes held: 0.
    pub offset: u64,
    /// The declared length.
    pub length: u64,
    /// Seconds the upload lives, finished or not, unless a submission or
    /// follow-up uses it.
    pub expires_in_secs: u64,
}

fn rules(app: &SharedState) -> ObjectRules {
    ObjectRules {
        recipients: app.object_stanzas(),
        max_bytes: app.settings.limits.max_object_bytes,
        idle: Duration::from_secs(app.settings.limits.body_idle_timeout_secs),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "upload_not_found",
        "no such upload: it expired, was used or cancelled, or the server restarted; start it again",
    )
}

fn staging_full() -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "staging_full",
        "the server holds as many unfinished uploads as it can; try again later",
    )
}

fn offset_headers(h: &mut HeaderMap, offset: u64, length: u64, complete: bool) {
    h.insert("upload-offset", HeaderValue::from(offset));
    h.insert("upload-length", HeaderValue::from(length));
    h.insert(
        "upload-complete",
        HeaderValue::from_static(if complete { "?1" } else { "?0" }),
    );
}

/// An error answer that also says how many bytes are held.
fn with_offset(e: ApiError, offset: u64, length: u64, complete: bool) -> Response {
    let mut resp = e.into_response();
    offset_headers(resp.headers_mut(), offset, length, complete);
    resp
}

/// `POST /api/v1/uploads`.
pub async fn post_upload(
    State(app): State<SharedState>,
    ApiJson(req): ApiJson<OpenUpload>,
) -> Result<Response, ApiError> {
    let max = app.settings.limits.max_object_bytes;
    if req.length == 0 {
        return Err(ApiError::unprocessable(
            "invalid_length",
            "length must be above 0",
        ));
    }
    if req.length > max {
        return Err(ApiError::too_large(format!(
            "the upload is larger than the limit of {max} bytes"
        )));
    }
    let verified = super::reporter::verify_pow(&app, req.pow.as_ref())?;
    // Room first, so that a full staging area costs the client no budget
    // and spends no challenge.
    let reservation = app
        .staging
        .reserve(req.length)
        .map_err(|Refusal::Full| staging_full())?;
    let slot = super::reporter::redeem(&app, verified, &app.rates.submissions).await?;
    drop(slot);
    let staging = app.staging.clone();
    let checker = Checker::new(rules(&app));
    let new = tokio::task::spawn_blocking(move || staging.open(reservation, checker))
        .await
        .map_err(ApiError::internal)??;
    let expires_in_secs = app.staging.expiry().as_secs();
    let mut resp = (
        StatusCode::CREATED,
        Json(UploadOpened {
            upload: new.id.clone(),
            offset: 0,
            length: new.upload.length,
            expires_in_secs,
        }),
    )
        .into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("uploads/{}", new.id)) {
        h.insert(header::LOCATION, v);
    }
    offset_headers(h, 0, new.upload.length, false);
    if let Ok(v) = HeaderValue::from_str(&format!("max-size={max}, expires={expires_in_secs}")) {
        h.insert("upload-limit", v);
    }
    Ok(resp)
}

/// `HEAD /api/v1/uploads/{id}`: the offset. (A `HEAD` answer has no body:
/// an unknown upload is a bare 404.)
pub async fn head_upload(State(app): State<SharedState>, Path(id): Path<String>) -> Response {
    let Some(upload) = app.staging.get(&id) else {
        return not_found().into_response();
    };
    // A client asks after a break: a request still receiving on the old
    // connection (broken without a word) stops and keeps what it got, so
    // the answer is the true offset, not one a stale request still grows.
    upload.preempt();
    let st = upload.state.lock().await;
    if st.removed {
        return not_found().into_response();
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    offset_headers(
        resp.headers_mut(),
        st.offset,
        upload.length,
        st.finished.is_some(),
    );
    resp
}

/// `DELETE /api/v1/uploads/{id}`: cancels the upload and removes its bytes.
pub async fn delete_upload(
    State(app): State<SharedState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let upload = app.staging.detach(&id).ok_or_else(not_found)?;
    app.staging.clean(upload, app.store.clone()).await;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_offset(headers: &HeaderMap) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_offset",
            "Upload-Offset must be given, as a non-negative integer",
        )
    };
    let v = headers
        .get("upload-offset")
        .ok_or_else(bad)?
        .to_str()
        .map_err(|_| bad())?
        .trim();
    if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    v.parse().map_err(|_| bad())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::from(wbs_store::StoreError::from(e))
}

/// Appends `bytes` to the staging file.
async fn append(st: &mut UploadState, bytes: Vec<u8>) -> Result<(), ApiError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let path = st.path.clone();
    let n = bytes.len() as u64;
    blocking(move || {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        f.write_all(&bytes).map_err(io_error)?;
        let times = std::fs::FileTimes::new()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .set_accessed(std::time::SystemTime::UNIX_EPOCH);
        let _ = f.set_times(times);
        Ok(())
    })
    .await?;
    st.offset += n;
    Ok(())
}

/// Whether `bytes` equal what is held at `at`.
async fn same_as_held(
    app: &SharedState,
    st: &UploadState,
    at: u64,
    bytes: Vec<u8>,
) -> Result<bool, ApiError> {
    let path = st.path.clone();
    let blob = st.finished.as_ref().map(|b| b.id.clone());
    let store = app.store.clone();
    blocking(move || {
        let mut f: Box<dyn Read + Send> = match blob {
            // A stored blob streams: read up to `at` (only a resend after
            // the upload finished comes here, which is rare).
            Some(id) => {
                let mut r = store.open_blob(&id)?;
                let skipped = std::io::copy(&mut (&mut r).take(at), &mut std::io::sink())
                    .map_err(io_error)?;
                if skipped != at {
                    return Ok(false);
                }
                r
            }
            None => {
                let mut f = std::fs::File::open(&path).map_err(io_error)?;
                f.seek(SeekFrom::Start(at)).map_err(io_error)?;
                Box::new(f)
            }
        };
        let mut held = vec![0u8; bytes.len()];
        f.read_exact(&mut held).map_err(io_error)?;
        Ok(held == bytes)
    })
    .await
}

/// Refuses the object: the upload is removed with every byte.
async fn refuse(
    app: &SharedState,
    upload: &Arc<Upload>,
    st: &mut UploadState,
    e: ApiError,
) -> ApiError {
    app.staging.detach_upload(upload);
    Staging::clean_locked(app.staging.dir(), st, app.store.clone()).await;
    e
}

/// How a PATCH body ended.
enum End {
    /// All of it arrived.
    Complete,
    /// The client stopped sending, or its connection broke.
    Broken,
    /// A newer request for the same upload took over.
    Preempted,
    /// Silent for too long.
    Idle,
}

/// `PATCH /api/v1/uploads/{id}`.
pub async fn patch_upload(
    State(app): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = parse_offset(&headers)?;
    let upload = app.staging.get(&id).ok_or_else(not_found)?;
    let length = upload.length;
    let _slot = app
        .uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy())?;
    // A request still receiving for this upload (its client's connection
    // broke without a word) stops at its next chunk and keeps what it got.
    upload.preempt();
    let mut st = upload.state.lock().await;
    let mut preempted = upload.preempted();
    if st.removed {
        return Err(not_found());
    }
    if start > st.offset {
        return Ok(with_offset(
            ApiError::new(
                StatusCode::CONFLICT,
                "upload_offset_mismatch",
                format!(
                    "Upload-Offset is past the {} bytes the server holds: ask with HEAD and continue from there",
                    st.offset
                ),
            ),
            st.offset,
            length,
            st.finished.is_some(),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| start.saturating_add(n) > length) {
        return Ok(with_offset(
            too_long(length),
            st.offset,
            length,
            st.finished.is_some(),
        ));
    }
    let idle = Duration::from_secs(app.settings.limits.body_idle_timeout_secs);
    let mut stream = body.into_data_stream();
    let mut pos = start;
    let mut batch: Vec<u8> = Vec::new();
    let end = loop {
        let next = tokio::select! {
            r = tokio::time::timeout(idle, stream.next()) => r,
            _ = preempted.changed() => break End::Preempted,
        };
        let chunk = match next {
            Err(_) => break End::Idle,
            Ok(None) => break End::Complete,
            Ok(Some(Err(_))) => break End::Broken,
            Ok(Some(Ok(c))) => c,
        };
        let mut chunk = &chunk[..];
        if pos + chunk.len() as u64 > length {
            append(&mut st, std::mem::take(&mut batch)).await?;
            let complete = st.finished.is_some();
            return Ok(with_offset(too_long(length), st.offset, length, complete));
        }
        // Bytes the server holds already: they must be the same.
        if pos < st.offset {
            let n = (st.offset - pos).min(chunk.len() as u64) as usize;
            if !same_as_held(&app, &st, pos, chunk[..n].to_vec()).await? {
                let complete = st.finished.is_some();
                return Ok(with_offset(
                    ApiError::new(
                        StatusCode::CONFLICT,
                        "upload_conflict",
                        "these bytes differ from the ones the server holds at that offset; \
                         nothing was changed",
                    ),
                    st.offset,
                    length,
                    complete,
                ));
            }
            pos += n as u64;
            chunk = &chunk[n..];
        }
        if chunk.is_empty() {
            continue;
        }
        if let Err(e) = st.checker.feed(chunk, PART) {
            return Err(refuse(&app, &upload, &mut st, e).await);
        }
        batch.extend_from_slice(chunk);
        pos += chunk.len() as u64;
        if batch.len() >= WRITE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH));
            if let Err(e) = append(&mut st, full).await {
                return Err(refuse(&app, &upload, &mut st, e).await);
            }
        }
    };
    // What arrived is kept, however the body ended: that is the point.
    if let Err(e) = append(&mut st, batch).await {
        return Err(refuse(&app, &upload, &mut st, e).await);
    }
    match end {
        End::Complete => {}
        End::Idle => {
            return Ok(with_offset(
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the upload stalled; what arrived is kept: ask with HEAD and continue",
                ),
                st.offset,
                length,
                false,
            ))
        }
        End::Broken | End::Preempted => {
            return Ok(with_offset(
                ApiError::new(
                    StatusCode::CONFLICT,
                    "upload_interrupted",
                    "the request ended early; what arrived is kept",
                ),
                st.offset,
                length,
                false,
            ))
        }
    }
    if st.offset == length && st.finished.is_none() {
        if let Err(e) = st.checker.finish(PART) {
            return Err(refuse(&app, &upload, &mut st, e).await);
        }
        // Checked again on its way into the store, exactly as a one-shot
        // upload is: the same code reads it into the blob sink.
        let path = st.path.clone();
        let store = app.store.clone();
        let object_rules = rules(&app);
        let staged = blocking(move || {
            let mut f = std::fs::File::open(&path).map_err(io_error)?;
            crate::upload::receive_reader(store.as_ref(), &mut f, object_rules, PART)
        })
        .await;
        match staged {
            Ok(blob) => {
                st.finished = Some(blob);
                let path = st.path.clone();
                let dir = app.staging.dir().to_path_buf();
                let _ = tokio::task::spawn_blocking(move || {
                    let _ = std::fs::remove_file(&path);
                    let times = std::fs::FileTimes::new()
                        .set_modified(std::time::SystemTime::UNIX_EPOCH)
                        .set_accessed(std::time::SystemTime::UNIX_EPOCH);
                    if let Ok(d) = std::fs::File::open(&dir) {
                        let _ = d.set_times(times);
                    }
                })
                .await;
            }
            Err(e) => return Err(refuse(&app, &upload, &mut st, e).await),
        }
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    offset_headers(resp.headers_mut(), st.offset, length, st.finished.is_some());
    Ok(resp)
}

fn too_long(length: u64) -> ApiError {
    ApiError::bad_request(
        "upload_too_long",
        format!("the upload was declared {length} bytes long; these bytes go past its end"),
    )
}

/// Takes a finished upload for one submission or follow-up: it leaves the
/// table at once, so no other request can name it.
pub async fn take_finished(app: &SharedState, id: &str) -> Result<wbs_store::StagedBlob, ApiError> {
    let upload = app.staging.get(id).ok_or_else(not_found)?;
    upload.preempt();
    let mut st = upload.state.lock().await;
    if st.removed {
        return Err(not_found());
    }
    let Some(blob) = st.finished.take() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "upload_incomplete",
            "an upload named in the request is not complete: finish it first",
        ));
    };
    st.removed = true;
    app.staging.detach_upload(&upload);
    Ok(blob)
}
