//! The reporter's routes: config, proof-of-work, submissions, status,
//! follow-ups. None of them looks at the client's address or headers, and
//! none of them logs anything about a request.
//!
//! An upload is checked in this order (docs/PROTOCOL.md §6), so that a
//! request that did no work is refused before it is charged to anything
//! shared: the `meta` part is read (a turn among [`META_READERS`], within
//! `request_timeout_secs`) and parsed; its fields are checked; the proof of
//! work is verified (one AEAD open and one SHA-256, no state); the lookup
//! key is looked up (submissions: 409 if it exists; follow-ups: 404 if it
//! does not); only then is the challenge redeemed (`redeem`): claimed,
//! an upload slot and a token of the route's budget taken, and the id
//! spent in the store, all or nothing. The objects are received last.
//!
//! [`META_READERS`]: crate::state::META_READERS

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Extension, Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use tokio::sync::OwnedSemaphorePermit;
use wbs_protocol::api::{
    FollowupMeta, FollowupReceipt, HistoryEntry, PowChallenge, PowSolution, ReplyItem,
    StatusRequest, StatusResponse, SubmissionMeta, SubmissionReceipt, PART_ATTACHMENT,
    PART_MESSAGE, PART_META, PART_REPORT,
};
use wbs_protocol::LookupKey;
use wbs_store::{CaseRecord, StagedBlob, Store};

use super::{parse_meta, ApiJson};
use crate::error::ApiError;
use crate::guard::BodyMeter;
use crate::limits::RateLimit;
use crate::pow::{now_secs, Verified};
use crate::state::SharedState;
use crate::upload::{multipart_error, receive_field, ObjectRules};

/// Largest `meta` part.
const MAX_META_BYTES: usize = 16 * 1024;

/// `GET /api/v1/config`.
pub async fn get_config(State(app): State<SharedState>) -> Json<wbs_protocol::api::ConfigResponse> {
    Json(app.config.clone())
}

/// `GET /api/v1/pow`. Not limited: issuing is stateless and cheap (one
/// AEAD seal), and a challenge costs the server something only when it is
/// redeemed, which takes the work. A limit here was a budget that a client
/// doing no work could empty for everyone.
pub async fn get_pow(State(app): State<SharedState>) -> Json<PowChallenge> {
    Json(app.pow.issue(now_secs()))
}

fn lookup_hash(lookup: &str) -> Result<[u8; 32], ApiError> {
    LookupKey::from_base64url(lookup)
        .map(|k| k.hash())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_lookup",
                "lookup must be 32 bytes, base64url without padding",
            )
        })
}

fn upload_slot(app: &SharedState) -> Result<OwnedSemaphorePermit, ApiError> {
    app.uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy())
}

fn pow_replayed() -> ApiError {
    ApiError::bad_request(
        "pow_replayed",
        "this proof-of-work challenge was already used: fetch a new one",
    )
}

/// Checks a proof of work without touching any state or budget.
pub(crate) fn verify_pow(
    app: &SharedState,
    pow: Option<&PowSolution>,
) -> Result<Option<Verified>, ApiError> {
    app.pow.verify(pow, now_secs())
}

/// A redemption under way: undone when dropped unless [`Redeeming::done`]
/// is called, also when the client goes away mid-way.
struct Redeeming<'a> {
    app: &'a SharedState,
    id: Option<[u8; 16]>,
    budget: Option<&'a RateLimit>,
}

impl Redeeming<'_> {
    fn done(mut self) {
        self.id = None;
        self.budget = None;
    }
}

impl Drop for Redeeming<'_> {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            self.app.claims.release(id);
        }
        if let Some(budget) = self.budget {
            budget.refund();
        }
    }
}

