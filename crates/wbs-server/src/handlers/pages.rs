//! The web pages and the browser client's files, embedded in the binary.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The bytes of an embedded file.
pub fn asset(name: &str) -> Option<&'static [u8]> {
    embedded::ASSETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

fn serve(name: &str) -> Response {
    match asset(name) {
        Some(bytes) => {
            let mut resp = bytes.into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            );
            // Pages and scripts change only with a new server binary; a
            // revalidation per visit keeps them current without tracking anyone.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        None => not_found(),
    }
}

/// The same JSON 404 as every other unknown path (it used to be a plain
/// text "not found", the one error answer that was not JSON:
/// tests/tests/hostile_requests.rs, `path_asset_unknown`).
fn not_found() -> Response {
    crate::error::ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page or endpoint",
    )
    .into_response()
}

/// `GET /`.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /report`.
pub async fn report() -> Response {
    serve("report.html")
}

/// `GET /status`.
pub async fn status() -> Response {
    serve("status.html")
}

/// `GET /desk` (and `/` on a desk address of its own): the desk page.
pub async fn desk() -> Response {
    serve("desk.html")
}

/// `GET /assets/{name}`.
pub async fn file(Path(name): Path<String>) -> Response {
    if name.ends_with(".html") {
        return not_found();
    }
    serve(&name)
}

/// `GET /healthz`: 200 while storage is open and writable; 503 once a
/// write failed to reach the disk (the store then refuses writes until the
/// server is restarted, so nothing half-written is ever acknowledged).
pub async fn healthz(
    axum::extract::State(app): axum::extract::State<crate::state::SharedState>,
) -> Response {
    // A database backend answers over the network: off the async threads.
    let store = app.store.clone();
    let health = tokio::task::spawn_blocking(move || store.health())
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string()).into()));
    match health {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\":\"ok\"}",
        )
            .into_response(),
        Err(e) => crate::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unhealthy",
            format!("storage needs attention: {e}"),
        )
        .into_response(),
    }
}
