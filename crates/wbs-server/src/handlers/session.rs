//! Sessions of the desk pages (docs/PROTOCOL.md §7.1): login with a token
//! and, where enrolled, a TOTP code; a session cookie; a CSRF token; logout;
//! and a login budget that keys on nothing about the client.
//!
//! - The cookie holds a 256-bit random session id; the server keeps only
//!   its SHA-256, in the store, so a session works on every instance that
//!   shares the store and outlives a restart (until its expiry). It is
//!   `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` (then named
//!   `__Host-wbs_desk`) whenever the request came over TLS or to an onion
//!   service ([`crate::config::SecureCookie`]).
//! - Every request a session cookie authenticates, except
//!   `GET /api/v1/desk/session`, must carry the session's CSRF token in
//!   `X-Wbs-Csrf` (compared in constant time), and may not come from
//!   another site (`Sec-Fetch-Site`, `Origin`). The token is handed out
//!   once, in the login answer: a cookie value stolen on its own opens
//!   nothing.
//! - A session ends after `idle_minutes` without a request, `max_hours`
//!   after login, on logout, and at once when its token is revoked.
//! - Failed logins are counted per token name (wrong or reused codes: the
//!   name is only known for a valid token) and for all clients together;
//!   over either budget, logins are refused before any check. Nothing is
//!   keyed on an address: the server never learns one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::desk::logged;
use super::ApiJson;
use crate::config::{DeskSessionSettings, SecureCookie};
use crate::error::ApiError;
use crate::state::SharedState;
use crate::totp::{check_login, LoginError, LoginOk};
use wbs_store::{SessionRecord, Store, StoreError, TokenName};

/// The cookie's name over plain HTTP (a loopback or LAN desk address).
pub const COOKIE: &str = "wbs_desk";
/// The cookie's name when it is `Secure`: the `__Host-` prefix makes the
/// browser refuse it unless it is `Secure`, `Path=/` and without `Domain`.
pub const COOKIE_SECURE: &str = "__Host-wbs_desk";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-wbs-csrf";
/// Sessions per token name; a new login beyond it ends that name's oldest.
const SESSIONS_PER_NAME: usize = 8;
/// Sessions in all; beyond it (after expired ones are dropped), logins are
/// refused.
const SESSIONS_MAX: usize = 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// What a valid session stands for.
#[derive(Debug, Clone)]
pub struct Found {
    /// The token's name.
    pub name: String,
    /// The token's hash.
    pub token_hash: [u8; 32],
    csrf: [u8; 32],
}

impl Found {
    /// Whether `given` (the `X-Wbs-Csrf` header) is this session's CSRF
    /// token, compared in constant time.
    pub fn csrf_matches(&self, given: &str) -> bool {
        let expected = b64(&self.csrf);
        given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// A session just opened: the cookie value and the CSRF token, each shown
/// once.
pub struct Opened {
    /// The session id, base64url: the cookie's value.
    pub cookie_value: Zeroizing<String>,
    /// The CSRF token, base64url.
    pub csrf: Zeroizing<String>,
}

/// The desk sessions. The store keeps them, keyed by the SHA-256 of their
/// id ([`wbs_store::SessionRecord`]); this holds their lifetimes. Every
/// call reaches the store: call it on a blocking thread.
#[derive(Debug, Clone, Copy)]
pub struct Sessions {
    idle_secs: u64,
    max_secs: u64,
}

/// The SHA-256 of a session id given as its cookie value, if it is one.
fn id_hash(cookie_value: &str) -> Option<[u8; 32]> {
    let raw = Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cookie_value)
            .ok()?,
    );
    (raw.len() == 32).then(|| Sha256::digest(&raw[..]).into())
}