/// Redeems a verified proof of work (or, with proof of work off, admits
/// the request): claims the challenge (400 `pow_replayed` if it is
/// claimed or spent), takes an upload slot and a token of `budget` (429
/// when there is none), and spends the challenge in the store. Either all
/// of it happens or none: a request refused on the way gives back what it
/// took, so a refusal costs no budget. The returned slot is held for the
/// upload.
pub(crate) async fn redeem(
    app: &SharedState,
    verified: Option<Verified>,
    budget: &RateLimit,
) -> Result<OwnedSemaphorePermit, ApiError> {
    let now = now_secs();
    let mut undo = Redeeming {
        app,
        id: None,
        budget: None,
    };
    if let Some(v) = &verified {
        if !app.claims.claim(v.id, v.expires_at, now) {
            return Err(pow_replayed());
        }
        undo.id = Some(v.id);
    }
    let slot = upload_slot(app)?;
    if !budget.try_take() {
        return Err(ApiError::busy());
    }
    undo.budget = Some(budget);
    if let Some(v) = verified {
        let fresh = app
            // Remembered until the coarse `forget_at`, never the exact
            // expiry: see `pow::forget_at`.
            .with_store(move |s| Ok(s.spend_pow(v.id, v.forget_at, now)?))
            .await?;
        if !fresh {
            // Spent in the store: keep the claim, give back the token.
            undo.id = None;
            return Err(pow_replayed());
        }
    }
    undo.done();
    Ok(slot)
}

/// Reads the `meta` part: one turn among the meta readers, and no longer
/// than `request_timeout_secs` for the whole of it (408 `timeout`).
async fn read_meta_part(
    app: &SharedState,
    multipart: &mut Multipart,
    meter: &BodyMeter,
) -> Result<Vec<u8>, ApiError> {
    let limit = std::time::Duration::from_secs(app.settings.limits.request_timeout_secs);
    tokio::time::timeout(limit, async {
        let _turn = app
            .meta_readers
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        read_meta(multipart, meter).await
    })
    .await
    .unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the meta part took too long; nothing was stored",
        ))
    })
}

/// Reads the next field's bytes as a small document.
async fn read_meta(multipart: &mut Multipart, meter: &BodyMeter) -> Result<Vec<u8>, ApiError> {
    let mut field = multipart
        .next_field()
        .await
        .map_err(multipart_error)?
        .ok_or_else(|| ApiError::bad_request("missing_part", "the meta part is missing"))?;
    if field.name() != Some(PART_META) {
        return Err(ApiError::bad_request(
            "missing_part",
            "the first part must be meta",
        ));
    }
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        meter.consumed(chunk.len());
        out.extend_from_slice(&chunk);
        if out.len() > MAX_META_BYTES {
            return Err(ApiError::too_large("the meta part is too large"));
        }
    }
    Ok(out)
}

/// Staged blobs of one request; discarded unless the request commits.
struct Staged {
    store: Arc<dyn Store>,
    blobs: Vec<StagedBlob>,
}

impl Staged {
    fn take(&mut self) -> Vec<StagedBlob> {
        std::mem::take(&mut self.blobs)
    }

    /// Removes the staged blobs before the error answer goes out, so a
    /// refused request has left nothing behind by the time it is answered.
    /// (`Drop` remains the safety net when the request is abandoned.)
    async fn discard_now(&mut self) {
        let blobs = self.take();
        if blobs.is_empty() {
            return;
        }
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for b in blobs {
                if let Err(e) = store.discard_blob(b) {
                    tracing::warn!("could not remove a discarded upload: {e}");
                }
            }
        })
        .await;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let blobs = std::mem::take(&mut self.blobs);
        if blobs.is_empty() {
            return;
        }
        let store = self.store.clone();
        // Removing files is blocking work; a crash before it runs leaves
        // unreferenced blobs, which the store removes at the next start.
        tokio::task::spawn_blocking(move || {
            for b in blobs {
                if let Err(e) = store.discard_blob(b) {
                    tracing::warn!("could not remove a discarded upload: {e}");
                }
            }
        });
    }
}

/// Receives the main part and the attachments that follow it.
async fn receive_objects(
    app: &SharedState,
    multipart: &mut Multipart,
    main_part: &'static str,
    meter: &BodyMeter,
) -> Result<Staged, ApiError> {
    let mut staged = Staged {
        store: app.store.clone(),
        blobs: Vec::new(),
    };
    match receive_objects_into(app, multipart, main_part, meter, &mut staged).await {
        Ok(()) => Ok(staged),
        Err(e) => {
            staged.discard_now().await;
            Err(e)
        }
    }
}

