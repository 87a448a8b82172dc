//! Graceful shutdown: SIGTERM stops new connections at once, lets the
//! requests in flight finish (an upload half sent when the signal came is
//! acknowledged and kept), flushes, and exits cleanly; restarts under load
//! lose nothing acknowledged.

mod durability;

use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use durability::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wbs_e2e::{ServerOptions, TestServer};

/// A body that hands out `first`, then waits for the gate before handing
/// out `rest`: an upload that is half sent until the test says so.
struct Gated {
    first: Vec<u8>,
    rest: Vec<u8>,
    pos: usize,
    gate: Option<mpsc::Receiver<()>>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.first.len() {
            let n = buf.len().min(self.first.len() - self.pos);
            buf[..n].copy_from_slice(&self.first[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        if let Some(gate) = self.gate.take() {
            gate.recv_timeout(Duration::from_secs(60))
                .map_err(|_| std::io::Error::other("the gate never opened"))?;
        }
        let at = self.pos - self.first.len();
        let n = buf.len().min(self.rest.len() - at);
        buf[..n].copy_from_slice(&self.rest[at..at + n]);
        self.pos += n;
        Ok(n)
    }
}

fn sigterm(server: &TestServer) {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(server.pid().expect("running").to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigterm_lets_an_upload_in_flight_finish_and_refuses_new_connections() {
    let mut server = TestServer::start(ServerOptions::default());
    let recipients = recipients(&server);
    let mut rng = StdRng::seed_from_u64(15);
    let sub = Arc::new(Submission::new(
        "sent across the shutdown".into(),
        &[300_000],
        &recipients,
        &mut rng,
    ));
    let (open_gate, gate) = mpsc::channel();
    let upload = {
        use reqwest::blocking::multipart::{Form, Part};
        let sub = sub.clone();
        let url = server.url.clone();
        std::thread::spawn(move || {
            let attachment = &sub.attachments_age[0];
            let (first, rest) = attachment.split_at(attachment.len() / 3);
            let body = Gated {
                first: first.to_vec(),
                rest: rest.to_vec(),
                pos: 0,
                gate: Some(gate),
            };
            let form = Form::new()
                .part(
                    "meta",
                    Part::text(sub.meta_json())
                        .mime_str("application/json")
                        .unwrap(),
                )
                .part(
                    "report",
                    Part::bytes(sub.report_age.clone())
                        .file_name("report.age")
                        .mime_str("application/octet-stream")
                        .unwrap(),
                )
                .part(
                    "attachment",
                    Part::reader(body)
                        .file_name("a.age")
                        .mime_str("application/octet-stream")
                        .unwrap(),
                );
            let resp = client()
                .post(format!("{url}/api/v1/submissions"))
                .multipart(form)
                .send()
                .map_err(|e| format!("{e:?}"))?;
            Ok::<_, String>((resp.status().as_u16(), resp.text().unwrap_or_default()))
        })
    };

    // The server is receiving the attachment: its blob is being written.
    wait_until(
        "the upload to reach the server",
        Duration::from_secs(30),
        || tmp_files(&server.data) > 0,
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    sigterm(&server);

    // New connections are refused at once, while the upload is still open.
    wait_until("the listener to close", Duration::from_secs(10), || {
        TcpStream::connect(&addr).is_err()
    });
    for _ in 0..3 {
        let err = TcpStream::connect(&addr).expect_err("a new connection was accepted");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    assert!(
        client()
            .get(format!("{}/healthz", server.url))
            .send()
            .is_err(),
        "a request on a new connection was served after SIGTERM"
    );
    assert!(!upload.is_finished(), "the upload ended before it was sent");
    assert!(tmp_files(&server.data) > 0, "the upload was dropped");

    // The rest of the upload: it completes and is acknowledged.
    open_gate.send(()).unwrap();
    let (status, body) = upload.join().unwrap().expect("the upload was cut off");
    assert_eq!(status, 201, "{body}");
    let exit = server.stop();
    assert!(exit.success(), "the server did not exit cleanly: {exit}");
    assert!(server.log_text().contains("stopped; storage flushed"));

    // After the restart it is there, complete.
    server.spawn();
    assert_eq!(status_of(&client(), &server.url, &sub.lookup()), 200);
    let (cases, _) = export(&server, 0);
    assert_eq!(cases.len(), 1);
    check_case_matches(&cases[0], &sub, &server.keys[0].identity);
}

#[test]
fn restarts_under_load_lose_nothing_acknowledged() {
    const ROUNDS: usize = 3;
    const WORKERS: u64 = 5;
    let mut server = TestServer::start(ServerOptions {
        extra_config: GENEROUS_LIMITS.into(),
        ..Default::default()
    });
    let recipients = Arc::new(recipients(&server));
    let client = client();
    let mut acked: Vec<Arc<Submission>> = Vec::new();
    let (mut finished_after_sigterm, mut refused, mut cut) = (0, 0, 0);
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        // (submission, acknowledged, when it was sent, when the answer came)
        type Results = Vec<(Arc<Submission>, bool, Instant, Instant)>;
        let results: Arc<Mutex<Results>> = Arc::default();
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (stop, results, recipients, url) = (
                    stop.clone(),
                    results.clone(),
                    recipients.clone(),
                    server.url.clone(),
                );
                std::thread::spawn(move || {
                    let client = durability::client();
                    let mut rng = StdRng::seed_from_u64(round as u64 * 100 + w);
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) && n < 200 {
                        let sizes = random_sizes(&mut rng);
                        let title = format!("round {round} worker {w} n {n}");
                        let s = Arc::new(Submission::new(title, &sizes, &recipients, &mut rng));
                        let started = Instant::now();
                        let ok = match submit(&client, &url, &s) {
                            Ok((201, _)) => true,
                            Ok((code, body)) => panic!("{code}: {body}"),
                            Err(_) => false,
                        };
                        results
                            .lock()
                            .unwrap()
                            .push((s, ok, started, Instant::now()));
                        n += 1;
                        if !ok {
                            // The server is going away: this reporter
                            // comes back after the restart (next round).
                            break;
                        }
                    }
                })
            })
            .collect();
        wait_until("the load to build up", Duration::from_secs(60), || {
            results.lock().unwrap().len() >= 10
        });
        let signalled = Instant::now();
        let exit = server.stop();
        assert!(
            exit.success(),
            "round {round}: unclean exit under load: {exit}"
        );
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        server.spawn();
        for (s, ok, sent, answered) in results.lock().unwrap().drain(..) {
            if ok {
                if answered > signalled {
                    finished_after_sigterm += 1;
                }
                acked.push(s);
            } else if sent < signalled {
                cut += 1;
            } else {
                refused += 1;
            }
        }
        for s in &acked {
            assert_eq!(
                status_of(&client, &server.url, &s.lookup()),
                200,
                "round {round}: {} was acknowledged and is lost",
                s.title
            );
        }
    }
    let (cases, _) = export(&server, 0);
    for s in &acked {
        let case = cases
            .iter()
            .find(|c| c.manifest.reply_recipient == s.reply_recipient())
            .unwrap_or_else(|| panic!("{} is not in the export", s.title));
        check_case_matches(case, s, &server.keys[0].identity);
    }
    assert_eq!(tmp_files(&server.data), 0);
    eprintln!(
        "{ROUNDS} restarts under load: {} acknowledged, all kept ({finished_after_sigterm} \
         answered after SIGTERM was sent); {refused} sent after SIGTERM and refused; {cut} \
         sent before SIGTERM and not answered (a keep-alive connection closing under them); \
         {} cases",
        acked.len(),
        cases.len()
    );
}