/// Now, in Unix seconds (sessions expire by the wall clock, which every
/// instance shares).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sessions {
    /// The lifetimes the settings give.
    pub fn new(settings: &DeskSessionSettings) -> Sessions {
        Sessions {
            idle_secs: settings.idle_minutes.saturating_mul(60),
            max_secs: settings.max_hours.saturating_mul(3600),
        }
    }

    /// Opens a session for `name` at `now` (Unix seconds); `None` when
    /// [`SESSIONS_MAX`] live sessions exist. A name keeps at most its
    /// [`SESSIONS_PER_NAME`] newest sessions.
    pub fn open(
        &self,
        store: &dyn Store,
        name: &TokenName,
        token_hash: [u8; 32],
        now: u64,
    ) -> Result<Option<Opened>, StoreError> {
        let id = Zeroizing::new(random32());
        let csrf = random32();
        let hash: [u8; 32] = Sha256::digest(&id[..]).into();
        let record = SessionRecord {
            name: name.clone(),
            token_hash,
            csrf,
            idle_until: now.saturating_add(self.idle_secs),
            expires_at: now.saturating_add(self.max_secs),
        };
        if !store.session_create(hash, &record, now, SESSIONS_PER_NAME, SESSIONS_MAX)? {
            return Ok(None);
        }
        Ok(Some(Opened {
            cookie_value: Zeroizing::new(b64(&id[..])),
            csrf: Zeroizing::new(b64(&csrf)),
        }))
    }

    /// The live session of a cookie value. Looking does not count as a
    /// use: [`touch`](Self::touch) it once the request has proved itself
    /// (a stolen cookie without its CSRF token keeps nothing alive).
    pub fn find(
        &self,
        store: &dyn Store,
        cookie_value: &str,
        now: u64,
    ) -> Result<Option<Found>, StoreError> {
        let Some(hash) = id_hash(cookie_value) else {
            return Ok(None);
        };
        Ok(store.session_get(&hash, now)?.map(|s| Found {
            name: s.name.to_string(),
            token_hash: s.token_hash,
            csrf: s.csrf,
        }))
    }

    /// Counts a use of the session of a cookie value: its idle time starts
    /// again.
    pub fn touch(&self, store: &dyn Store, cookie_value: &str, now: u64) -> Result<(), StoreError> {
        match id_hash(cookie_value) {
            Some(hash) => store.session_touch(&hash, now, self.idle_secs),
            None => Ok(()),
        }
    }

    /// Ends the session of a cookie value (nothing if there is none).
    pub fn end(&self, store: &dyn Store, cookie_value: &str) -> Result<(), StoreError> {
        match id_hash(cookie_value) {
            Some(hash) => store.session_delete(&hash),
            None => Ok(()),
        }
    }
}

/// A leaky bucket of failures: it drains evenly over the window.
#[derive(Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn drained(self, now: Instant, cap: u32, window: Duration) -> f64 {
        let rate = f64::from(cap) / window.as_secs_f64();
        let gone = now.saturating_duration_since(self.at).as_secs_f64() * rate;
        (self.level - gone).max(0.0)
    }
}

/// Which budget refused a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// All clients together.
    Global,
    /// This token name.
    Name,
}

/// The login budgets: failures per token name and in all. An attempt takes
/// one unit before it is checked (so that parallel guesses cannot all slip
/// in) and gives it back when it succeeds or was no guess.
pub struct LoginBudget {
    global: Mutex<Bucket>,
    names: Mutex<HashMap<String, Bucket>>,
    per_name: u32,
    global_cap: u32,
    window: Duration,
}

impl LoginBudget {
    /// Full budgets.
    pub fn new(settings: &DeskSessionSettings, now: Instant) -> LoginBudget {
        LoginBudget {
            global: Mutex::new(Bucket {
                level: 0.0,
                at: now,
            }),
            names: Mutex::new(HashMap::new()),
            per_name: settings.login_failures_per_name,
            global_cap: settings.login_failures_global,
            window: Duration::from_secs(settings.login_window_minutes.saturating_mul(60)),
        }
    }

    fn take_from(b: &mut Bucket, now: Instant, cap: u32, window: Duration) -> bool {
        let level = b.drained(now, cap, window);
        *b = Bucket { level, at: now };
        if level + 1.0 > f64::from(cap) {
            return false;
        }
        b.level += 1.0;
        true
    }

