//! A flood that does no work must not keep out a reporter who does.
//!
//! An outside review found that the server-wide submission budget was spent
//! before a request's `meta` and proof of work were checked: three threads
//! posting 60-byte junk kept every genuine report out with 429, and a loop
//! on `GET /api/v1/pow` drained the challenges without any work. Here the
//! real server runs at its default limits while several threads flood it
//! with junk multiparts, missing, unsolved and replayed proofs of work on
//! submissions and follow-ups, challenge requests and wrong status
//! look-ups; meanwhile a genuine client files reports, follow-ups and
//! look-ups with proof of work solved at the configured difficulty. Every
//! genuine request must succeed, and every flood request must get its own
//! error, never a 429 (it charged no shared budget).

mod hostile;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostile::{
    attachment_object, exchange, followup_meta, followup_object, get, post_json, post_multipart,
    report_object, status_body, submission_meta, Fixture, Multipart, Reply,
};
use wbs_e2e::ServerOptions;
use wbs_protocol::ReceiptCode;

/// Enough that a solution costs real work, little enough for a debug build.
const DIFFICULTY: u8 = 12;
/// Flooding threads.
const FLOODERS: usize = 6;
/// Bounds on the flood, per thread, whatever happens to the genuine client.
const MAX_FLOOD_REQUESTS: usize = 4000;
const MAX_FLOOD_TIME: Duration = Duration::from_secs(40);
/// Flood requests sent before the genuine client starts: enough to empty
/// every budget a request that did no work used to be charged to (a burst
/// of 120 submissions, 120 follow-ups and 100 challenges by default; four
/// kinds in ten go to submissions, three in ten fetch a challenge).
const HEAD_START: usize = 600;
/// Genuine rounds: one report, one follow-up and one look-up each.
const ROUNDS: usize = 6;

/// A `meta` with `pow` set (or left out).
fn meta_with(mut meta: serde_json::Value, pow: Option<serde_json::Value>) -> Vec<u8> {
    if let Some(p) = pow {
        meta["pow"] = p;
    }
    meta.to_string().into_bytes()
}

fn submission(meta: Vec<u8>, report: &[u8]) -> Vec<u8> {
    post_multipart(
        "/api/v1/submissions",
        &Multipart::new()
            .part("meta", &meta)
            .part("report", report)
            .finish(),
    )
}

fn followup(meta: Vec<u8>, message: &[u8]) -> Vec<u8> {
    post_multipart(
        "/api/v1/followups",
        &Multipart::new()
            .part("meta", &meta)
            .part("message", message)
            .finish(),
    )
}

/// A fresh challenge: its string and difficulty.
fn challenge(addr: &str) -> Result<(String, u8), String> {
    let r = exchange(addr, get("/api/v1/pow"));
    let c: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    match (r.status, c["challenge"].as_str(), c["difficulty"].as_u64()) {
        (200, Some(challenge), Some(d)) => Ok((challenge.to_string(), d as u8)),
        _ => Err(format!("GET /api/v1/pow: {}", r.summary())),
    }
}

/// A fresh challenge, solved, as a client does it.
fn solved(addr: &str) -> Result<serde_json::Value, String> {
    let (challenge, difficulty) = challenge(addr)?;
    let nonce = wbs_protocol::pow::solve(&challenge, difficulty);
    Ok(serde_json::json!({"challenge": challenge, "nonce": nonce}))
}

/// A fresh challenge with a nonce that does not solve it.
fn unsolved(addr: &str) -> Result<serde_json::Value, String> {
    let (challenge, difficulty) = challenge(addr)?;
    let nonce = (0u64..)
        .find(|&n| !wbs_protocol::pow::check(&challenge, n, difficulty))
        .unwrap();
    Ok(serde_json::json!({"challenge": challenge, "nonce": nonce}))
}

/// What the flood sends, in turn.
#[derive(Clone, Copy, Debug)]
enum Junk {
    /// 60-odd bytes that are not even multipart, declared as multipart.
    Bytes,
    /// A well-formed multipart without a `meta` part.
    NoMeta,
    /// A good `meta` without `pow`, submission and follow-up.
    NoPow,
    NoPowFollowup,
    /// A real challenge, not solved.
    Unsolved,
    UnsolvedFollowup,
    /// A solution the flooder already spent once.
    Replayed,
    ReplayedFollowup,
    /// Challenges, as fast as they come.
    Challenge,
    /// Status look-ups for codes that do not exist.
    WrongLookup,
}

