//! Durable submissions at 32 clients on one instance, then on two instances
//! on one PostgreSQL database (16 clients each, at the same time): what a
//! second instance adds when the database is shared. `--database` only.

use rand::RngCore;
use wbs_protocol::ReceiptCode;

use super::{say, Bins, Sizes};
use crate::error::{Error, Result};
use crate::load::{self, ClientKind, LoadSpec, LoadStats, Request};
use crate::payload::{
    boundary, meta_json, multipart_type, small_submission, submission_body, synthetic_lookup,
    InspectorKey, Submission,
};
use crate::server::ServerProcess;

const POOL: usize = 64;

fn line(what: &str, per_second: f64, p99: f64, ok: u64, errors: u64) {
    say(format!(
        "{what}: {per_second:>8.0}/s  p99 {p99:.2} ms  ({ok} ok, {errors} errors)"
    ));
}

/// Runs the scenario in `work/instances`.
pub fn run(bins: &Bins, work: &std::path::Path, key: &InspectorKey, sizes: &Sizes) -> Result<()> {
    if crate::server::DATABASE.get().is_none() {
        return Err(Error("the instances scenario needs --database".into()));
    }
    let dir = work.join("instances");
    let a = ServerProcess::start(&bins.server, &dir, &key.keys_dir)?;
    let b = a.another(&bins.server)?;
    let pool: Vec<Submission> = (0..POOL)
        .map(|_| small_submission(&key.recipient, &ReceiptCode::generate(), Vec::new()))
        .collect::<Result<_>>()?;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let boundary = boundary();
    let content_type = multipart_type(&boundary);
    let make_from = |offset: u64| {
        let (pool, content_type, boundary) = (&pool, content_type.clone(), boundary.clone());
        move |i: u64| {
            let s = &pool[(i % POOL as u64) as usize];
            Request {
                path: "/api/v1/submissions",
                content_type: content_type.clone(),
                body: submission_body(
                    &boundary,
                    &meta_json(&synthetic_lookup(&salt, offset + i), &s.reply_recipient),
                    &s.report,
                ),
            }
        }
    };
    let spec = |clients| LoadSpec {
        clients,
        warmup: sizes.warmup,
        duration: sizes.duration,
        max_requests: sizes.max_requests,
    };
    let check = |s: &LoadStats| {
        if s.ok == 0 || s.errors > 0 {
            Err(Error(format!(
                "submissions: {} ok, {} errors; first: {}",
                s.ok,
                s.errors,
                s.first_error.as_deref().unwrap_or("none")
            )))
        } else {
            Ok(())
        }
    };

    let one = load::run(a.addr, ClientKind::Raw, spec(32), 201, &make_from(0))?;
    check(&one)?;
    line(
        "submissions, 1 instance, 32 clients",
        one.per_second,
        one.p99_ms,
        one.ok,
        one.errors,
    );

    let (make_a, make_b) = (
        make_from(sizes.max_requests),
        make_from(2 * sizes.max_requests),
    );
    let (ra, rb) = std::thread::scope(|scope| {
        let ta = scope.spawn(|| load::run(a.addr, ClientKind::Raw, spec(16), 201, &make_a));
        let tb = scope.spawn(|| load::run(b.addr, ClientKind::Raw, spec(16), 201, &make_b));
        (ta.join(), tb.join())
    });
    let (ra, rb) = (
        ra.map_err(|_| Error("load thread panicked".into()))??,
        rb.map_err(|_| Error("load thread panicked".into()))??,
    );
    check(&ra)?;
    check(&rb)?;
    // The slower instance's p99 bounds the pair's.
    line(
        "submissions, 2 instances, 2 x 16 clients",
        ra.per_second + rb.per_second,
        ra.p99_ms.max(rb.p99_ms),
        ra.ok + rb.ok,
        ra.errors + rb.errors,
    );
    b.stop()?;
    a.stop()?;
    Ok(())
}
