//! Every route in one table.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post};
use axum::Router;

use crate::error::ApiError;
use crate::handlers::{desk, overview, pages, reporter, session, uploads};
use crate::state::SharedState;

/// Largest JSON body on the plain JSON routes.
const MAX_JSON_BODY: usize = 64 * 1024;

/// The reporter-facing routes: pages, config, proof-of-work, submissions,
/// status, follow-ups, health.
pub fn public_router(app: &SharedState) -> Router<SharedState> {
    let limits = &app.settings.limits;
    let timeout = Duration::from_secs(limits.request_timeout_secs);
    let uploads = Router::new()
        .route("/api/v1/submissions", post(reporter::post_submission))
        .route("/api/v1/followups", post(reporter::post_followup))
        .layer(DefaultBodyLimit::max(
            limits.max_request_bytes.min(usize::MAX as u64) as usize,
        ))
        .layer(from_fn_with_state(app.clone(), crate::guard::guard_uploads));
    // Resumable uploads (PROTOCOL.md §7.4): the bodies of PATCH are raw
    // bytes, bounded by the upload's declared length and timed per chunk
    // like a multipart upload, so they have no request deadline.
    let resumable = Router::new().route(
        "/api/v1/uploads/{id}",
        head(uploads::head_upload)
            .patch(uploads::patch_upload)
            .delete(uploads::delete_upload),
    );
    let quick = Router::new()
        .route("/", get(pages::index))
        .route("/report", get(pages::report))
        .route("/status", get(pages::status))
        .route("/assets/{name}", get(pages::file))
        .route("/healthz", get(pages::healthz))
        .route("/api/v1/config", get(reporter::get_config))
        .route("/api/v1/pow", get(reporter::get_pow))
        .route("/api/v1/status", post(reporter::post_status))
        .route("/api/v1/uploads", post(uploads::post_upload))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(from_fn_with_state(timeout, deadline));
    Router::new().merge(uploads).merge(resumable).merge(quick)
}

/// The investigator desk routes.
pub fn desk_router(app: &SharedState) -> Router<SharedState> {
    let limits = &app.settings.limits;
    let timeout = Duration::from_secs(limits.request_timeout_secs);
    Router::new()
        .route("/desk", get(pages::desk))
        .route(
            "/api/v1/desk/session",
            get(session::get_session)
                .post(session::post_session)
                .layer(DefaultBodyLimit::max(MAX_JSON_BODY)),
        )
        .route(
            "/api/v1/desk/logout",
            post(session::post_logout).layer(DefaultBodyLimit::max(MAX_JSON_BODY)),
        )
        .route("/api/v1/desk/overview", get(overview::get_overview))
        .route("/api/v1/desk/audit", get(overview::get_audit))
        .route("/api/v1/desk/cases", get(desk::get_cases))
        .route("/api/v1/desk/export", get(desk::get_export))
        .route(
            "/api/v1/desk/import",
            post(desk::post_import).layer(DefaultBodyLimit::max(limits.max_import_bytes as usize)),
        )
        .route(
            "/api/v1/desk/cases/{id}/status",
            post(desk::post_case_status).layer(DefaultBodyLimit::max(MAX_JSON_BODY)),
        )
        .layer(from_fn_with_state(timeout, deadline))
}

/// What the desk address serves besides [`desk_router`] when it is an
/// address of its own: the desk page at `/` too, and the page's files.
/// (On a shared address the public router has these files already.)
pub fn desk_alone_router() -> Router<SharedState> {
    Router::new()
        .route("/", get(pages::desk))
        .route("/assets/{name}", get(pages::file))
        .route("/healthz", get(pages::healthz))
}

/// Gives a request `timeout` to produce its answer (a streamed answer's
/// body may take longer), then answers 408 with the JSON error. It replaces
/// tower-http's timeout layer, whose 408 had an empty body: the one error
/// answer that was not JSON (tests/tests/slowloris.rs).
async fn deadline(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took too long",
        )
        .into_response(),
    }
}

async fn fallback() -> impl IntoResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page or endpoint",
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed here",
    )
}

/// Finishes a router: JSON answers for unknown paths and methods, the
/// shared state, and the security headers on everything.
pub fn finish(router: Router<SharedState>, app: SharedState) -> Router {
    router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::security::headers,
        ))
        .with_state(app)
}