const KINDS: [Junk; 10] = [
    Junk::Bytes,
    Junk::NoMeta,
    Junk::NoPow,
    Junk::NoPowFollowup,
    Junk::Unsolved,
    Junk::UnsolvedFollowup,
    Junk::Replayed,
    Junk::ReplayedFollowup,
    Junk::Challenge,
    Junk::WrongLookup,
];

struct Flood {
    addr: String,
    seed: ReceiptCode,
    spent: serde_json::Value,
    report: Vec<u8>,
    message: Vec<u8>,
}

impl Flood {
    /// Sends one request of `kind` and checks it got its own answer.
    fn send(&self, kind: Junk) -> Result<(), String> {
        let fresh = || serde_json::from_slice(&submission_meta(&ReceiptCode::generate())).unwrap();
        let seed = || serde_json::from_slice(&followup_meta(&self.seed)).unwrap();
        let (reply, want): (Reply, (u16, Option<&str>)) = match kind {
            Junk::Bytes => (
                exchange(
                    &self.addr,
                    post_multipart("/api/v1/submissions", &[b'j'; 60]),
                ),
                (400, Some("malformed_multipart")),
            ),
            Junk::NoMeta => (
                exchange(
                    &self.addr,
                    post_multipart(
                        "/api/v1/followups",
                        &Multipart::new().part("junk", b"x").finish(),
                    ),
                ),
                (400, Some("missing_part")),
            ),
            Junk::NoPow => (
                exchange(
                    &self.addr,
                    submission(meta_with(fresh(), None), &self.report),
                ),
                (400, Some("pow_required")),
            ),
            Junk::NoPowFollowup => (
                exchange(&self.addr, followup(meta_with(seed(), None), &self.message)),
                (400, Some("pow_required")),
            ),
            Junk::Unsolved => (
                exchange(
                    &self.addr,
                    submission(
                        meta_with(fresh(), Some(unsolved(&self.addr)?)),
                        &self.report,
                    ),
                ),
                (400, Some("pow_invalid")),
            ),
            Junk::UnsolvedFollowup => (
                exchange(
                    &self.addr,
                    followup(
                        meta_with(seed(), Some(unsolved(&self.addr)?)),
                        &self.message,
                    ),
                ),
                (400, Some("pow_invalid")),
            ),
            Junk::Replayed => (
                exchange(
                    &self.addr,
                    submission(meta_with(fresh(), Some(self.spent.clone())), &self.report),
                ),
                (400, Some("pow_replayed")),
            ),
            Junk::ReplayedFollowup => (
                exchange(
                    &self.addr,
                    followup(meta_with(seed(), Some(self.spent.clone())), &self.message),
                ),
                (400, Some("pow_replayed")),
            ),
            Junk::Challenge => (exchange(&self.addr, get("/api/v1/pow")), (200, None)),
            Junk::WrongLookup => (
                exchange(
                    &self.addr,
                    post_json("/api/v1/status", &status_body(&ReceiptCode::generate())),
                ),
                (404, Some("not_found")),
            ),
        };
        let (status, code) = want;
        if reply.status != status || code.is_some_and(|c| reply.error_code().as_deref() != Some(c))
        {
            return Err(format!(
                "{kind:?}: wanted {status} {code:?}, got {}",
                reply.summary()
            ));
        }
        Ok(())
    }
}

