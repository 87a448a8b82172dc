//! The investigator desk: list cases, export new material, import replies,
//! set statuses. Every route needs a bearer token or a desk-page session
//! (cookie and CSRF token, [`super::session`]); every action is audited
//! under the token's name.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use wbs_protocol::api::{
    DeskCase, DeskCases, DeskStatusRequest, HistoryEntry, ImportResult, CURSOR_HEADER,
};
use wbs_protocol::bundle::{
    is_valid_id, read_replies, CaseManifest, ExportManifest, ExportWriter, Limits, ManifestCase,
    ObjectEntry, ObjectKind, EXPORT_FORMAT,
};
use wbs_protocol::header::{scan_header, Stanzas, MAX_HEADER_LEN};
use wbs_protocol::keys::RecipientKind;
use wbs_store::{CaseId, CaseRecord, Day, ImportItem, ObjectRecord, Store};

use super::{session, ApiJson};
use crate::error::ApiError;
use crate::state::SharedState;
use crate::upload::{receive_reader, ObjectRules};

/// An authenticated investigator: the token's name. A request with an
/// `Authorization` header is judged by its bearer token alone, as
/// `wbs-desk` sends it; one without, by its session cookie and CSRF token.
pub struct Investigator(pub String);

impl FromRequestParts<SharedState> for Investigator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &SharedState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return session::from_cookie(parts, app).await.map(Investigator);
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?;
        // Tokens are looked up by their SHA-256 (in `check_login`): the
        // comparison an attacker could time is between hashes they cannot
        // steer. A TOTP code (`X-Wbs-Totp`) is charged to the token name's
        // login budget, as on the desk pages.
        let token = zeroize::Zeroizing::new(token.to_owned());
        let code =
            crate::totp::bearer_code(&parts.headers).map(|c| zeroize::Zeroizing::new(c.to_owned()));
        let charge = code.is_some();
        match session::check_budgeted(app, token, code, charge).await {
            Ok(ok) => Ok(Investigator(ok.name)),
            Err(session::Checked::Limited) => Err(session::login_limited()),
            Err(session::Checked::Refused(e)) => Err(crate::totp::bearer_error(&e)),
        }
    }
}

/// Records a desk action with its detail (counts, cursors, case ids) in
/// the audit store, which dates entries by the day only.
fn audit(store: &dyn Store, who: &str, action: &str, detail: &str) -> Result<(), ApiError> {
    store.audit(who, action, detail)?;
    Ok(())
}

/// Logs a desk action's outcome: who, which action, done or refused (with
/// the error code), and nothing else. The journal puts a time on every
/// line, so a count, a cursor or a case id here would tell, export after
/// export, when reports arrived; that detail stays in the day-dated audit
/// store ([`audit`]).
pub(crate) fn logged<T>(
    who: &str,
    action: &'static str,
    r: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match &r {
        Ok(_) => tracing::info!(actor = who, action, "desk action"),
        Err(e) => tracing::info!(actor = who, action, code = e.code, "desk action refused"),
    }
    r
}

fn desk_case(c: &CaseRecord, last_export: u64, new_objects: u32) -> DeskCase {
    DeskCase {
        id: c.id.to_string(),
        received_on: c.received_on.to_string(),
        status: c.status,
        objects: c.objects,
        bytes: c.bytes,
        new_objects: if c.last_seq > last_export {
            new_objects
        } else {
            0
        },
    }
}

/// `GET /api/v1/desk/cases`.
pub async fn get_cases(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
) -> Result<Json<DeskCases>, ApiError> {
    let last_export = app.last_export.load(Ordering::Relaxed);
    let actor = who.clone();
    let listed = app
        .with_store(move |s| {
            let cases = s.all_cases()?;
            let mut new: HashMap<String, u32> = HashMap::new();
            for o in s.all_objects_since(last_export)? {
                *new.entry(o.case_id.into()).or_default() += 1;
            }
            let out: Vec<DeskCase> = cases
                .iter()
                .map(|c| desk_case(c, last_export, new.get(c.id.as_str()).copied().unwrap_or(0)))
                .collect();
            audit(s, &who, "list_cases", &format!("{} cases", out.len()))?;
            Ok((out, s.cursor()?))
        })
        .await;
    let (cases, cursor) = logged(&actor, "list_cases", listed)?;
    Ok(Json(DeskCases {
        cases,
        cursor: cursor.to_string(),
    }))
}

/// Query of `GET /api/v1/desk/export`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    since: Option<String>,
}

/// A `Write` that hands chunks to the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

