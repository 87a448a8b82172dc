//! `wbs-report` with large attachments over a connection that breaks: a
//! TCP proxy between it and the real server cuts the connection several
//! times during one upload. The attachment must arrive whole, having cost
//! no more than 1.5 times its size on the wire, decrypt byte for byte after
//! pull and open, and leave no pending state behind; a run that is stopped
//! must go on with `--resume` from where the server stood.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wbs_e2e::{bin, files_under, run_ok, ServerOptions, TestServer};

const MIB: u64 = 1 << 20;

/// A TCP proxy to `upstream` that counts the bytes the client sends and
/// cuts whatever connection is sending when the count passes each of the
/// `cuts`.
struct Proxy {
    addr: String,
    sent: Arc<AtomicU64>,
    cut: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: &str, cuts: Vec<u64>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(Mutex::new(cuts));
        let upstream = upstream.to_string();
        let (s, c) = (sent.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (sent, cut, cuts) = (s.clone(), c.clone(), cuts.clone());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // Server to client: as is.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (s2, c2);
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
                // Client to server: counted, and cut at each mark.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (client, server);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        let due = {
                            let mut cuts = cuts.lock().unwrap();
                            match cuts.first() {
                                Some(&at) if total >= at => {
                                    cuts.remove(0);
                                    true
                                }
                                _ => false,
                            }
                        };
                        if due {
                            cut.fetch_add(1, Ordering::SeqCst);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        Proxy { addr, sent, cut }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

/// `len` bytes nobody can compress or guess, quickly.
fn noise(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

fn pending_dirs(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

fn report_command(
    proxy: &Proxy,
    state: &Path,
    message: &Path,
    attachment: &Path,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin("wbs-report"));
    cmd.arg("submit")
        .arg("--server")
        .arg(proxy.url())
        .arg("--message")
        .arg(message)
        .arg("--attach")
        .arg(attachment)
        .arg("--keep-metadata")
        .env("WBS_REPORT_STATE_DIR", state);
    cmd
}

/// Pulls every case and opens it; returns the bytes of the attachment
/// whose name ends in `suffix`.
fn pulled_attachment(server: &TestServer, work: &Path, suffix: &str) -> Vec<u8> {
    let bundle = work.join("export.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&bundle)
            .arg("--all"),
    );
    let cases = work.join("cases");
    run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(&bundle)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(&cases),
    );
    let file = files_under(&cases)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no attachment ending in {suffix}"));
    std::fs::read(file).unwrap()
}

#[test]
fn a_100_mib_attachment_survives_four_cuts_and_arrives_whole() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 4,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let size = 100 * MIB;
    let data = noise(size, 0x5eed);
    std::fs::write(w.join("rekaman.bin"), &data).unwrap();
    std::fs::write(w.join("laporan.txt"), "Rekaman rapat pembagian proyek.").unwrap();
    let state = w.join("state");
    let proxy = Proxy::start(
        server.url.trim_start_matches("http://"),
        vec![15 * MIB, 40 * MIB, 65 * MIB, 90 * MIB],
    );

    let started = Instant::now();
    let out = run_ok(&mut report_command(
        &proxy,
        &state,
        &w.join("laporan.txt"),
        &w.join("rekaman.bin"),
    ));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(proxy.cut.load(Ordering::SeqCst), 4, "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let sent = proxy.sent();
    eprintln!(
        "100 MiB through 4 cuts: {:.1} MiB sent in {took:?}",
        sent as f64 / MIB as f64
    );
    assert!(
        sent <= size * 3 / 2,
        "{sent} bytes went over the wire for a {size}-byte attachment"
    );
    // Confirmed: nothing pending is left on the reporter's device.
    assert!(
        pending_dirs(&state).is_empty(),
        "{:?}",
        pending_dirs(&state)
    );
    // Nor in the server's staging directory.
    assert!(files_under(&server.data.join("uploads")).is_empty());

    let back = pulled_attachment(&server, w, "rekaman.bin");
    assert!(
        back == data,
        "the decrypted attachment differs from the original"
    );
}

#[test]
fn a_stopped_run_goes_on_with_resume() {
    let server = TestServer::start(ServerOptions::default());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let size = 40 * MIB;
    let data = noise(size, 0xfeed);
    std::fs::write(w.join("dokumen.bin"), &data).unwrap();
    let message = "Dokumen anggaran ganda. PESAN-RAHASIA-3c9d";
    std::fs::write(w.join("laporan.txt"), message).unwrap();
    let state = w.join("state");
    let proxy = Proxy::start(server.url.trim_start_matches("http://"), vec![]);

    // Stopped (killed) once about half of it went out.
    let mut child = report_command(
        &proxy,
        &state,
        &w.join("laporan.txt"),
        &w.join("dokumen.bin"),
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while proxy.sent() < size / 2 {
        assert!(Instant::now() < deadline, "the upload never got going");
        assert!(child.try_wait().unwrap().is_none(), "it finished too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = proxy.sent();

    // What it left: one private pending folder, its state naming nothing
    // but the server, the upload and the objects.
    let dirs = pending_dirs(&state);
    assert_eq!(dirs.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        for f in files_under(&dirs[0]) {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is readable by others", f.display());
        }
    }
    let text = std::fs::read_to_string(dirs[0].join("state.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(saved["attachments"][0]["upload"].is_string(), "{text}");
    for secret in ["dokumen", "PESAN-RAHASIA", "laporan"] {
        assert!(!text.contains(secret), "the state holds {secret:?}: {text}");
    }
    // Not even the attachment's plain SHA-256.
    let digest = wbs_protocol::hex(&<sha2::Sha256 as sha2::Digest>::digest(&data));
    assert!(!text.contains(&digest));

    // Without `--resume` nothing would be reused; with it, the rest goes.
    let out = run_ok(
        report_command(
            &proxy,
            &state,
            &w.join("laporan.txt"),
            &w.join("dokumen.bin"),
        )
        .arg("--resume"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming the upload at"), "{stderr}");
    let second = proxy.sent() - first;
    assert!(
        second < size - size / 4,
        "the resumed run sent {second} bytes: it started over"
    );
    assert!(pending_dirs(&state).is_empty());
    let back = pulled_attachment(&server, w, "dokumen.bin");
    assert!(
        back == data,
        "the decrypted attachment differs from the original"
    );
}

#[test]
fn a_full_staging_area_sends_the_attachment_inline() {
    // No room for an upload of this size: 507 staging_full, and the
    // attachment goes in the submission itself, as before.
    let server = TestServer::start(ServerOptions {
        extra_config: "[uploads]\nstaging_quota_bytes = 1048576\n".into(),
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = noise(9 * MIB, 0xabc);
    std::fs::write(w.join("foto.bin"), &data).unwrap();
    std::fs::write(w.join("laporan.txt"), "Foto kejadian.").unwrap();
    let state = w.join("state");
    let proxy = Proxy::start(server.url.trim_start_matches("http://"), vec![]);
    run_ok(&mut report_command(
        &proxy,
        &state,
        &w.join("laporan.txt"),
        &w.join("foto.bin"),
    ));
    assert!(pending_dirs(&state).is_empty());
    assert!(pulled_attachment(&server, w, "foto.bin") == data);
}