#[test]
fn a_flood_without_work_never_refuses_a_reporter_who_did_the_work() {
    // Default limits: the budgets a flood used to empty.
    let f = Fixture::start(ServerOptions {
        keys: 1,
        pow_difficulty: DIFFICULTY,
        ..Default::default()
    });

    // The flooder spends one solution of its own, for replaying.
    let spent = f.solved_pow().unwrap();
    let code = ReceiptCode::generate();
    let report = report_object(&f.recipients, &code, "flooder", vec![]);
    let r = f.send(submission(
        meta_with(
            serde_json::from_slice(&submission_meta(&code)).unwrap(),
            Some(spent.clone()),
        ),
        &report,
    ));
    assert_eq!(r.status, 201, "{}", r.summary());

    let flood = Arc::new(Flood {
        addr: f.addr.clone(),
        seed: f.seed.clone(),
        spent,
        report,
        message: followup_object(&f.recipients, "flood"),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let counts = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|t| {
            let (flood, stop, problems, counts, sent) = (
                flood.clone(),
                stop.clone(),
                problems.clone(),
                counts.clone(),
                sent.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..MAX_FLOOD_REQUESTS {
                    if stop.load(Ordering::Relaxed) || started.elapsed() > MAX_FLOOD_TIME {
                        break;
                    }
                    let kind = KINDS[(i + t) % KINDS.len()];
                    if let Err(e) = flood.send(kind) {
                        problems.lock().unwrap().push(e);
                    }
                    *counts
                        .lock()
                        .unwrap()
                        .entry(format!("{kind:?}"))
                        .or_default() += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    while sent.load(Ordering::Relaxed) < HEAD_START && started.elapsed() < MAX_FLOOD_TIME / 2 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let head_start = started.elapsed();
    // The genuine client: each request its own fresh challenge, solved at
    // the difficulty the server asks; a refused challenge is a refusal.
    let mut genuine = Vec::new();
    let mut refused = 0;
    let mut note = |what: String, ok: bool| {
        if !ok {
            refused += 1;
        }
        genuine.push(format!("{} {what}", if ok { "  ok" } else { "FAIL" }));
    };
    for round in 0..ROUNDS {
        let code = ReceiptCode::generate();
        let submitted = match solved(&f.addr) {
            Err(e) => {
                note(format!("submission {round}: {e}"), false);
                false
            }
            Ok(pow) => {
                let (att, att_meta) =
                    attachment_object(&f.recipients, "a.txt", b"genuine attachment");
                let report = report_object(
                    &f.recipients,
                    &code,
                    &format!("genuine {round}"),
                    vec![att_meta],
                );
                let meta = meta_with(
                    serde_json::from_slice(&submission_meta(&code)).unwrap(),
                    Some(pow),
                );
                let body = Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .part("attachment", &att)
                    .finish();
                let r = f.send(post_multipart("/api/v1/submissions", &body));
                note(
                    format!("submission {round}: {}", r.summary()),
                    r.status == 201,
                );
                r.status == 201
            }
        };
        let mine = if submitted { &code } else { &f.seed };

        match solved(&f.addr) {
            Err(e) => note(format!("follow-up {round}: {e}"), false),
            Ok(pow) => {
                let meta = meta_with(
                    serde_json::from_slice(&followup_meta(mine)).unwrap(),
                    Some(pow),
                );
                let message = followup_object(&f.recipients, &format!("genuine {round}"));
                let r = f.send(followup(meta, &message));
                note(
                    format!("follow-up {round}: {}", r.summary()),
                    r.status == 201,
                );
            }
        }

        let r = f.send(post_json("/api/v1/status", &status_body(mine)));
        note(format!("status {round}: {}", r.status), r.status == 200);
    }
    let genuine_took = started.elapsed() - head_start;
    stop.store(true, Ordering::Relaxed);
    for t in flooders {
        t.join().unwrap();
    }
    let counts = counts.lock().unwrap().clone();
    let total: usize = counts.values().sum();
    eprintln!(
        "flood: {total} requests in {:?} ({counts:?}); genuine rounds took {genuine_took:?}",
        started.elapsed()
    );

    assert_eq!(
        refused,
        0,
        "genuine requests were refused during the flood:\n{}",
        genuine.join("\n")
    );
    let problems = problems.lock().unwrap();
    assert!(
        problems.is_empty(),
        "{} of {total} flood requests did not get their own error, e.g.:\n{}",
        problems.len(),
        problems[..problems.len().min(10)].join("\n")
    );
    // The flood was a flood: enough to empty every old budget.
    for (kind, least) in [
        ("Bytes", 20),
        ("NoPow", 20),
        ("Challenge", 20),
        ("WrongLookup", 20),
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= least,
            "only {counts:?}"
        );
    }
    assert!(total >= HEAD_START, "the flood sent only {total} requests");
    f.assert_serving().unwrap();
}