    fn give_back(b: &mut Bucket) {
        b.level = (b.level - 1.0).max(0.0);
    }

    /// Takes a unit of the global budget.
    pub fn take_global(&self, now: Instant) -> Result<(), OverBudget> {
        let mut g = self.global.lock().unwrap_or_else(|p| p.into_inner());
        if Self::take_from(&mut g, now, self.global_cap, self.window) {
            Ok(())
        } else {
            Err(OverBudget::Global)
        }
    }

    /// Gives a unit back to the global budget.
    pub fn refund_global(&self) {
        Self::give_back(&mut self.global.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Takes a unit of `name`'s budget.
    pub fn take_name(&self, name: &str, now: Instant) -> Result<(), OverBudget> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        // Names exist only for valid tokens, so this map stays small; empty
        // buckets are dropped now and then all the same.
        if names.len() > 256 {
            let (cap, window) = (self.per_name, self.window);
            names.retain(|_, b| b.drained(now, cap, window) > 0.0);
        }
        let b = names.entry(name.to_owned()).or_insert(Bucket {
            level: 0.0,
            at: now,
        });
        if Self::take_from(b, now, self.per_name, self.window) {
            Ok(())
        } else {
            Err(OverBudget::Name)
        }
    }

    /// Gives a unit back to `name`'s budget.
    pub fn refund_name(&self, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = names.get_mut(name) {
            Self::give_back(b);
        }
    }
}

/// Why a checked login failed: over a budget, or refused by
/// [`crate::totp::check_login`].
pub enum Checked {
    /// Over the global or this name's budget: nothing was checked.
    Limited,
    /// Refused, or storage failed.
    Refused(LoginError),
}

/// Checks a token and its TOTP code (where enrolled, or where the
/// operator requires one) against the login budgets: the one check of the
/// desk pages' login and of every bearer API request.
///
/// `charge_global`: whether this attempt counts against the global budget
/// (a bearer request without a code guesses nothing worth counting: a
/// token is 256 random bits).
pub async fn check_budgeted(
    app: &SharedState,
    token: Zeroizing<String>,
    code: Option<Zeroizing<String>>,
    charge_global: bool,
) -> Result<LoginOk, Checked> {
    let now = Instant::now();
    let budget = &app.login_budget;
    if charge_global {
        budget.take_global(now).map_err(|_| Checked::Limited)?;
    }
    let refund_global = || {
        if charge_global {
            budget.refund_global();
        }
    };
    if token.is_empty() || token.len() > 256 {
        return Err(Checked::Refused(LoginError::UnknownToken));
    }
    // The name first, to charge its budget before the code is checked.
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let name = match app.with_store(move |s| Ok(s.token_name(&hash)?)).await {
        Ok(Some(name)) => name,
        Ok(None) => return Err(Checked::Refused(LoginError::UnknownToken)),
        Err(e) => {
            refund_global();
            return Err(Checked::Refused(LoginError::Store(e.message)));
        }
    };
    let charge_name = code.is_some();
    if charge_name && budget.take_name(&name, now).is_err() {
        refund_global();
        return Err(Checked::Limited);
    }
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let require = app.settings.desk.require_totp;
    let checked = app
        .with_store(move |s| {
            let code = code.as_ref().map(|c| c.trim());
            Ok(check_login(s, require, &token, code, now_unix))
        })
        .await
        .unwrap_or_else(|e| Err(LoginError::Store(e.message)));
    // Only a wrong or reused code is a guess at the second factor; a
    // missing one (or a token not enrolled where the operator requires
    // TOTP) is not, and costs nothing.
    let guess = matches!(&checked, Err(e) if e.is_wrong_second_factor());
    if !guess {
        if charge_name {
            budget.refund_name(&name);
        }
        refund_global();
    }
    checked.map_err(Checked::Refused)
}

/// Whether the request comes from a page of this site, as far as the
/// browser says: `Sec-Fetch-Site` must be `same-origin` and `Origin` name
/// the host the request was sent to, when present. Clients that send
/// neither (curl, `wbs-desk`) pass: they carry no ambient cookie anyway.
pub fn same_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let bare = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if bare != Some(host) {
            return false;
        }
    }
    true
}

