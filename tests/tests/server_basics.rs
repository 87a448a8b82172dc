//! The server starts with its config, lists the configured recipients and
//! puts the security headers on every answer.

use sha2::Digest;
use wbs_e2e::{run_ok, ServerOptions, TestServer};

/// `wbs_server::state::MAX_CONCURRENT_EXPORTS`.
const MAX_CONCURRENT_EXPORTS: usize = 4;

#[test]
fn config_lists_every_recipient_and_headers_are_strict() {
    let server = TestServer::start(ServerOptions {
        keys: 2,
        pow_difficulty: 9,
        ..Default::default()
    });
    let resp = reqwest::blocking::get(format!("{}/api/v1/config", server.url)).unwrap();
    let h = resp.headers().clone();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'self'"));
    assert!(h.get("set-cookie").is_none());
    let config: wbs_protocol::api::ConfigResponse = resp.json().unwrap();
    let mut want: Vec<String> = server.keys.iter().map(|k| k.recipient.clone()).collect();
    let mut got = config.recipients.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(config.pow.difficulty, 9);
    assert_eq!(config.organization, "Inspektorat Daerah Kota Uji");
}

#[test]
fn desk_routes_can_live_on_their_own_address() {
    let server = TestServer::start(ServerOptions {
        separate_desk: true,
        ..Default::default()
    });
    assert_ne!(server.url, server.desk_url);
    let client = reqwest::blocking::Client::new();
    let token = std::fs::read_to_string(server.token_file()).unwrap();
    let on_public = client
        .get(format!("{}/api/v1/desk/cases", server.url))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(on_public.status(), 404);
    let on_desk = client
        .get(format!("{}/api/v1/desk/cases", server.desk_url))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(on_desk.status(), 200);
    let reporter_route_on_desk = client
        .get(format!("{}/api/v1/config", server.desk_url))
        .send()
        .unwrap();
    assert_eq!(reporter_route_on_desk.status(), 404);
}

/// Each export holds a storage thread while its client reads. Investigators
/// that start pulls and stop reading take at most
/// `MAX_CONCURRENT_EXPORTS` of them: the next export is told to come back,
/// reporters are still served, and the slots come back when those
/// connections close.
#[test]
fn stalled_exports_take_a_bounded_number_of_storage_threads() {
    use std::io::{Read, Write};
    let server = TestServer::start(ServerOptions::default());
    let work = tempfile::tempdir().unwrap();
    let message = work.path().join("laporan.txt");
    std::fs::write(&message, "Laporan uji ekspor yang macet.").unwrap();
    // Larger than what loopback socket buffers hold, so an export that
    // nobody reads cannot finish.
    let evidence = work.path().join("bukti.bin");
    std::fs::write(&evidence, vec![7u8; 24 << 20]).unwrap();
    run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(&message)
            .arg("--attach")
            .arg(&evidence),
    );
    let token = std::fs::read_to_string(server.token_file()).unwrap();
    let addr = server.desk_url.trim_start_matches("http://").to_string();
    let request = format!(
        "GET /api/v1/desk/export HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        token.trim()
    );
    let stalled: Vec<std::net::TcpStream> = (0..MAX_CONCURRENT_EXPORTS)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            // Read the head only, then stop reading.
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            s
        })
        .collect();
    let client = reqwest::blocking::Client::new();
    let refused = client
        .get(format!("{}/api/v1/desk/export", server.desk_url))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(refused.status(), 429);
    // Reporters are not held up by the stalled pulls.
    let config = client
        .get(format!("{}/api/v1/config", server.url))
        .send()
        .unwrap();
    assert_eq!(config.status(), 200);
    drop(stalled);
    // The server notices the closed connections at its next write.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let again = client
            .get(format!("{}/api/v1/desk/export", server.desk_url))
            .bearer_auth(token.trim())
            .send()
            .unwrap();
        if again.status() == 200 {
            let bundle = again.bytes().unwrap();
            assert!(
                bundle.len() > 24 << 20,
                "the whole bundle: {}",
                bundle.len()
            );
            break;
        }
        assert_eq!(again.status(), 429);
        assert!(
            std::time::Instant::now() < deadline,
            "slots never came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `wbs-server token add|list|revoke` work while the server runs (through
/// its control socket) and take effect at once; the audit log records both.
#[test]
fn tokens_are_managed_while_the_server_runs() {
    let server = TestServer::start(ServerOptions::default());
    let client = reqwest::blocking::Client::new();
    let cases = |token: &str| {
        client
            .get(format!("{}/api/v1/desk/cases", server.desk_url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    };
    let token_cmd = |args: &[&str]| {
        std::process::Command::new(wbs_e2e::bin("wbs-server"))
            .arg("--config")
            .arg(&server.config)
            .arg("token")
            .args(args)
            .output()
            .unwrap()
    };
    let added = token_cmd(&["add", "budi"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stderr).contains("running server"));
    let token = String::from_utf8(added.stdout).unwrap().trim().to_string();
    assert_eq!(cases(&token), 200, "a new token works without a restart");

    let listed = token_cmd(&["list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.lines().any(|l| l.starts_with("budi\t")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("desk1\t")), "{listed}");

    let again = token_cmd(&["add", "budi"]);
    assert!(!again.status.success());
    assert!(
        again.stdout.is_empty(),
        "no token printed for a refused add"
    );

    let revoked = token_cmd(&["revoke", "budi"]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    assert_eq!(cases(&token), 401, "a revoked token stops at once");
    let unknown = token_cmd(&["revoke", "budi"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no token named"));

    // Neither the token nor its hash reaches the server's log.
    let hash = sha2::Sha256::digest(token.as_bytes());
    let hash_hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let log = server.log_text();
    assert!(!log.contains(&token) && !log.contains(&hash_hex), "{log}");
}