const CHANNEL_CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHANNEL_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHANNEL_CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// Reads a blob and fails at the end if its bytes no longer match the
/// SHA-256 recorded when it was stored: damage on disk is never exported as
/// if it were good.
struct CheckedBlob {
    file: wbs_store::BlobReader,
    hasher: Sha256,
    expected: [u8; 32],
    /// Bytes of the recorded size not read yet.
    left: u64,
}

impl Read for CheckedBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The tar writer copies exactly the recorded size (`Read::take`) and
        // never reads on to the end of the file, so the digest is checked
        // when the last recorded byte has been read, not at end of file
        // (which it never saw: a damaged blob used to be streamed as good,
        // tests/tests/durability_storage_faults.rs). A file that ends early
        // makes the tar writer fail on its own.
        let cap = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if cap == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..cap])?;
        self.left -= n as u64;
        self.hasher.update(&buf[..n]);
        if self.left == 0 && n > 0 {
            let got: [u8; 32] = self.hasher.clone().finalize().into();
            if got != self.expected {
                // Only the digest mismatch is logged here; the object and
                // its case are named by `wbs-server verify`, not next to
                // a time in the journal.
                tracing::error!("a stored object does not match its SHA-256: damaged on disk");
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stored object damaged",
                ));
            }
        }
        Ok(n)
    }
}

/// What an export will hold, decided before its first byte: the top
/// manifest names every case and its object count. The per-case manifests
/// (with each case's reply recipient, about 2 KiB for a post-quantum one)
/// are made one at a time while writing, so a large export's memory grows
/// with its object records, not with its case records.
struct ExportPlan {
    manifest: ExportManifest,
    cases: Vec<(CaseId, Vec<ObjectRecord>)>,
}

fn plan_export(app: &SharedState, store: &dyn Store, since: u64) -> Result<ExportPlan, ApiError> {
    let objects = store.all_objects_since(since)?;
    let cursor = objects.last().map_or(since, |o| o.seq).max(since);
    // Replies came from the air gap in the first place (wbs-inspect keeps a
    // copy of every reply it writes), so carrying them back would only
    // repeat them. The cursor still moves past them.
    let objects: Vec<ObjectRecord> = objects
        .into_iter()
        .filter(|o| !matches!(o.kind, ObjectKind::Reply { .. }))
        .collect();
    let mut order: Vec<CaseId> = Vec::new();
    let mut by_case: HashMap<CaseId, Vec<ObjectRecord>> = HashMap::new();
    for o in objects {
        if !by_case.contains_key(&o.case_id) {
            order.push(o.case_id.clone());
        }
        by_case.entry(o.case_id.clone()).or_default().push(o);
    }
    let mut cases = Vec::with_capacity(order.len());
    for id in order {
        let objs = by_case.remove(&id).unwrap_or_default();
        // A case deleted by retention after its objects were listed is skipped.
        if store.case(&id)?.is_none() {
            continue;
        }
        cases.push((id, objs));
    }
    Ok(ExportPlan {
        manifest: ExportManifest {
            format: EXPORT_FORMAT.into(),
            since: since.to_string(),
            cursor: cursor.to_string(),
            organization: app.settings.organization.clone(),
            recipients: app.recipients.clone(),
            cases: cases
                .iter()
                .map(|(id, o)| ManifestCase {
                    id: id.to_string(),
                    objects: o.len() as u32,
                })
                .collect(),
        },
        cases,
    })
}

/// The manifest of one case, from its record and the objects planned.
fn case_manifest(c: &CaseRecord, objects: &[ObjectRecord]) -> CaseManifest {
    CaseManifest {
        id: c.id.to_string(),
        received_on: c.received_on.to_string(),
        status: c.status,
        history: c
            .history
            .iter()
            .map(|(status, on)| HistoryEntry {
                status: *status,
                on: on.to_string(),
            })
            .collect(),
        reply_recipient: c.reply_recipient.clone(),
        objects: objects
            .iter()
            .map(|o| {
                let kind = o.kind;
                ObjectEntry {
                    path: kind.path(),
                    kind,
                    size: o.size,
                    sha256: wbs_protocol::hex(&o.sha256),
                    on: o.on.to_string(),
                }
            })
            .collect(),
    }
}

/// Why an export stopped, in words that name no case, object or count
/// (the messages of [`BundleError`](wbs_protocol::bundle::BundleError)
/// carry paths, and so case ids).
fn quiet(e: wbs_protocol::bundle::BundleError) -> String {
    match e {
        wbs_protocol::bundle::BundleError::Io(e) => e.kind().to_string(),
        _ => "the bundle could not be written".into(),
    }
}

