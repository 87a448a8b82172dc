//! Several `wbs-server` instances on one PostgreSQL database, as behind a
//! load balancer: a challenge issued by one is accepted by the other and
//! spent once across both; a report filed on one is found on the other; a
//! desk session opened on one works on the other; concurrent submitters on
//! both while a third client pulls: every acknowledged report is pulled
//! exactly once; and a killed instance loses nothing it acknowledged.

mod hostile;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostile::{
    addr_of, exchange, get, post_json, post_multipart, report_object, request, status_body,
    submission_meta, Fixture, Multipart, Reply,
};
use wbs_e2e::ServerOptions;
use wbs_protocol::ReceiptCode;
use wbs_store::testing::TestDb;

/// Options for instances on `db` sharing the challenge key in `key_file`.
fn on(db: &TestDb, key_file: &std::path::Path, difficulty: u8) -> ServerOptions {
    ServerOptions {
        pow_difficulty: difficulty,
        database_url: Some(db.url().to_owned()),
        // Continues the [pow] table; then the limits of a busy platform.
        extra_config: format!(
            "key_file = {:?}\n[limits]\nsubmissions_per_minute = 1000000\n\
             status_per_second = 100000\nmax_concurrent_uploads = 64\n",
            key_file.display().to_string()
        ),
        ..Default::default()
    }
}

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("pow.key");
    std::fs::write(&path, format!("{}\n", "5e".repeat(32))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A submission of a fresh report (no attachment) to `addr`, with `pow`.
fn submit(
    addr: &str,
    recipients: &[age::x25519::Recipient],
    code: &ReceiptCode,
    pow: Option<serde_json::Value>,
) -> Reply {
    let mut meta: serde_json::Value = serde_json::from_slice(&submission_meta(code)).unwrap();
    if let Some(p) = pow {
        meta["pow"] = p;
    }
    let report = report_object(recipients, code, "multi", vec![]);
    exchange(
        addr,
        post_multipart(
            "/api/v1/submissions",
            &Multipart::new()
                .part("meta", meta.to_string().as_bytes())
                .part("report", &report)
                .finish(),
        ),
    )
}

fn solved_from(addr: &str) -> serde_json::Value {
    let c = exchange(addr, get("/api/v1/pow")).json();
    let challenge = c["challenge"].as_str().unwrap().to_string();
    let nonce = wbs_protocol::pow::solve(&challenge, c["difficulty"].as_u64().unwrap() as u8);
    serde_json::json!({"challenge": challenge, "nonce": nonce})
}

#[test]
fn a_challenge_from_one_instance_is_accepted_by_the_other_and_spent_once_across_both() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let f = Fixture::start(on(&db, &key_file(keys.path()), 8));
    let b = f.server.twin();
    let b_addr = addr_of(&b.url);

    // The seed, filed on the first, is found on the second.
    let status = exchange(&b_addr, post_json("/api/v1/status", &status_body(&f.seed)));
    assert_eq!(status.status, 200, "{}", status.summary());

    let pow = solved_from(&f.addr);
    let code = ReceiptCode::generate();
    let filed = submit(&b_addr, &f.recipients, &code, Some(pow.clone()));
    assert_eq!(filed.status, 201, "{}", filed.summary());
    for addr in [&f.addr, &b_addr] {
        let again = submit(
            addr,
            &f.recipients,
            &ReceiptCode::generate(),
            Some(pow.clone()),
        );
        assert_eq!(again.status, 400, "{}", again.summary());
        assert!(
            again.summary().contains("pow_replayed"),
            "{}",
            again.summary()
        );
    }
    let found = exchange(&f.addr, post_json("/api/v1/status", &status_body(&code)));
    assert_eq!(found.status, 200, "{}", found.summary());
}

fn cookie_of(reply: &Reply) -> String {
    let set = reply
        .headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    set.split(';').next().unwrap().to_string()
}