async fn receive_objects_into(
    app: &SharedState,
    multipart: &mut Multipart,
    main_part: &'static str,
    meter: &BodyMeter,
    staged: &mut Staged,
) -> Result<(), ApiError> {
    let rules = ObjectRules {
        recipients: app.object_stanzas(),
        max_bytes: app.settings.limits.max_object_bytes,
        idle: std::time::Duration::from_secs(app.settings.limits.body_idle_timeout_secs),
    };
    let mut attachments = 0u32;
    let mut from_uploads = 0u64;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let label = if staged.blobs.is_empty() {
            if name != main_part {
                return Err(ApiError::bad_request(
                    "missing_part",
                    format!("the part after meta must be {main_part}"),
                ));
            }
            main_part.to_string()
        } else {
            if name != PART_ATTACHMENT && name != PART_ATTACHMENT_UPLOAD {
                return Err(ApiError::bad_request(
                    "unexpected_part",
                    "only attachment and attachment_upload parts may follow",
                ));
            }
            attachments += 1;
            if attachments > app.settings.limits.max_attachments {
                return Err(ApiError::too_large(format!(
                    "at most {} attachments are accepted",
                    app.settings.limits.max_attachments
                )));
            }
            format!("attachment {attachments}")
        };
        let blob = if name == PART_ATTACHMENT_UPLOAD {
            // A finished resumable upload, named by its id (§7.4): taken
            // out of the staging table, so it serves this request only.
            let id = read_small_part(&mut field, meter, "attachment_upload").await?;
            let blob = super::uploads::take_finished(app, id.trim()).await?;
            from_uploads = from_uploads.saturating_add(blob.size);
            blob
        } else {
            receive_field(&app.store, &mut field, rules, &label, meter).await?
        };
        staged.blobs.push(blob);
        // Named uploads count towards the request's size limit as if their
        // bytes had come inline.
        if from_uploads > app.settings.limits.max_request_bytes {
            return Err(ApiError::too_large(
                "the request and its uploads are larger than the server accepts",
            ));
        }
    }
    if staged.blobs.is_empty() {
        return Err(ApiError::bad_request(
            "missing_part",
            format!("the {main_part} part is missing"),
        ));
    }
    Ok(())
}

/// The multipart part that names a finished resumable upload by its id, in
/// the place of an `attachment` part (docs/PROTOCOL.md §7.4).
pub const PART_ATTACHMENT_UPLOAD: &str = "attachment_upload";

/// Largest `attachment_upload` part: an id is 43 characters.
const MAX_ID_PART: usize = 128;

/// Reads a short text part (an upload id).
async fn read_small_part(
    field: &mut axum::extract::multipart::Field<'_>,
    meter: &BodyMeter,
    part: &str,
) -> Result<String, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        meter.consumed(chunk.len());
        out.extend_from_slice(&chunk);
        if out.len() > MAX_ID_PART {
            return Err(ApiError::bad_request(
                "malformed_multipart",
                format!("the {part} part is too long for an upload id"),
            ));
        }
    }
    String::from_utf8(out).map_err(|_| {
        ApiError::bad_request(
            "malformed_multipart",
            format!("the {part} part is not an upload id"),
        )
    })
}

fn multipart_or_error(m: Result<Multipart, MultipartRejection>) -> Result<Multipart, ApiError> {
    m.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected a multipart/form-data body: {}", e.body_text()),
        )
    })
}

/// The reporter's reply recipient, which must be of the deployment's kind:
/// `age1pq1…` in a post-quantum deployment, `age1…` in a classic one
/// (PROTOCOL.md §2.1). Anything else is 422 `invalid_recipient`.
fn reply_recipient(app: &SharedState, given: &str) -> Result<String, ApiError> {
    use wbs_protocol::keys::RecipientKind;
    let wanted = match app.recipient_kind {
        RecipientKind::Classic => "reply_recipient is not an age X25519 recipient (age1…)",
        RecipientKind::PostQuantum => {
            "reply_recipient is not an age post-quantum recipient (age1pq1…), \
             which this server requires"
        }
    };
    match wbs_protocol::keys::parse_recipient(given) {
        Ok(r) if r.kind() == app.recipient_kind => Ok(r.to_string()),
        _ => Err(ApiError::unprocessable("invalid_recipient", wanted)),
    }
}

