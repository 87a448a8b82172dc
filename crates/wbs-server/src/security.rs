//! Security headers on every answer (PROTOCOL.md §9, THREAT_MODEL.md).

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::SharedState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the security headers; API answers are never cached.
pub async fn headers(State(app): State<SharedState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    if is_api {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if let Some(onion) = &app.settings.onion_location {
        let url = format!("{}{}", onion.trim_end_matches('/'), path);
        if let Ok(v) = HeaderValue::from_str(&url) {
            h.insert(HeaderName::from_static("onion-location"), v);
        }
    }
    resp
}