#[test]
fn a_desk_session_opened_on_one_instance_works_on_the_other_and_ends_on_both() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let f = Fixture::start(on(&db, &key_file(keys.path()), 0));
    let b = f.server.twin();
    let b_addr = addr_of(&b.desk_url);

    let login = f.send_desk(post_json(
        "/api/v1/desk/session",
        serde_json::json!({"token": f.token, "totp": ""})
            .to_string()
            .as_bytes(),
    ));
    assert_eq!(login.status, 200, "{}", login.summary());
    let csrf = login.json()["csrf"].as_str().unwrap().to_string();
    let cookie = cookie_of(&login);

    let who = exchange(
        &b_addr,
        request("GET", "/api/v1/desk/session", &[("Cookie", &cookie)], b""),
    );
    assert_eq!(who.status, 200, "{}", who.summary());
    let cases = exchange(
        &b_addr,
        request(
            "GET",
            "/api/v1/desk/cases",
            &[("Cookie", &cookie), ("X-Wbs-Csrf", &csrf)],
            b"",
        ),
    );
    assert_eq!(cases.status, 200, "{}", cases.summary());

    let out = exchange(
        &b_addr,
        request(
            "POST",
            "/api/v1/desk/logout",
            &[("Cookie", &cookie), ("X-Wbs-Csrf", &csrf)],
            b"",
        ),
    );
    assert_eq!(out.status, 204, "{}", out.summary());
    let after = f.send_desk(request(
        "GET",
        "/api/v1/desk/session",
        &[("Cookie", &cookie)],
        b"",
    ));
    assert_eq!(after.status, 401, "{}", after.summary());
}

/// Pulls everything since `cursor` from `addr`: the new cursor and the
/// (case, object path) of each object in the bundle.
fn pull(addr: &str, token: &str, cursor: &str) -> (String, Vec<(String, String)>) {
    struct Objects(Vec<(String, String)>);
    impl wbs_protocol::bundle::ExportVisitor for Objects {
        fn object(
            &mut self,
            case: &wbs_protocol::bundle::CaseManifest,
            e: &wbs_protocol::bundle::ObjectEntry,
            data: &mut dyn std::io::Read,
        ) -> Result<(), wbs_protocol::bundle::BundleError> {
            std::io::copy(data, &mut std::io::sink()).unwrap();
            self.0.push((case.id.clone(), e.path.clone()));
            Ok(())
        }
    }
    let reply = exchange(
        addr,
        request(
            "GET",
            &format!("/api/v1/desk/export?since={cursor}"),
            &[("Authorization", &format!("Bearer {token}"))],
            b"",
        ),
    );
    assert_eq!(reply.status, 200, "{}", reply.summary());
    let next = reply.header("x-wbs-cursor").expect("a cursor").to_string();
    let mut objects = Objects(Vec::new());
    wbs_protocol::bundle::read_export(
        &reply.body[..],
        &wbs_protocol::bundle::Limits::EXPORT,
        &mut objects,
    )
    .unwrap();
    (next, objects.0)
}

/// What a load run saw.
struct Load {
    /// Receipt codes of every 201, by instance.
    acked: Vec<Vec<ReceiptCode>>,
    /// Every object pulled, in pull order.
    pulled: Vec<(String, String)>,
    /// Submissions without an answer (the instance died; at most one per
    /// submitter, which then stops).
    unanswered: usize,
}