/// `POST /api/v1/submissions`.
pub async fn post_submission(
    State(app): State<SharedState>,
    Extension(meter): Extension<Arc<BodyMeter>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<SubmissionReceipt>), ApiError> {
    let mut multipart = multipart_or_error(multipart)?;
    let meta: SubmissionMeta = parse_meta(&read_meta_part(&app, &mut multipart, &meter).await?)?;
    let hash = lookup_hash(&meta.lookup)?;
    let reply_recipient = reply_recipient(&app, &meta.reply_recipient)?;
    let verified = verify_pow(&app, meta.pow.as_ref())?;
    // Before the challenge is spent: a client resending a report whose
    // answer it lost learns it was stored, and keeps its solution.
    if app
        .with_store(move |s| Ok(s.case_by_lookup(&hash)?.is_some()))
        .await?
    {
        return Err(wbs_store::StoreError::LookupExists.into());
    }
    let _slot = redeem(&app, verified, &app.rates.submissions).await?;
    let mut staged = receive_objects(&app, &mut multipart, PART_REPORT, &meter).await?;
    let mut blobs = staged.take();
    let report = blobs.remove(0);
    let on = wbs_store::Day::today();
    let received_on = on.to_string();
    // From here the store owns the staged blobs: it removes them itself if
    // the commit fails.
    app.with_store(move |s| Ok(s.create_case(hash, &reply_recipient, on, report, blobs)?))
        .await?;
    Ok((StatusCode::CREATED, Json(SubmissionReceipt { received_on })))
}

