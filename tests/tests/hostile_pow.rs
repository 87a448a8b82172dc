//! Proof-of-work and flood limits against the real server process:
//! missing, forged, tampered, replayed and expired solutions, and the
//! server-wide rate limits that never look at who is asking.

mod hostile;

use hostile::{
    followup_meta, followup_object, get, post_json, post_multipart, report_object, run_cases,
    status_body, submission_meta, Case, Fixture, Multipart, Reply, Want,
};
use wbs_e2e::{ServerOptions, TestServer};
use wbs_protocol::ReceiptCode;

const DIFFICULTY: u8 = 8;

fn options(extra: &str) -> ServerOptions {
    ServerOptions {
        keys: 2,
        pow_difficulty: DIFFICULTY,
        extra_config: format!("{extra}[limits]\nstatus_per_second = 100000\n"),
        ..Default::default()
    }
}

/// A submission for a fresh code with `pow` as the meta part's `pow`
/// (`None`: no `pow` field at all).
fn submit_with(f: &Fixture, pow: Option<serde_json::Value>) -> Reply {
    let code = ReceiptCode::generate();
    let mut meta: serde_json::Value = serde_json::from_slice(&submission_meta(&code)).unwrap();
    if let Some(p) = pow {
        meta["pow"] = p;
    }
    let report = report_object(&f.recipients, &code, "pow", vec![]);
    f.send(post_multipart(
        "/api/v1/submissions",
        &Multipart::new()
            .part("meta", meta.to_string().as_bytes())
            .part("report", &report)
            .finish(),
    ))
}

/// A follow-up to the seed with `pow`.
fn follow_with(f: &Fixture, pow: Option<serde_json::Value>) -> Reply {
    let mut meta: serde_json::Value = serde_json::from_slice(&followup_meta(&f.seed)).unwrap();
    if let Some(p) = pow {
        meta["pow"] = p;
    }
    f.send(post_multipart(
        "/api/v1/followups",
        &Multipart::new()
            .part("meta", meta.to_string().as_bytes())
            .part("message", &followup_object(&f.recipients, "pow"))
            .finish(),
    ))
}

/// A solved challenge with one change made to it.
fn solved_then(f: &Fixture, change: impl Fn(&mut String, &mut u64)) -> serde_json::Value {
    let p = f.solved_pow().unwrap();
    let mut challenge = p["challenge"].as_str().unwrap().to_string();
    let mut nonce = p["nonce"].as_u64().unwrap();
    change(&mut challenge, &mut nonce);
    serde_json::json!({"challenge": challenge, "nonce": nonce})
}

