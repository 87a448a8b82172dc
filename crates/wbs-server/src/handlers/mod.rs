//! Request handlers, one module per resource, named by verb.

pub mod desk;
pub mod overview;
pub mod pages;
pub mod reporter;
pub mod session;
pub mod uploads;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body whose rejections become the documented error answers:
/// 415 for a wrong content type, 400 for malformed JSON, 422 for JSON of the
/// wrong shape (unknown fields, wrong types), 413 when too large.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    use axum::http::StatusCode;
    match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a JSON body (Content-Type: application/json)",
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "the body is not valid JSON")
        }
        JsonRejection::JsonDataError(e) => ApiError::unprocessable(
            "invalid_json",
            format!("the JSON does not fit: {}", e.body_text()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large("the request body is too large")
        }
        other => ApiError::bad_request("bad_request", other.body_text()),
    }
}

/// Parses a small JSON document (a multipart `meta` part) with the same
/// error codes as [`ApiJson`].
pub fn parse_meta<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Straight into `T`, not through `serde_json::Value`: a `Value` keeps
    // the last of duplicated keys, so `{"lookup": A, "lookup": B}` was
    // accepted as B, where the status route refuses it
    // (tests/tests/hostile_uploads.rs, `meta_duplicated_keys`).
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_json", format!("the meta part does not fit: {e}"))
        }
        _ => ApiError::bad_request("malformed_json", "the meta part is not valid JSON"),
    })
}