fn write_export(store: &dyn Store, plan: ExportPlan, out: impl Write) -> Result<(), String> {
    let mut w = ExportWriter::new(out, &plan.manifest).map_err(quiet)?;
    for (id, objects) in &plan.cases {
        // The top manifest has promised this case: if retention deleted it
        // since (its blobs with it), the export stops here, as it would at
        // the first missing blob, and the cursor is not moved.
        let c = store
            .case(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "a case was deleted while the export was written".to_string())?;
        let case = case_manifest(&c, objects);
        w.case(&case).map_err(quiet)?;
        for (entry, record) in case.objects.iter().zip(objects) {
            // Store errors name no case (wbs-store's error.rs).
            let file = store.open_blob(&record.blob).map_err(|e| e.to_string())?;
            let blob = CheckedBlob {
                file,
                hasher: Sha256::new(),
                expected: record.sha256,
                left: record.size,
            };
            w.object(&case.id, entry, blob).map_err(quiet)?;
        }
    }
    let mut inner = w.finish().map_err(quiet)?;
    inner.flush().map_err(|e| e.kind().to_string())
}

/// `GET /api/v1/desk/export?since=CURSOR`: a tar export bundle, streamed.
pub async fn get_export(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let actor = who.clone();
    logged(&actor, "export", export(app, who, q).await)
}

async fn export(
    app: SharedState,
    who: String,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(query_rejection)?;
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(s) => s.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_cursor",
                "since must be a cursor from an earlier export",
            )
        })?,
    };
    let slot = app
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy())?;
    let app2 = app.clone();
    let plan = app
        .with_store(move |s| {
            let plan = plan_export(&app2, s, since)?;
            audit(
                s,
                &who,
                "export",
                &format!(
                    "since={} cursor={} cases={}",
                    since,
                    plan.manifest.cursor,
                    plan.cases.len()
                ),
            )?;
            Ok(plan)
        })
        .await?;
    let cursor = plan.manifest.cursor.clone();
    if let Ok(c) = cursor.parse::<u64>() {
        app.last_export.fetch_max(c, Ordering::Relaxed);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHANNEL_CHUNK),
        };
        if let Err(e) = write_export(store.as_ref(), plan, &mut writer) {
            if tx.is_closed() {
                tracing::debug!("export: the client went away before the end");
            } else {
                // No case id or object name here (see `logged`):
                // `wbs-server verify` names the damaged cases.
                tracing::error!(
                    "an export was cut short ({e}); if a stored object is damaged, \
                     `wbs-server verify` names it"
                );
            }
            let _ = tx.blocking_send(Err(std::io::Error::other("export aborted")));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"wbs-export.tar\""),
    );
    h.insert(
        CURSOR_HEADER,
        HeaderValue::from_str(&cursor).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

/// The start of a reply read ahead of the streaming check, then the rest.
struct Replay<'a> {
    head: std::io::Cursor<Vec<u8>>,
    /// A read error met while reading ahead, given back after the head.
    error: Option<std::io::Error>,
    rest: &'a mut dyn Read,
}

impl Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.rest.read(buf)
    }
}

/// Reads a reply's age header and checks its recipient stanza count is in
/// `allowed`. Gives back a reader of the whole reply and the count found,
/// which [`receive_reader`] then checks exactly along with everything else.
/// A reply that ends or fails to read inside its header is left to
/// [`receive_reader`], which refuses it with its usual message.
fn read_reply_header<'a>(
    data: &'a mut dyn Read,
    allowed: Stanzas,
    part: &str,
) -> Result<(Replay<'a>, usize), ApiError> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let mut error = None;
    let found = loop {
        match scan_header(&head, allowed) {
            Ok(Some(info)) => break info.recipients,
            Ok(None) => {}
            Err(e) => {
                return Err(ApiError::unprocessable(
                    "invalid_object",
                    format!("{part}: {e}"),
                ))
            }
        }
        // scan_header answers for certain once it holds more than
        // MAX_HEADER_LEN bytes; the bound is only a guard.
        let room = (MAX_HEADER_LEN + 1)
            .saturating_sub(head.len())
            .min(buf.len());
        if room == 0 {
            break allowed.max;
        }
        match data.read(&mut buf[..room]) {
            Ok(0) => break allowed.max,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break allowed.max;
            }
        }
    };
    Ok((
        Replay {
            head: std::io::Cursor::new(head),
            error,
            rest: data,
        },
        found,
    ))
}