#[test]
fn forged_replayed_and_missing_proofs_of_work_are_refused() {
    let f = Fixture::start(options(""));
    let other = TestServer::start(options(""));
    let other_addr = hostile::addr_of(&other.url);

    // Spend one challenge on a real submission and a second on a real
    // follow-up; the cases below try to use them again.
    let spent = f.solved_pow().unwrap();
    assert_eq!(submit_with(&f, Some(spent.clone())).status, 201);
    let spent_on_followup = f.solved_pow().unwrap();
    assert_eq!(follow_with(&f, Some(spent_on_followup.clone())).status, 201);

    use Want::*;
    let invalid = Error(400, "pow_invalid");
    let shape = Error(422, "invalid_json");
    let cases = vec![
        Case::new("pow_missing", Error(400, "pow_required"), |f| {
            submit_with(f, None)
        }),
        Case::new("pow_missing_on_followup", Error(400, "pow_required"), |f| {
            follow_with(f, None)
        }),
        Case::new("pow_null", Error(400, "pow_required"), |f| {
            submit_with(f, Some(serde_json::Value::Null))
        }),
        Case::new("pow_from_another_server", invalid, move |f| {
            let c = hostile::exchange(&other_addr, get("/api/v1/pow")).json();
            let challenge = c["challenge"].as_str().unwrap().to_string();
            let nonce = wbs_protocol::pow::solve(&challenge, DIFFICULTY);
            submit_with(
                f,
                Some(serde_json::json!({"challenge": challenge, "nonce": nonce})),
            )
        }),
        Case::new("pow_challenge_tampered", invalid, |f| {
            // One character changed in the sealed part; the nonce is
            // re-solved for the changed string so only the seal is wrong.
            let p = solved_then(f, |c, n| {
                let mid = c.len() / 2;
                let swapped = if &c[mid..=mid] == "A" { "B" } else { "A" };
                c.replace_range(mid..=mid, swapped);
                *n = wbs_protocol::pow::solve(c, DIFFICULTY);
            });
            submit_with(f, Some(p))
        }),
        Case::new("pow_wrong_nonce", invalid, |f| {
            let p = solved_then(f, |c, n| {
                *n = (0..)
                    .find(|&k| !wbs_protocol::pow::check(c, k, DIFFICULTY))
                    .unwrap();
            });
            submit_with(f, Some(p))
        }),
        Case::new("pow_challenge_not_base64url", invalid, |f| {
            submit_with(
                f,
                Some(serde_json::json!({"challenge": "!!not a challenge!!", "nonce": 1})),
            )
        }),
        Case::new("pow_challenge_empty", invalid, |f| {
            submit_with(f, Some(serde_json::json!({"challenge": "", "nonce": 0})))
        }),
        Case::new("pow_challenge_10_kib", invalid, |f| {
            let c = "A".repeat(10 * 1024);
            submit_with(f, Some(serde_json::json!({"challenge": c, "nonce": 0})))
        }),
        Case::new("pow_challenge_truncated", invalid, |f| {
            let p = solved_then(f, |c, n| {
                c.truncate(c.len() - 4);
                *n = wbs_protocol::pow::solve(c, DIFFICULTY);
            });
            submit_with(f, Some(p))
        }),
        Case::new("pow_nonce_negative", shape, |f| {
            submit_with(f, Some(serde_json::json!({"challenge": "x", "nonce": -1})))
        }),
        Case::new("pow_nonce_as_string", shape, |f| {
            let p = f.solved_pow().unwrap();
            let nonce = p["nonce"].to_string();
            submit_with(
                f,
                Some(serde_json::json!({"challenge": p["challenge"], "nonce": nonce})),
            )
        }),
        Case::new("pow_nonce_over_u64", shape, |f| {
            let code = ReceiptCode::generate();
            let meta = format!(
                "{{\"lookup\":\"{}\",\"reply_recipient\":\"{}\",\"pow\":{{\"challenge\":\"x\",\"nonce\":18446744073709551616}}}}",
                code.lookup_key().to_base64url(),
                code.reply_recipient()
            );
            let report = report_object(&f.recipients, &code, "pow", vec![]);
            f.send(post_multipart(
                "/api/v1/submissions",
                &Multipart::new()
                    .part("meta", meta.as_bytes())
                    .part("report", &report)
                    .finish(),
            ))
        }),
        Case::new("pow_unknown_field", shape, |f| {
            let mut p = f.solved_pow().unwrap();
            p["difficulty"] = serde_json::json!(0);
            submit_with(f, Some(p))
        }),
        Case::new("pow_as_a_string", shape, |f| {
            submit_with(f, Some(serde_json::json!("solved, trust me")))
        }),
        Case::new("pow_replayed", Error(400, "pow_replayed"), move |f| {
            submit_with(f, Some(spent.clone()))
        }),
        Case::new(
            "pow_replayed_from_followup_on_submission",
            Error(400, "pow_replayed"),
            {
                let p = spent_on_followup.clone();
                move |f| submit_with(f, Some(p.clone()))
            },
        ),
        Case::new(
            "pow_replayed_on_followup",
            Error(400, "pow_replayed"),
            move |f| follow_with(f, Some(spent_on_followup.clone())),
        ),
        Case::new(
            "pow_valid_but_object_refused",
            Error(422, "invalid_object"),
            |f| {
                let code = ReceiptCode::generate();
                let mut meta: serde_json::Value =
                    serde_json::from_slice(&submission_meta(&code)).unwrap();
                meta["pow"] = f.solved_pow().unwrap();
                f.send(post_multipart(
                    "/api/v1/submissions",
                    &Multipart::new()
                        .part("meta", meta.to_string().as_bytes())
                        .part("report", b"not age")
                        .finish(),
                ))
            },
        ),
    ];
    let n = run_cases(&f, cases);
    eprintln!("{n} hostile proof-of-work cases passed");
}

