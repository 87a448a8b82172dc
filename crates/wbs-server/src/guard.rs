//! Guards on upload bodies, underneath the multipart parser.
//!
//! The multipart parser (multer, through axum) has two weaknesses a hostile
//! client can lean on (both found by tests/tests/hostile_uploads.rs and
//! tests/tests/slowloris.rs):
//!
//! - It buffers a part's header block, and any preamble before the first
//!   boundary, until their end appears, with no limit but the whole
//!   request's (`max_request_bytes`, 2 GiB by default): a header line that
//!   never ends parks the whole body in memory, once per upload slot.
//! - It waits for the next bytes as long as the client likes. The
//!   per-chunk idle timeout of [`crate::upload`] only covers part data, so a
//!   client that went silent inside `meta` or between two parts held its
//!   upload slot forever.
//!
//! [`guard_uploads`] wraps the body of every upload to close both, and
//! refuses at once a declared `Content-Length` over the limit, so a client
//! learns it before sending anything rather than after.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;
use crate::state::SharedState;

/// Most bytes the parser may hold that it has not yet handed out as part
/// data: part headers, boundaries and what one read brings in at once
/// (hyper hands over at most 64 KiB per read). Generous for real clients,
/// whose part headers are a few hundred bytes.
pub const MAX_UNCONSUMED: u64 = 1 << 20;

/// Counts what goes into the multipart parser and what comes out as part
/// data. Handlers report what they receive with [`BodyMeter::consumed`].
#[derive(Debug, Default)]
pub struct BodyMeter {
    fed: AtomicU64,
    consumed: AtomicU64,
}

impl BodyMeter {
    /// Records `n` bytes of part data received by a handler.
    pub fn consumed(&self, n: usize) {
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn fed(&self, n: usize) -> u64 {
        let fed = self.fed.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        fed.saturating_sub(self.consumed.load(Ordering::Relaxed))
    }
}

/// Why a guarded body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No bytes for the idle timeout.
    #[error("the upload stalled")]
    Idle,
    /// Too many bytes that are not part data.
    #[error("a part header or preamble is too large")]
    Unconsumed,
}

impl GuardError {
    /// The answer for this failure.
    pub fn to_api(self) -> ApiError {
        match self {
            GuardError::Idle => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the upload stalled; nothing was stored",
            ),
            GuardError::Unconsumed => ApiError::bad_request(
                "malformed_multipart",
                "malformed multipart body: a part header or preamble is too large",
            ),
        }
    }

    /// Finds a guard failure anywhere in an error's chain of causes.
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<GuardError> {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(g) = err.downcast_ref::<GuardError>() {
                return Some(*g);
            }
            cur = err.source();
        }
        None
    }
}

/// The body stream with an idle deadline and the [`BodyMeter`] check.
struct Guarded {
    inner: axum::body::BodyDataStream,
    meter: Arc<BodyMeter>,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    failed: bool,
}

impl Stream for Guarded {
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.deadline.as_mut().reset(Instant::now() + this.idle);
                if this.meter.fed(bytes.len()) > MAX_UNCONSUMED {
                    this.failed = true;
                    return Poll::Ready(Some(Err(Box::new(GuardError::Unconsumed))));
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.failed = true;
                    Poll::Ready(Some(Err(Box::new(GuardError::Idle))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Middleware on the upload routes: refuses a declared length over
/// `max_request_bytes` (413), then hands the handler a guarded body and its
/// [`BodyMeter`] (as a request extension).
pub async fn guard_uploads(State(app): State<SharedState>, req: Request, next: Next) -> Response {
    let limits = &app.settings.limits;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_request_bytes) {
        return ApiError::too_large(format!(
            "the request is larger than the limit of {} bytes",
            limits.max_request_bytes
        ))
        .into_response();
    }
    let idle = Duration::from_secs(limits.body_idle_timeout_secs);
    let meter = Arc::new(BodyMeter::default());
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(meter.clone());
    let guarded = Guarded {
        inner: body.into_data_stream(),
        meter,
        idle,
        deadline: Box::pin(tokio::time::sleep(idle)),
        failed: false,
    };
    next.run(Request::from_parts(parts, Body::from_stream(guarded)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn guarded(chunks: Vec<&'static [u8]>, meter: Arc<BodyMeter>) -> Guarded {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        Guarded {
            inner: Body::from_stream(stream).into_data_stream(),
            meter,
            idle: Duration::from_secs(5),
            deadline: Box::pin(tokio::time::sleep(Duration::from_secs(5))),
            failed: false,
        }
    }

    #[tokio::test]
    async fn bytes_nobody_consumes_are_capped() {
        let meter = Arc::new(BodyMeter::default());
        let big: &'static [u8] = Box::leak(vec![b'h'; 600 * 1024].into_boxed_slice());
        let mut g = guarded(vec![big, big], meter);
        assert!(g.next().await.unwrap().is_ok());
        let err = g.next().await.unwrap().unwrap_err();
        assert_eq!(GuardError::find(err.as_ref()), Some(GuardError::Unconsumed));
        assert!(g.next().await.is_none());
    }

    #[tokio::test]
    async fn consumed_bytes_do_not_count() {
        let meter = Arc::new(BodyMeter::default());
        let big: &'static [u8] = Box::leak(vec![b'd'; 600 * 1024].into_boxed_slice());
        let mut g = guarded(vec![big, big, big], meter.clone());
        while let Some(chunk) = g.next().await {
            meter.consumed(chunk.unwrap().len());
        }
    }

    #[tokio::test]
    async fn a_silent_body_fails_after_the_idle_time() {
        let meter = Arc::new(BodyMeter::default());
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let mut g = Guarded {
            inner: Body::from_stream(stream).into_data_stream(),
            meter,
            idle: Duration::from_millis(100),
            deadline: Box::pin(tokio::time::sleep(Duration::from_millis(100))),
            failed: false,
        };
        let err = g.next().await.unwrap().unwrap_err();
        assert_eq!(GuardError::find(err.as_ref()), Some(GuardError::Idle));
    }
}
