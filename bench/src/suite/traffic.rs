//! Small durable submissions (a 2 KiB report, no attachment) and status
//! look-ups, at each client count, with the minimal client and with
//! reqwest. Every 201 counted is a case the server has fsynced.

use rand::RngCore;
use wbs_protocol::api::StatusRequest;

use super::{say, Bins, Sizes};
use crate::error::{Error, Result};
use crate::load::{self, ClientKind, LoadSpec, LoadStats, Request};
use crate::machine::load_average;
use crate::payload::{
    boundary, meta_json, multipart_type, small_submission, submission_body, synthetic_lookup,
    InspectorKey, Submission, REPORT_BYTES,
};
use crate::results::Traffic;
use crate::server::ServerProcess;

/// Distinct sealed reports the submissions cycle through.
const POOL: usize = 64;
/// Most cases the status runs pick from.
const MAX_STATUS_CASES: usize = 100_000;

fn describe(what: &str, s: &LoadStats) {
    say(format!(
        "{what}: {:>2} clients ({}): {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms  ({} ok, {} errors)",
        s.clients,
        s.client.label(),
        s.per_second,
        s.p50_ms,
        s.p99_ms,
        s.ok,
        s.errors
    ));
}

fn check(what: &str, s: &LoadStats) -> Result<()> {
    if s.ok == 0 || s.errors > 0 {
        return Err(Error(format!(
            "{what} at {} clients: {} ok, {} errors; first error: {}",
            s.clients,
            s.ok,
            s.errors,
            s.first_error.as_deref().unwrap_or("none")
        )));
    }
    Ok(())
}

/// Runs the scenario in `work/traffic`.
pub fn run(
    bins: &Bins,
    work: &std::path::Path,
    key: &InspectorKey,
    sizes: &Sizes,
) -> Result<Traffic> {
    let load_start = load_average();
    let dir = work.join("traffic");
    let server = ServerProcess::start(&bins.server, &dir, &key.keys_dir)?;
    let addr = server.addr;

    say("sealing the reports (before any timing)");
    let pool: Vec<Submission> = (0..POOL)
        .map(|_| small_submission(&key.recipient, &key.new_code(), Vec::new()))
        .collect::<Result<_>>()?;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let boundary = boundary();
    let content_type = multipart_type(&boundary);

    let mut runs = Vec::new();
    for kind in [ClientKind::Raw, ClientKind::Reqwest] {
        let counts = match kind {
            ClientKind::Raw => &sizes.clients,
            ClientKind::Reqwest => &sizes.reqwest_clients,
        };
        for &clients in counts {
            runs.push((kind, clients));
        }
    }

    let mut submissions = Vec::new();
    let mut stored: Vec<String> = Vec::new();
    for (n, &(kind, clients)) in runs.iter().enumerate() {
        // Each run has its own range of request numbers, so lookups never repeat.
        let offset = n as u64 * sizes.max_requests;
        let make = |i: u64| {
            let s = &pool[(i % POOL as u64) as usize];
            let lookup = synthetic_lookup(&salt, offset + i);
            Request {
                path: "/api/v1/submissions",
                content_type: content_type.clone(),
                body: submission_body(
                    &boundary,
                    &meta_json(&lookup, &s.reply_recipient),
                    &s.report,
                ),
            }
        };
        let spec = LoadSpec {
            clients,
            warmup: sizes.warmup,
            duration: sizes.duration,
            max_requests: sizes.max_requests,
        };
        let stats = load::run(addr, kind, spec, 201, &make)?;
        describe("submissions", &stats);
        check("submissions", &stats)?;
        for &i in stats
            .ok_indexes
            .iter()
            .take(MAX_STATUS_CASES - stored.len().min(MAX_STATUS_CASES))
        {
            stored.push(synthetic_lookup(&salt, offset + i));
        }
        submissions.push(stats);
    }

    let bodies: Vec<Vec<u8>> = stored
        .iter()
        .map(|lookup| {
            serde_json::to_vec(&StatusRequest {
                lookup: lookup.clone(),
            })
            .expect("serializes")
        })
        .collect();
    let mut status = Vec::new();
    for &(kind, clients) in &runs {
        let make = |i: u64| Request {
            path: "/api/v1/status",
            content_type: "application/json".into(),
            body: bodies[(i % bodies.len() as u64) as usize].clone(),
        };
        let spec = LoadSpec {
            clients,
            warmup: sizes.warmup,
            duration: sizes.duration,
            max_requests: sizes.max_requests * 10,
        };
        let stats = load::run(addr, kind, spec, 200, &make)?;
        describe("status", &stats);
        check("status look-ups", &stats)?;
        status.push(stats);
    }

    let server_memory = server.memory()?;
    server.stop()?;
    Ok(Traffic {
        report_bytes: REPORT_BYTES,
        sealed_bytes: pool[0].report.len(),
        submissions,
        status,
        cases_for_status: bodies.len(),
        server_memory,
        load_avg: (load_start, load_average()),
    })
}