/// `POST /api/v1/desk/import`: a reply bundle, applied all or nothing.
pub async fn post_import(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<ImportResult>, ApiError> {
    let actor = who.clone();
    logged(&actor, "import", import(app, who, body).await)
}

async fn import(
    app: SharedState,
    who: String,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<ImportResult>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large("the reply bundle is larger than the server accepts")
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })?;
    // A reply goes to the reporter and to some or all of the inspectorate's
    // keys (PROTOCOL.md §5): its stanza count is checked against that range
    // first, then streamed under the exact count it declared.
    let allowed = app.reply_stanzas();
    let rules = ObjectRules {
        recipients: allowed,
        max_bytes: Limits::REPLIES.max_entry_bytes,
        idle: std::time::Duration::from_secs(app.settings.limits.body_idle_timeout_secs),
    };
    let (applied, skipped) = app
        .with_store(move |s| {
            let mut staged: Vec<(String, wbs_store::StagedBlob)> = Vec::new();
            let result = (|| {
                let manifest = read_replies(
                    &body[..],
                    &Limits::REPLIES,
                    |m| {
                        for item in &m.items {
                            let known = match CaseId::parse(&item.case_id) {
                                Ok(id) => s
                                    .case(&id)
                                    .map_err(|e| {
                                        wbs_protocol::bundle::BundleError::Visitor(e.to_string())
                                    })?
                                    .is_some(),
                                Err(_) => false,
                            };
                            if !known {
                                return Err(wbs_protocol::bundle::BundleError::Manifest(format!(
                                    "unknown case {:?}",
                                    item.case_id
                                )));
                            }
                        }
                        Ok(())
                    },
                    |item, data| {
                        let part = item.reply_path();
                        let visitor =
                            |e: ApiError| wbs_protocol::bundle::BundleError::Visitor(e.message);
                        // A reply's stanzas are of the kind of the case's
                        // reply recipient: a classic case from before the
                        // deployment moved to post-quantum is still
                        // answered with classic keys (PROTOCOL.md §5).
                        // (An id that does not parse is refused with the
                        // whole bundle below.)
                        let case = match CaseId::parse(&item.case_id) {
                            Ok(id) => s.case(&id).map_err(|e| visitor(e.into()))?,
                            Err(_) => None,
                        };
                        let case_kind = case
                            .map_or(allowed.kind, |c| RecipientKind::of_str(&c.reply_recipient));
                        let allowed = allowed.of(case_kind);
                        let (mut data, found) =
                            read_reply_header(data, allowed, &part).map_err(visitor)?;
                        let rules = ObjectRules {
                            recipients: Stanzas::exactly(found).of(case_kind),
                            ..rules
                        };
                        let blob = receive_reader(s, &mut data, rules, &part).map_err(visitor)?;
                        staged.push((item.id.clone(), blob));
                        Ok(())
                    },
                )
                .map_err(|e| ApiError::unprocessable("invalid_bundle", e.to_string()))?;
                let mut blobs: HashMap<String, wbs_store::StagedBlob> = staged.drain(..).collect();
                let mut items: Vec<ImportItem> = Vec::with_capacity(manifest.items.len());
                for i in &manifest.items {
                    items.push(ImportItem {
                        item_id: i.id.clone(),
                        case_id: CaseId::parse(&i.case_id)?,
                        status: i.status,
                        reply: blobs.remove(&i.id).map(|b| (i.id.clone(), b)),
                    });
                }
                let today = Day::today();
                // The store owns the staged replies now: it removes them if
                // the commit fails, and those of items applied before.
                let (applied, skipped) = s.apply_import(items, today)?;
                audit(
                    s,
                    &who,
                    "import",
                    &format!("applied={applied} skipped={skipped}"),
                )?;
                Ok((applied, skipped))
            })();
            for (_, b) in staged {
                let _ = s.discard_blob(b);
            }
            result
        })
        .await?;
    Ok(Json(ImportResult { applied, skipped }))
}

/// `POST /api/v1/desk/cases/{id}/status`.
pub async fn post_case_status(
    State(app): State<SharedState>,
    Investigator(who): Investigator,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DeskStatusRequest>,
) -> Result<StatusCode, ApiError> {
    let actor = who.clone();
    if !is_valid_id(&id) {
        return logged(&actor, "set_status", Err(ApiError::not_found()));
    }
    let done = app
        .with_store(move |s| {
            let case_id = CaseId::parse(&id).map_err(|_| ApiError::not_found())?;
            if s.case(&case_id)?.is_none() {
                return Err(ApiError::not_found());
            }
            s.set_status(&case_id, req.status, Day::today())?;
            audit(
                s,
                &who,
                "set_status",
                &format!("case={id} status={}", req.status),
            )
        })
        .await;
    logged(&actor, "set_status", done)?;
    Ok(StatusCode::OK)
}

/// Lets the desk answer the query rejection with our JSON error.
pub fn query_rejection(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("bad_query", e.body_text())
}
