//! The server starts with its config, lists the configured recipients and
//! puts the security headers on every answer.

use wbs_e2e::{ServerOptions, TestServer};

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