/// `[pow] ttl_secs = 1`: a challenge solved and kept past its expiry is
/// refused as expired, and a fresh one works.
#[test]
fn an_expired_challenge_is_refused() {
    let f = Fixture::start(options("ttl_secs = 1\n"));
    let stale = f.solved_pow().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let before = f.snapshot();
    let r = submit_with(&f, Some(stale));
    hostile::check_reply(&r, Want::Error(400, "pow_expired")).unwrap();
    f.assert_serving().unwrap();
    f.assert_unchanged(&before).unwrap();
    let fresh = f.solved_pow().unwrap();
    assert_eq!(submit_with(&f, Some(fresh)).status, 201);
}

/// Floods meet server-wide limits that key on nothing about the client:
/// submissions that get past every check are charged to their budget (429
/// with `Retry-After` once it is empty), while requests refused for their
/// own reason are not; status look-ups are paced rather than refused; and
/// challenges are not limited at all (`pow_per_second` is still accepted
/// in the config, and ignored).
#[test]
fn floods_meet_the_global_rate_limits() {
    let server = TestServer::start(ServerOptions {
        keys: 1,
        extra_config: "[limits]\nsubmissions_per_minute = 3\nstatus_per_second = 2\n\
                       pow_per_second = 2\n"
            .into(),
        ..Default::default()
    });
    let addr = hostile::addr_of(&server.url);
    let recipients = hostile::recipients(&server);
    let submit = || {
        let code = ReceiptCode::generate();
        let report = report_object(&recipients, &code, "flood", vec![]);
        hostile::exchange(
            &addr,
            post_multipart(
                "/api/v1/submissions",
                &Multipart::new()
                    .part("meta", &submission_meta(&code))
                    .part("report", &report)
                    .finish(),
            ),
        )
    };
    // Submissions: a burst of 3, then 429 until the bucket refills (20 s).
    let statuses: Vec<u16> = (0..6).map(|_| submit().status).collect();
    assert_eq!(&statuses[..3], &[201, 201, 201], "{statuses:?}");
    let refused = submit();
    hostile::check_reply(&refused, Want::Error(429, "rate_limited")).unwrap();
    assert_eq!(refused.header("retry-after"), Some("60"));
    // With the budget empty, a request refused for its own reason gets
    // that reason, not 429: it was never charged.
    let junk = hostile::exchange(
        &addr,
        post_multipart(
            "/api/v1/submissions",
            &Multipart::new().part("junk", b"x").finish(),
        ),
    );
    hostile::check_reply(&junk, Want::Error(400, "missing_part")).unwrap();

    // Status look-ups: a burst of 4, then one every half second, each in
    // its turn; none refused.
    let started = std::time::Instant::now();
    let body = status_body(&ReceiptCode::generate());
    let statuses: Vec<u16> = (0..8)
        .map(|_| hostile::exchange(&addr, post_json("/api/v1/status", &body)).status)
        .collect();
    assert_eq!(statuses, vec![404; 8]);
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1800),
        "8 look-ups at 2 per second after a burst of 4 took only {took:?}"
    );

    // Challenges: never limited.
    for i in 0..40 {
        let r = hostile::exchange(&addr, get("/api/v1/pow"));
        assert_eq!(r.status, 200, "challenge {i}: {}", r.summary());
    }
    let h = hostile::exchange(&addr, get("/healthz"));
    assert_eq!(h.status, 200);
}