/// Whether the cookie should be `Secure` for this request.
fn secure(app: &SharedState, headers: &HeaderMap) -> bool {
    if app.settings.desk_session.secure_cookie == SecureCookie::Always {
        return true;
    }
    let text = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    let forwarded_https = text("x-forwarded-proto")
        .iter()
        .any(|v| v.split(',').next().map(str::trim) == Some("https"))
        || text("forwarded").iter().any(|v| {
            v.split([';', ','])
                .map(str::trim)
                .any(|p| p == "proto=https")
        });
    let onion = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .is_some_and(|h| h.to_ascii_lowercase().ends_with(".onion"));
    forwarded_https || onion
}

/// The session cookie's value in a request, if any.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if (k == COOKIE_SECURE || k == COOKIE) && !val.is_empty() && val.len() <= 64 {
                    return Some(val.to_owned());
                }
            }
        }
    }
    None
}

fn set_cookie(resp: &mut Response, value: &str, secure: bool, clear: bool) {
    let name = if secure { COOKIE_SECURE } else { COOKIE };
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if clear {
        c.push_str("; Max-Age=0");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn forbidden(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// Authenticates a desk API request by its session cookie: a live session,
/// from this site, with the session's CSRF token, whose token is still
/// registered. Gives the token's name.
pub async fn from_cookie(parts: &Parts, app: &SharedState) -> Result<String, ApiError> {
    let value = cookie_value(&parts.headers).ok_or_else(ApiError::unauthorized)?;
    if !same_site(&parts.headers) {
        return Err(forbidden(
            "cross_site",
            "this request came from another site and was refused",
        ));
    }
    let sessions = app.sessions;
    let cookie = Zeroizing::new(value.clone());
    let found = app
        .with_store(move |s| Ok(sessions.find(s, &cookie, unix_now())?))
        .await?
        .ok_or_else(session_ended)?;
    let csrf = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !found.csrf_matches(csrf) {
        return Err(forbidden(
            "csrf",
            "the request lacks this session's X-Wbs-Csrf token",
        ));
    }
    if let Err(e) = still_registered(app, &found).await {
        end_session(app, &value).await?;
        return Err(e);
    }
    app.with_store(move |s| Ok(sessions.touch(s, &value, unix_now())?))
        .await?;
    Ok(found.name)
}

async fn end_session(app: &SharedState, cookie_value: &str) -> Result<(), ApiError> {
    let (sessions, cookie) = (app.sessions, Zeroizing::new(cookie_value.to_owned()));
    app.with_store(move |s| Ok(sessions.end(s, &cookie)?)).await
}

async fn still_registered(app: &SharedState, found: &Found) -> Result<(), ApiError> {
    let hash = found.token_hash;
    let name = app.with_store(move |s| Ok(s.token_name(&hash)?)).await?;
    if name.as_deref() == Some(found.name.as_str()) {
        Ok(())
    } else {
        Err(session_ended())
    }
}

fn session_ended() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_ended",
        "no session, or it has ended; please log in",
    )
}

/// A secret from a JSON body, wiped when dropped.
struct Secret(Zeroizing<String>);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Secret(Zeroizing::new(s)))
    }
}

/// Body of `POST /api/v1/desk/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    token: Secret,
    #[serde(default)]
    totp: Option<Secret>,
}

/// Answer of a login and of `GET /api/v1/desk/session`.
#[derive(Serialize)]
pub struct SessionInfo {
    /// The token's name.
    pub name: String,
    /// The CSRF token: only in the login answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Minutes without a request after which the session ends.
    pub idle_minutes: u64,
    /// Hours after login at which it ends.
    pub max_hours: u64,
}