/// Finds the case for a lookup key; every miss is the same 404.
async fn case_for(app: &SharedState, lookup: &str) -> Result<CaseRecord, ApiError> {
    // A malformed key is a miss like any other, so probing learns nothing.
    let hash = LookupKey::from_base64url(lookup).map(|k| k.hash());
    let found = app
        .with_store(move |s| match hash {
            Some(h) => Ok(s.case_by_lookup(&h)?),
            None => Ok(None),
        })
        .await?;
    found.ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/status`.
pub async fn post_status(
    State(app): State<SharedState>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    // Paced, not refused: a look-up waits its turn, first come, first
    // served, so wrong look-ups cannot starve a genuine one; decided before
    // the key is looked at, so a hit and a miss wait alike. Only a queue
    // longer than half the request time is refused.
    let max_wait = std::time::Duration::from_secs(app.settings.limits.request_timeout_secs) / 2;
    match app.rates.status.pace(max_wait) {
        None => return Err(ApiError::busy()),
        Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
        Some(_) => {}
    }
    // One trip to the blocking pool finds the case and reads its replies:
    // a hit and a miss then cost the same hops (docs/THREAT_MODEL.md, the
    // status-timing promise), and the look-up path stays short under load.
    let hash = LookupKey::from_base64url(&req.lookup).map(|k| k.hash());
    let (case, replies) = app
        .with_store(move |s| {
            let Some(case) = (match hash {
                Some(h) => s.case_by_lookup(&h)?,
                None => None,
            }) else {
                return Err(ApiError::not_found());
            };
            let mut replies = Vec::with_capacity(case.replies.len());
            for r in &case.replies {
                let mut bytes = Vec::with_capacity(r.size as usize);
                std::io::Read::read_to_end(&mut s.open_blob(&r.blob)?, &mut bytes)
                    .map_err(|e| ApiError::from(wbs_store::StoreError::from(e)))?;
                replies.push(ReplyItem {
                    id: r.id.clone(),
                    on: r.on.to_string(),
                    age: base64::engine::general_purpose::STANDARD.encode(bytes),
                });
            }
            Ok((case, replies))
        })
        .await?;
    Ok(Json(StatusResponse {
        status: case.status,
        received_on: case.received_on.to_string(),
        history: case
            .history
            .into_iter()
            .map(|(status, on)| HistoryEntry {
                status,
                on: on.to_string(),
            })
            .collect(),
        replies,
        followups: case.followups,
    }))
}

/// `POST /api/v1/followups`.
pub async fn post_followup(
    State(app): State<SharedState>,
    Extension(meter): Extension<Arc<BodyMeter>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<FollowupReceipt>), ApiError> {
    let mut multipart = multipart_or_error(multipart)?;
    let meta: FollowupMeta = parse_meta(&read_meta_part(&app, &mut multipart, &meter).await?)?;
    let verified = verify_pow(&app, meta.pow.as_ref())?;
    let case = case_for(&app, &meta.lookup).await?;
    let _slot = redeem(&app, verified, &app.rates.followups).await?;
    let mut staged = receive_objects(&app, &mut multipart, PART_MESSAGE, &meter).await?;
    let mut blobs = staged.take();
    let message = blobs.remove(0);
    let day = wbs_store::Day::today();
    let on = day.to_string();
    app.with_store(move |s| Ok(s.add_followup(&case.id, message, blobs, day)?))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FollowupReceipt { received_on: on }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::state::AppState;

    const DIFFICULTY: u8 = 4;

    fn app(uploads: u32) -> (SharedState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data: dir.path().join("data"),
            ..Default::default()
        };
        settings.pow.difficulty = DIFFICULTY;
        settings.limits.max_concurrent_uploads = uploads;
        let store = wbs_store::SledStore::create_or_open(&settings.data).unwrap();
        (
            Arc::new(AppState::new(settings, Arc::new(store), vec![], false)),
            dir,
        )
    }

    fn solved(app: &SharedState) -> Verified {
        let c = app.pow.issue(now_secs());
        let solution = PowSolution {
            nonce: wbs_protocol::pow::solve(&c.challenge, DIFFICULTY),
            challenge: c.challenge,
        };
        verify_pow(app, Some(&solution)).unwrap().unwrap()
    }

    fn again(v: &Verified) -> Verified {
        Verified {
            id: v.id,
            expires_at: v.expires_at,
            forget_at: v.forget_at,
        }
    }

    /// How many tokens `budget` holds now (takes them all, then refunds).
    fn tokens(budget: &RateLimit) -> usize {
        let mut n = 0;
        while budget.try_take() {
            n += 1;
        }
        for _ in 0..n {
            budget.refund();
        }
        n
    }

    #[tokio::test]
    async fn a_refused_redemption_costs_nothing_and_a_good_one_costs_one_token() {
        let (app, _dir) = app(1);
        let budget = RateLimit::new(0.0, 3.0);

        // Good: one token, one slot, the challenge spent.
        let v = solved(&app);
        let slot = redeem(&app, Some(again(&v)), &budget).await.unwrap();
        assert_eq!(tokens(&budget), 2);

        // While it holds the only upload slot, another solution is refused
        // with 429, charges nothing, and stays unspent.
        let w = solved(&app);
        let e = redeem(&app, Some(again(&w)), &budget).await.unwrap_err();
        assert_eq!(e.code, "rate_limited");
        assert_eq!(tokens(&budget), 2);
        drop(slot);
        let slot = redeem(&app, Some(again(&w)), &budget).await.unwrap();
        drop(slot);
        assert_eq!(tokens(&budget), 1);

        // Replays of spent challenges: refused, nothing charged.
        for spent in [&v, &w] {
            let e = redeem(&app, Some(again(spent)), &budget).await.unwrap_err();
            assert_eq!(e.code, "pow_replayed");
        }
        assert_eq!(tokens(&budget), 1);

        // The last token goes to a good one; then the budget is empty: 429,
        // and the solution that met it stays unspent.
        let _ = redeem(&app, Some(solved(&app)), &budget).await.unwrap();
        let x = solved(&app);
        let e = redeem(&app, Some(again(&x)), &budget).await.unwrap_err();
        assert_eq!(e.code, "rate_limited");
        budget.refund();
        let _ = redeem(&app, Some(again(&x)), &budget).await.unwrap();
    }

    #[tokio::test]
    async fn a_replay_known_only_to_the_store_gives_its_token_back() {
        let (app, _dir) = app(4);
        let budget = RateLimit::new(0.0, 2.0);
        let v = solved(&app);
        let _ = redeem(&app, Some(again(&v)), &budget).await.unwrap();
        // Forget the in-memory claim: the store still knows the id.
        app.claims.release(&v.id);
        let e = redeem(&app, Some(again(&v)), &budget).await.unwrap_err();
        assert_eq!(e.code, "pow_replayed");
        assert_eq!(tokens(&budget), 1);
        // And the claim is kept, so the next replay stops in memory.
        assert!(!app.claims.claim(v.id, v.expires_at, now_secs()));
    }

    #[tokio::test]
    async fn a_redemption_abandoned_mid_way_is_undone() {
        let (app, _dir) = app(4);
        let budget = RateLimit::new(0.0, 2.0);
        let v = solved(&app);
        // Dropped before it finishes: polled once, it has claimed the
        // challenge and taken a token, and waits on the store.
        {
            let fut = redeem(&app, Some(again(&v)), &budget);
            let mut fut = std::pin::pin!(fut);
            assert!(futures_util::poll!(fut.as_mut()).is_pending());
            assert_eq!(app.claims.len(), 1);
            assert_eq!(tokens(&budget), 1);
        }
        assert_eq!(tokens(&budget), 2);
        assert!(app.claims.is_empty());
    }
}