/// 16 submitters on each of `addrs` for `secs` while another client pulls
/// from `pull_addr` in a loop; `midway` runs once, halfway.
fn load(
    f: &Fixture,
    addrs: &[String],
    pull_addr: &str,
    secs: u64,
    midway: impl FnOnce() + Send,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    // Set once every submitter has its last answer.
    let submitted = Arc::new(AtomicBool::new(false));
    let unanswered = Arc::new(Mutex::new(0usize));
    let recipients = Arc::new(f.recipients.clone());
    let mut acked = Vec::new();
    let mut pulled = Vec::new();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for addr in addrs {
            let mut per = Vec::new();
            for _ in 0..16 {
                let (stop, addr, recipients, unanswered) = (
                    stop.clone(),
                    addr.clone(),
                    recipients.clone(),
                    unanswered.clone(),
                );
                per.push(scope.spawn(move || {
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let code = ReceiptCode::generate();
                        let reply = submit(&addr, &recipients, &code, None);
                        match reply.status {
                            201 => mine.push(code),
                            // The instance died: this one may have been in
                            // flight; send no more there.
                            0 => {
                                *unanswered.lock().unwrap() += 1;
                                break;
                            }
                            other => panic!("submission answered {other}: {}", reply.summary()),
                        }
                    }
                    mine
                }));
            }
            handles.push(per);
        }
        let puller = {
            let stop = submitted.clone();
            let token = f.token.clone();
            let addr = pull_addr.to_string();
            scope.spawn(move || {
                let mut cursor = "0".to_string();
                let mut seen = Vec::new();
                loop {
                    let last = stop.load(Ordering::SeqCst);
                    let (next, objects) = pull(&addr, &token, &cursor);
                    seen.extend(objects);
                    cursor = next;
                    if last {
                        return seen;
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_secs(secs / 2));
        midway();
        std::thread::sleep(Duration::from_secs(secs - secs / 2));
        stop.store(true, Ordering::SeqCst);
        for per in handles {
            acked.push(
                per.into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect::<Vec<_>>(),
            );
        }
        // The puller's last round starts after every answer was received.
        submitted.store(true, Ordering::SeqCst);
        pulled = puller.join().unwrap();
    });
    let unanswered = *unanswered.lock().unwrap();
    Load {
        acked,
        pulled,
        unanswered,
    }
}

/// Every object pulled exactly once; the report objects pulled are the
/// cases filed (the seed included).
fn pulled_once(load: &Load) -> HashMap<String, usize> {
    let mut times: HashMap<(String, String), usize> = HashMap::new();
    for o in &load.pulled {
        *times.entry(o.clone()).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pulled more than once: {twice:?}");
    let mut reports: HashMap<String, usize> = HashMap::new();
    for (case, path) in times.keys() {
        if path == "report.age" {
            *reports.entry(case.clone()).or_default() += 1;
        }
    }
    reports
}

#[test]
fn concurrent_submitters_on_two_instances_each_acknowledged_report_is_pulled_exactly_once() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let f = Fixture::start(on(&db, &key_file(keys.path()), 0));
    let b = f.server.twin();
    let addrs = vec![f.addr.clone(), addr_of(&b.url)];
    let pull_addr = addr_of(&f.server.desk_url);
    let run = load(&f, &addrs, &pull_addr, 30, || {});
    assert_eq!(run.unanswered, 0, "requests went unanswered");
    let acked: usize = run.acked.iter().map(Vec::len).sum();
    assert!(
        run.acked.iter().all(|a| a.len() > 50),
        "too little load to mean anything: {:?}",
        run.acked.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let reports = pulled_once(&run);
    // The seed, and one case per 201: none missing, none extra.
    assert_eq!(reports.len(), acked + 1, "cases pulled vs acknowledged");
    eprintln!("{acked} reports acknowledged by two instances in 30 s, each pulled exactly once");
}

#[test]
fn an_instance_killed_mid_load_loses_nothing_it_acknowledged() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let f = Fixture::start(on(&db, &key_file(keys.path()), 0));
    let b = Mutex::new(f.server.twin());
    let addrs = vec![f.addr.clone(), addr_of(&b.lock().unwrap().url)];
    let pull_addr = addr_of(&f.server.desk_url);
    let pid = b.lock().unwrap().pid().unwrap();
    let run = load(&f, &addrs, &pull_addr, 20, || {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let killed_acked = &run.acked[1];
    assert!(
        killed_acked.len() > 20,
        "the killed instance had too little load"
    );
    assert!(run.unanswered > 0, "the kill interrupted nothing");
    // Every report the killed instance acknowledged is there, found by
    // status through the survivor.
    let started = Instant::now();
    for code in killed_acked {
        let found = exchange(&f.addr, post_json("/api/v1/status", &status_body(code)));
        assert_eq!(found.status, 200, "an acknowledged report is lost");
    }
    let reports = pulled_once(&run);
    let acked: usize = run.acked.iter().map(Vec::len).sum();
    // Requests in flight at the kill may have committed without an answer.
    assert!(
        reports.len() > acked && reports.len() <= acked + 1 + run.unanswered,
        "{} cases pulled, {acked} acknowledged, {} unanswered",
        reports.len(),
        run.unanswered
    );
    eprintln!(
        "{} acknowledged by the killed instance, all found ({:?}); {} unanswered",
        killed_acked.len(),
        started.elapsed(),
        run.unanswered
    );
}