fn info(app: &SharedState, name: String, csrf: Option<String>) -> SessionInfo {
    SessionInfo {
        name,
        csrf,
        idle_minutes: app.settings.desk_session.idle_minutes,
        max_hours: app.settings.desk_session.max_hours,
    }
}

/// The one answer to every refused login: an unknown token, a missing,
/// wrong or reused code all read the same.
fn login_failed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "login_failed",
        "the token or the code is not right (each code works once: wait for the next one)",
    )
}

fn reason(e: &LoginError) -> &'static str {
    match e {
        LoginError::UnknownToken => "unknown_token",
        LoginError::TotpRequired => "totp_required",
        LoginError::TotpNotEnrolled => "totp_not_enrolled",
        LoginError::TotpWrong => "totp_wrong",
        LoginError::TotpReplayed => "totp_replayed",
        LoginError::Store(_) => "store",
    }
}

pub(crate) fn login_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login_limited",
        "too many failed logins; please wait a few minutes",
    )
}

/// `POST /api/v1/desk/session`: log in.
pub async fn post_session(
    State(app): State<SharedState>,
    headers: HeaderMap,
    body: Result<ApiJson<LoginRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let mut actor = String::from("-");
    let r = login(&app, &headers, body, &mut actor).await;
    logged(&actor, "login", r)
}

async fn login(
    app: &SharedState,
    headers: &HeaderMap,
    body: Result<ApiJson<LoginRequest>, ApiError>,
    actor: &mut String,
) -> Result<Response, ApiError> {
    // A login from another site would log the desk into the attacker's
    // session (login CSRF).
    if !same_site(headers) {
        return Err(forbidden(
            "cross_site",
            "this request came from another site and was refused",
        ));
    }
    let ApiJson(req) = body?;
    let hash: [u8; 32] = Sha256::digest(req.token.0.as_bytes()).into();
    // The page always sends the code field; empty means none.
    let code = req.totp.map(|c| c.0).filter(|c| !c.trim().is_empty());
    let ok = match check_budgeted(app, req.token.0, code, true).await {
        Ok(ok) => ok,
        Err(Checked::Limited) => return Err(login_limited()),
        Err(Checked::Refused(LoginError::Store(e))) => return Err(ApiError::internal(e)),
        Err(Checked::Refused(e)) => {
            // The reason goes to the day-dated audit log (for a token that
            // exists), never to the client: every refusal reads the same.
            if !matches!(e, LoginError::UnknownToken) {
                let why = reason(&e);
                let who = app
                    .with_store(move |s| Ok(s.token_name(&hash)?))
                    .await?
                    .map(String::from)
                    .unwrap_or_default();
                if !who.is_empty() {
                    actor.clone_from(&who);
                    app.with_store(move |s| Ok(s.audit(&who, "login_refused", why)?))
                        .await?;
                }
            }
            return Err(login_failed());
        }
    };
    actor.clone_from(&ok.name);
    let (sessions, name) = (
        app.sessions,
        TokenName::parse(&ok.name).map_err(ApiError::internal)?,
    );
    let opened = app
        .with_store(move |s| Ok(sessions.open(s, &name, hash, unix_now())?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sessions_full",
                "too many desk sessions are open; please try again later",
            )
        })?;
    let (who, how) = (
        ok.name.clone(),
        if ok.totp_enrolled {
            "token+totp"
        } else {
            "token"
        },
    );
    app.with_store(move |s| Ok(s.audit(&who, "login", how)?))
        .await?;
    let secure = secure(app, headers);
    let mut resp = Json(info(app, ok.name, Some(opened.csrf.to_string()))).into_response();
    set_cookie(&mut resp, &opened.cookie_value, secure, false);
    Ok(resp)
}

