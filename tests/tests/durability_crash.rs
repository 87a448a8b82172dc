//! Nothing acknowledged is ever lost, even when the server is killed
//! (SIGKILL: no destructors, no final flush) in the middle of many
//! concurrent uploads.
//!
//! Each round starts the real server, lets several reporters upload at once
//! (reports with zero to three attachments, some of several hundred KiB, so
//! a kill lands mid-upload), kills it at a moment drawn from a fixed seed,
//! and restarts it. Then:
//!
//! - every submission answered 201 is found by its lookup key (200);
//! - every case the desk lists is complete: exported (hashes checked by the
//!   protocol's reader), its report and every attachment decrypt with the
//!   inspectorate key to exactly what was sent, and it belongs to a
//!   submission that was really made (no half-written case, no stray);
//! - `tmp/` is empty and every blob file belongs to an object: what the
//!   kill left half-written was swept at start.
//!
//! At the end one full export checks everything again.

mod durability;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use durability::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wbs_e2e::{ServerOptions, TestServer};

/// One seed per round: the kill moments and the uploads are the same on
/// every run.
const SEEDS: [u64; 10] = [11, 23, 37, 41, 53, 67, 79, 97, 101, 113];
/// Reporters uploading at once.
const WORKERS: u64 = 6;

struct Attempt {
    sub: Arc<Submission>,
    acked: bool,
}

#[test]
fn killed_mid_upload_the_server_loses_nothing_it_acknowledged() {
    let started = Instant::now();
    let mut server = TestServer::start(ServerOptions {
        extra_config: GENEROUS_LIMITS.into(),
        ..Default::default()
    });
    let recipients = Arc::new(recipients(&server));
    let identity = server.keys[0].identity.clone();
    let client = client();

    // By reply recipient (unique per receipt code): every submission tried.
    let mut attempts: HashMap<String, Attempt> = HashMap::new();
    let mut cursor = 0u64;
    let (mut kills, mut acked_total, mut unacked_total) = (0, 0, 0);
    let mut committed_unacked = 0;

    for (round, seed) in SEEDS.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(*seed);
        let stop = Arc::new(AtomicBool::new(false));
        let results: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let url = server.url.clone();
                let stop = stop.clone();
                let results = results.clone();
                let recipients = recipients.clone();
                let mut rng = StdRng::seed_from_u64(seed * 1000 + w);
                std::thread::spawn(move || {
                    let client = durability::client();
                    let mut n = 0;
                    // Bounded: a round never makes more than 200 uploads
                    // per reporter, whatever the timing.
                    while !stop.load(Ordering::SeqCst) && n < 200 {
                        let title = format!("round {round} reporter {w} report {n}");
                        let sizes = random_sizes(&mut rng);
                        let sub = Arc::new(Submission::new(title, &sizes, &recipients, &mut rng));
                        let acked = match submit(&client, &url, &sub) {
                            Ok((201, _)) => true,
                            Ok((status, body)) => {
                                panic!("a submission got {status} before any crash: {body}")
                            }
                            // The kill: reset, refused, or cut mid-answer.
                            Err(_) => false,
                        };
                        results.lock().unwrap().push(Attempt { sub, acked });
                        n += 1;
                    }
                })
            })
            .collect();

        // Kill at a seeded moment while the uploads run.
        let kill_after = Duration::from_millis(rng.gen_range(250..1500));
        std::thread::sleep(kill_after);
        server.kill();
        kills += 1;
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().expect("a reporter thread failed");
        }

        // What the kill left behind, before the restart sweeps it.
        let leftovers_before = tmp_files(&server.data);
        server.spawn();

        let round_results = std::mem::take(&mut *results.lock().unwrap());
        let acked_now = round_results.iter().filter(|a| a.acked).count();
        for a in round_results {
            if a.acked {
                acked_total += 1;
            } else {
                unacked_total += 1;
            }
            attempts.insert(a.sub.reply_recipient(), a);
        }

        // 1. Every acknowledged submission is there.
        for a in attempts.values().filter(|a| a.acked) {
            assert_eq!(
                status_of(&client, &server.url, &a.sub.lookup()),
                200,
                "round {round}: acknowledged submission {:?} is lost",
                a.sub.title
            );
        }

        // 2. Leftovers were swept: tmp/ is empty and every blob file is
        //    an object of some case.
        assert_eq!(tmp_files(&server.data), 0, "round {round}: tmp/ not swept");
        let cases = desk_cases(&server);
        let objects: u64 = cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["objects"].as_u64().unwrap())
            .sum();
        assert_eq!(
            blob_files(&server.data) as u64,
            objects,
            "round {round}: blob files that no object references survived the restart"
        );

        // 3. Every new case is complete and decrypts to what was sent.
        let (new_cases, next) = export(&server, cursor);
        for case in &new_cases {
            let a = attempts
                .get(&case.manifest.reply_recipient)
                .unwrap_or_else(|| panic!("case {} matches no submission", case.manifest.id));
            check_case_matches(case, &a.sub, &identity);
            if !a.acked {
                // Stored, but the 201 never reached the reporter: allowed
                // (the reporter retries with a new code), never harmful.
                committed_unacked += 1;
            }
        }
        cursor = next;
        eprintln!(
            "round {round}: killed after {kill_after:?}; {acked_now} acknowledged this round, \
             {} new cases, {leftovers_before} leftovers in tmp/ at the kill",
            new_cases.len()
        );
    }

    // One full export at the end: every case, hashes checked, once more.
    let (all, _) = export(&server, 0);
    let present: std::collections::HashSet<&str> = all
        .iter()
        .map(|c| c.manifest.reply_recipient.as_str())
        .collect();
    let mut recovered = 0;
    for a in attempts.values().filter(|a| a.acked) {
        assert!(
            present.contains(a.sub.reply_recipient().as_str()),
            "{} missing from the final export",
            a.sub.title
        );
        recovered += 1;
    }
    assert_eq!(recovered, acked_total);
    for case in &all {
        let a = &attempts[&case.manifest.reply_recipient];
        assert_eq!(case.objects.len(), a.sub.objects());
    }
    let swept: usize = server
        .log_text()
        .lines()
        .filter_map(|l| l.split("removed ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<usize>().ok())
        .sum();
    assert!(acked_total > 0, "no submission was ever acknowledged");
    eprintln!(
        "crash test: {kills} kills; {acked_total} submissions acknowledged, {recovered} \
         recovered; {unacked_total} not acknowledged (cut off or refused by a kill), of which \
         {committed_unacked} were stored anyway; {swept} leftover files swept at restarts; \
         {} cases in the end; {:?}",
        all.len(),
        started.elapsed()
    );
}
