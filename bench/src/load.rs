//! Closed-loop load: N client threads, each with its own keep-alive
//! connection, each sending its next request as soon as the last one was
//! answered, for a warm-up and then a measured window, bounded in time and
//! in count.
//!
//! Every latency is kept (microseconds, one `u32` each), so percentiles are
//! exact, not estimated from buckets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::http::{request_bytes, Connection};

/// Which client library sends the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// The minimal keep-alive client of [`crate::http`].
    Raw,
    /// `reqwest::blocking`, one client (and so one connection) per thread:
    /// what a Rust program would ordinarily use.
    Reqwest,
}

impl ClientKind {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw keep-alive",
            ClientKind::Reqwest => "reqwest blocking",
        }
    }
}

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Concurrent clients.
    pub clients: usize,
    /// Not measured: connections opened, caches warm.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Most requests sent in all, warm-up included.
    pub max_requests: u64,
}

/// One request, prepared before the clock starts.
pub struct Request {
    /// Path, e.g. `/api/v1/status`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadStats {
    /// Concurrent clients.
    pub clients: usize,
    /// Client library.
    pub client: ClientKind,
    /// Requests answered as expected inside the measured window.
    pub ok: u64,
    /// Requests answered otherwise, or failed, inside the window.
    pub errors: u64,
    /// The first such failure, to say what went wrong.
    pub first_error: Option<String>,
    /// Length of the measured window, seconds.
    pub seconds: f64,
    /// `ok / seconds`.
    pub per_second: f64,
    /// Latency percentiles of the measured requests, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// Request indexes answered as expected (warm-up included), for
    /// follow-on runs that need existing cases.
    #[serde(skip)]
    pub ok_indexes: Vec<u64>,
}

struct ThreadResult {
    /// (start offset µs, latency µs, ok)
    samples: Vec<(u64, u32, bool)>,
    ok_indexes: Vec<u64>,
    first_error: Option<String>,
}

enum Sender {
    Raw(Connection),
    Reqwest(reqwest::blocking::Client),
}

impl Sender {
    fn send(&mut self, addr: &SocketAddr, r: &Request) -> Result<u16, String> {
        match self {
            Sender::Raw(conn) => {
                let bytes = request_bytes(
                    "POST",
                    r.path,
                    addr,
                    &[("Content-Type", &r.content_type)],
                    &r.body,
                );
                let response = conn.send(&bytes).map_err(|e| e.to_string())?;
                if response.status >= 300 {
                    return Err(format!("{}: {}", response.status, response.text()));
                }
                Ok(response.status)
            }
            Sender::Reqwest(client) => {
                let response = client
                    .post(format!("http://{addr}{}", r.path))
                    .header(reqwest::header::CONTENT_TYPE, &r.content_type)
                    .body(r.body.clone())
                    .send()
                    .map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let text = response.text().map_err(|e| e.to_string())?;
                if status >= 300 {
                    return Err(format!("{status}: {text}"));
                }
                Ok(status)
            }
        }
    }
}

/// Runs `spec.clients` threads against `addr`; `make(i)` builds request
/// number `i` (unique across threads); `expect` is the success status.
pub fn run(
    addr: SocketAddr,
    kind: ClientKind,
    spec: LoadSpec,
    expect: u16,
    make: &(dyn Fn(u64) -> Request + Sync),
) -> Result<LoadStats, String> {
    let next = AtomicU64::new(0);
    let start = Instant::now();
    let measure_from = spec.warmup;
    let end = spec.warmup + spec.duration;
    let timeout = Duration::from_secs(60);
    let results: Vec<ThreadResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..spec.clients)
            .map(|_| {
                let next = &next;
                scope.spawn(move || -> Result<ThreadResult, String> {
                    let mut sender = match kind {
                        ClientKind::Raw => Sender::Raw(Connection::new(addr, timeout)),
                        ClientKind::Reqwest => Sender::Reqwest(
                            reqwest::blocking::Client::builder()
                                .timeout(timeout)
                                .pool_max_idle_per_host(1)
                                .build()
                                .map_err(|e| e.to_string())?,
                        ),
                    };
                    let mut out = ThreadResult {
                        samples: Vec::with_capacity(64 * 1024),
                        ok_indexes: Vec::new(),
                        first_error: None,
                    };
                    loop {
                        if start.elapsed() >= end {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= spec.max_requests {
                            break;
                        }
                        let request = make(i);
                        let t0 = Instant::now();
                        let result = sender.send(&addr, &request);
                        let latency = t0.elapsed();
                        let ok = matches!(result, Ok(s) if s == expect);
                        if ok {
                            out.ok_indexes.push(i);
                        } else if out.first_error.is_none() {
                            out.first_error = Some(match result {
                                Ok(s) => format!("status {s}, {expect} expected"),
                                Err(e) => e,
                            });
                        }
                        out.samples.push((
                            t0.duration_since(start).as_micros() as u64,
                            latency.as_micros().min(u128::from(u32::MAX)) as u32,
                            ok,
                        ));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "a client thread panicked".to_string())?
            })
            .collect::<Result<Vec<_>, String>>()
    })?;

    let from = measure_from.as_micros() as u64;
    let until = end.as_micros() as u64;
    let mut latencies = Vec::new();
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut last_done = from;
    let mut first_error = None;
    let mut ok_indexes = Vec::new();
    for r in results {
        ok_indexes.extend(r.ok_indexes);
        if first_error.is_none() {
            first_error = r.first_error;
        }
        for (at, lat, good) in r.samples {
            let done = at + u64::from(lat);
            if at < from || done > until {
                continue;
            }
            last_done = last_done.max(done);
            latencies.push(lat);
            if good {
                ok += 1;
            } else {
                errors += 1;
            }
        }
    }
    // When the count bound ends a run early, the window ends with its last answer.
    let seconds = (last_done.min(until) - from) as f64 / 1e6;
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        f64::from(latencies[rank.clamp(1, latencies.len()) - 1]) / 1000.0
    };
    Ok(LoadStats {
        clients: spec.clients,
        client: kind,
        ok,
        errors,
        first_error,
        seconds,
        per_second: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        p50_ms: pct(50.0),
        p90_ms: pct(90.0),
        p99_ms: pct(99.0),
        max_ms: pct(100.0),
        ok_indexes,
    })
}