/// `GET /api/v1/desk/session`: who this session is, without its CSRF
/// token (a page that lost it logs in again).
pub async fn get_session(
    State(app): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    let value = cookie_value(&headers).ok_or_else(session_ended)?;
    if !same_site(&headers) {
        return Err(forbidden(
            "cross_site",
            "this request came from another site and was refused",
        ));
    }
    let sessions = app.sessions;
    let cookie = Zeroizing::new(value.clone());
    let found = app
        .with_store(move |s| Ok(sessions.find(s, &cookie, unix_now())?))
        .await?
        .ok_or_else(session_ended)?;
    if let Err(e) = still_registered(&app, &found).await {
        end_session(&app, &value).await?;
        return Err(e);
    }
    Ok(Json(info(&app, found.name, None)))
}

/// `POST /api/v1/desk/logout`: ends the session (CSRF token required) and
/// clears the cookie.
pub async fn post_logout(
    State(app): State<SharedState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let r = async {
        let name = from_cookie(&parts, &app).await?;
        if let Some(value) = cookie_value(&parts.headers) {
            end_session(&app, &value).await?;
        }
        let who = name.clone();
        app.with_store(move |s| Ok(s.audit(&who, "logout", "")?))
            .await?;
        let mut resp = StatusCode::NO_CONTENT.into_response();
        set_cookie(&mut resp, "", true, true);
        set_cookie(&mut resp, "", false, true);
        Ok::<_, ApiError>((name, resp))
    }
    .await;
    match r {
        Ok((name, resp)) => logged(&name, "logout", Ok(resp)),
        Err(e) => logged("-", "logout", Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeskSessionSettings {
        DeskSessionSettings {
            idle_minutes: 10,
            max_hours: 1,
            login_failures_per_name: 3,
            login_failures_global: 5,
            login_window_minutes: 10,
            ..DeskSessionSettings::default()
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// A store for the sessions, and the sessions' settings.
    fn sessions() -> (tempfile::TempDir, wbs_store::SledStore, Sessions) {
        let dir = tempfile::tempdir().unwrap();
        let store = wbs_store::SledStore::create_or_open(&dir.path().join("data")).unwrap();
        (dir, store, Sessions::new(&settings()))
    }

    fn name(n: &str) -> TokenName {
        TokenName::parse(n).unwrap()
    }

    const T0: u64 = 1_800_000_000;

    #[test]
    fn a_session_ends_when_idle_and_at_its_lifetime_whatever_its_use() {
        let (_dir, store, s) = sessions();
        let a = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let found = |cookie: &str, t: u64| s.find(&store, cookie, t).unwrap();
        assert_eq!(found(&a.cookie_value, T0).unwrap().name, "siti");
        // Used every 9 minutes: alive until the hour is up.
        let mut t = T0;
        for _ in 0..6 {
            t += 9 * 60;
            assert!(found(&a.cookie_value, t).is_some(), "{}", t - T0);
            s.touch(&store, &a.cookie_value, t).unwrap();
        }
        t += 9 * 60;
        assert!(found(&a.cookie_value, t).is_none(), "past max_hours");
        // Looked up (as with a stolen cookie and no CSRF token) but never
        // used: gone after ten minutes.
        let b = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        assert!(found(&b.cookie_value, T0 + 300).is_some());
        assert!(found(&b.cookie_value, T0 + 600).is_none());
    }

    #[test]
    fn the_store_keeps_only_the_hash_of_a_session_id() {
        use wbs_store::MetaStore;
        let (_dir, store, s) = sessions();
        let a = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(a.cookie_value.as_bytes())
            .unwrap();
        assert_eq!(raw.len(), 32);
        let raw: [u8; 32] = raw.try_into().unwrap();
        assert!(store.session_get(&raw, T0).unwrap().is_none());
        let hash: [u8; 32] = Sha256::digest(raw).into();
        assert!(store.session_get(&hash, T0).unwrap().is_some());
    }

    #[test]
    fn logout_ends_the_session_and_garbage_finds_nothing() {
        let (_dir, store, s) = sessions();
        let a = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let b = s.open(&store, &name("budi"), [2; 32], T0).unwrap().unwrap();
        s.end(&store, &a.cookie_value).unwrap();
        assert!(s.find(&store, &a.cookie_value, T0).unwrap().is_none());
        assert!(s.find(&store, &b.cookie_value, T0).unwrap().is_some());
        for junk in ["", "x", "!!!!", &"A".repeat(43), &b.csrf] {
            assert!(s.find(&store, junk, T0).unwrap().is_none(), "{junk}");
        }
    }

    #[test]
    fn a_name_keeps_at_most_its_newest_sessions() {
        let (_dir, store, s) = sessions();
        let first = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let mut opened = Vec::new();
        for i in 1..=SESSIONS_PER_NAME as u64 {
            opened.push(
                s.open(&store, &name("siti"), [1; 32], T0 + i)
                    .unwrap()
                    .unwrap(),
            );
        }
        let now = T0 + 20;
        assert!(s.find(&store, &first.cookie_value, now).unwrap().is_none());
        for o in &opened {
            assert!(s.find(&store, &o.cookie_value, now).unwrap().is_some());
        }
    }

    #[test]
    fn the_csrf_token_is_the_sessions_own() {
        let (_dir, store, s) = sessions();
        let a = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let b = s.open(&store, &name("siti"), [1; 32], T0).unwrap().unwrap();
        let found = s.find(&store, &a.cookie_value, T0).unwrap().unwrap();
        assert!(found.csrf_matches(&a.csrf));
        assert!(!found.csrf_matches(&b.csrf));
        assert!(!found.csrf_matches(""));
        assert!(!found.csrf_matches(&a.cookie_value));
        assert!(!found.csrf_matches(&a.csrf[..a.csrf.len() - 1]));
    }

    #[test]
    fn budgets_count_failures_per_name_and_in_all_and_refill_evenly() {
        let t0 = Instant::now();
        let b = LoginBudget::new(&settings(), t0);
        for _ in 0..3 {
            b.take_name("siti", t0).unwrap();
        }
        assert_eq!(b.take_name("siti", t0), Err(OverBudget::Name));
        // Another name is not locked out by siti's failures.
        b.take_name("budi", t0).unwrap();
        // A refund (a success) gives one back.
        b.refund_name("siti");
        b.take_name("siti", t0).unwrap();
        // Three failures per ten minutes: one more after 200 s.
        let later = t0 + Duration::from_secs(201);
        b.take_name("siti", later).unwrap();
        assert_eq!(b.take_name("siti", later), Err(OverBudget::Name));

        for _ in 0..5 {
            b.take_global(t0).unwrap();
        }
        assert_eq!(b.take_global(t0), Err(OverBudget::Global));
        b.take_global(t0 + Duration::from_secs(121)).unwrap();
    }

    #[test]
    fn same_site_refuses_other_sites_and_lets_plain_clients_through() {
        let host = ("host", "127.0.0.1:8081");
        assert!(same_site(&headers(&[host])));
        assert!(same_site(&headers(&[
            host,
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:8081")
        ])));
        assert!(same_site(&headers(&[
            host,
            ("origin", "https://127.0.0.1:8081")
        ])));
        for bad in [
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![host, ("sec-fetch-site", "none")],
            vec![host, ("origin", "http://evil.example")],
            vec![host, ("origin", "null")],
            vec![host, ("origin", "http://127.0.0.1:8081.evil.example")],
            vec![("origin", "http://127.0.0.1:8081")],
        ] {
            assert!(!same_site(&headers(&bad)), "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_is_read_under_either_name() {
        assert_eq!(
            cookie_value(&headers(&[("cookie", "a=b; wbs_desk=XYZ; c=d")])).as_deref(),
            Some("XYZ")
        );
        assert_eq!(
            cookie_value(&headers(&[("cookie", "__Host-wbs_desk=Q")])).as_deref(),
            Some("Q")
        );
        assert_eq!(cookie_value(&headers(&[("cookie", "wbs_desk=")])), None);
        assert_eq!(cookie_value(&headers(&[("cookie", "xwbs_desk=1")])), None);
        assert_eq!(cookie_value(&HeaderMap::new()), None);
    }
}
