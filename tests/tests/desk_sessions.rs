//! The desk pages' sessions against the real server: where the page is
//! served, the cookie's attributes, the login budgets (per token name and
//! global, never per address), revocation ending a session, and log lines
//! of page actions that carry no count, cursor or case id.

use reqwest::blocking::{Client, Response};
use reqwest::header::SET_COOKIE;
use serde_json::{json, Value};
use wbs_e2e::{bin, run_ok, ServerOptions, TestServer};

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn token(server: &TestServer, name: &str) -> String {
    let file = &server
        .token_files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1;
    std::fs::read_to_string(file).unwrap().trim().to_string()
}

fn login(base: &str, body: Value, extra: &[(&str, &str)]) -> Response {
    let mut req = client()
        .post(format!("{base}/api/v1/desk/session"))
        .json(&body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().unwrap()
}

fn code_of(resp: Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// A logged-in session: the `Cookie` header value and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn session(base: &str, token: &str) -> Session {
    let resp = login(base, json!({ "token": token }), &[]);
    assert_eq!(resp.status(), 200);
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let body: Value = resp.json().unwrap();
    Session {
        cookie,
        csrf: body["csrf"].as_str().unwrap().to_string(),
    }
}

impl Session {
    fn get(&self, base: &str, path: &str) -> Response {
        client()
            .get(format!("{base}{path}"))
            .header("Cookie", &self.cookie)
            .header("X-Wbs-Csrf", &self.csrf)
            .send()
            .unwrap()
    }
    fn post(&self, base: &str, path: &str, body: Value) -> Response {
        client()
            .post(format!("{base}{path}"))
            .header("Cookie", &self.cookie)
            .header("X-Wbs-Csrf", &self.csrf)
            .json(&body)
            .send()
            .unwrap()
    }
}

fn wbs_server(server: &TestServer, args: &[&str]) -> String {
    let out = run_ok(
        std::process::Command::new(bin("wbs-server"))
            .arg("--config")
            .arg(&server.config)
            .args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_desk_page_is_served_on_the_desk_address_only_when_there_is_one() {
    let server = TestServer::start(ServerOptions {
        separate_desk: true,
        ..Default::default()
    });
    let c = client();
    for path in ["/desk", "/"] {
        let r = c.get(format!("{}{path}", server.desk_url)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = r.text().unwrap();
        assert!(html.contains("/assets/desk.js"), "{path}");
        assert!(!html.contains("<script>"), "no inline script");
    }
    for asset in ["desk.js", "desk.css", "app.css", "favicon.svg"] {
        let r = c
            .get(format!("{}/assets/{asset}", server.desk_url))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
    }
    // The reporters' address has neither the page nor the session routes.
    assert_eq!(
        c.get(format!("{}/desk", server.url))
            .send()
            .unwrap()
            .status(),
        404
    );
    let on_public = login(
        &server.url,
        json!({ "token": token(&server, "desk1") }),
        &[],
    );
    assert_eq!(on_public.status(), 404);
    // On the desk address, the login works.
    session(&server.desk_url, &token(&server, "desk1"));

    // With no desk address, the main address serves the desk as before.
    let shared = TestServer::start(ServerOptions::default());
    let r = c.get(format!("{}/desk", shared.url)).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn the_cookie_is_httponly_strict_and_secure_over_tls_or_onion() {
    let server = TestServer::start(ServerOptions::default());
    let t = token(&server, "desk1");
    let cookie = |extra: &[(&str, &str)]| {
        let r = login(&server.url, json!({ "token": t }), extra);
        assert_eq!(r.status(), 200);
        r.headers()[SET_COOKIE].to_str().unwrap().to_string()
    };
    let plain = cookie(&[]);
    assert!(plain.starts_with("wbs_desk="), "{plain}");
    assert!(plain.contains("; HttpOnly") && plain.contains("; SameSite=Strict"));
    assert!(
        plain.contains("; Path=/") && !plain.contains("Secure"),
        "{plain}"
    );
    assert!(!plain.contains("Max-Age") && !plain.contains("Expires"));
    for extra in [
        &[("X-Forwarded-Proto", "https")][..],
        &[("Forwarded", "for=_hidden;proto=https")][..],
        &[("Host", "abcdefghijklmnop.onion")][..],
    ] {
        let c = cookie(extra);
        assert!(c.starts_with("__Host-wbs_desk="), "{extra:?}: {c}");
        assert!(c.contains("; Secure") && c.contains("; HttpOnly"), "{c}");
    }

    let always = TestServer::start(ServerOptions {
        extra_config: "[desk_session]\nsecure_cookie = \"always\"\n".into(),
        ..Default::default()
    });
    let r = login(
        &always.url,
        json!({ "token": token(&always, "desk1") }),
        &[],
    );
    let c = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        c.starts_with("__Host-wbs_desk=") && c.contains("; Secure"),
        "{c}"
    );
}

#[test]
fn wrong_codes_lock_out_their_token_name_only_and_a_missing_code_costs_nothing() {
    let server = TestServer::start(ServerOptions {
        tokens: vec!["desk1".into()],
        ..Default::default()
    });
    // Enrolled while the server runs (through its control socket).
    let out = wbs_server(&server, &["token", "add", "siti", "--totp"]);
    let siti = out.lines().last().unwrap().trim().to_string();
    assert!(out.contains("otpauth://totp/"), "{out}");

    // No code: refused, but no guess, so it costs nothing.
    for _ in 0..10 {
        let (status, code) = code_of(login(&server.url, json!({ "token": siti }), &[]));
        assert_eq!((status, code.as_str()), (401, "login_failed"));
    }
    // Five wrong codes are refused as such; the sixth attempt is not even
    // checked. (A wrong code that happens to be right has odds of 3 in a
    // million per try.)
    for _ in 0..5 {
        let (status, code) = code_of(login(
            &server.url,
            json!({ "token": siti, "totp": "000000" }),
            &[],
        ));
        assert_eq!((status, code.as_str()), (401, "login_failed"));
    }
    let (status, code) = code_of(login(
        &server.url,
        json!({ "token": siti, "totp": "000001" }),
        &[],
    ));
    assert_eq!((status, code.as_str()), (429, "login_limited"));
    // The bearer API counts codes against the same budget.
    let r = client()
        .get(format!("{}/api/v1/desk/cases", server.url))
        .bearer_auth(&siti)
        .header("X-Wbs-Totp", "123456")
        .send()
        .unwrap();
    assert_eq!(code_of(r), (429, "login_limited".to_string()));
    // Another name is not locked out, whoever sends it.
    session(&server.url, &token(&server, "desk1"));
    let audit =
        session(&server.url, &token(&server, "desk1")).get(&server.url, "/api/v1/desk/audit");
    let audit: Value = audit.json().unwrap();
    let refused: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login_refused")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        refused.contains(&"totp_required") && refused.contains(&"totp_wrong"),
        "{refused:?}"
    );
}

#[test]
fn the_global_budget_stops_guessing_tokens_but_not_the_bearer_api() {
    let server = TestServer::start(ServerOptions {
        extra_config: "[desk_session]\nlogin_failures_global = 3\n".into(),
        ..Default::default()
    });
    for i in 0..3 {
        let (status, code) = code_of(login(
            &server.url,
            json!({ "token": format!("wbs_guess{i}") }),
            &[],
        ));
        assert_eq!((status, code.as_str()), (401, "login_failed"));
    }
    let (status, code) = code_of(login(
        &server.url,
        json!({ "token": token(&server, "desk1") }),
        &[],
    ));
    assert_eq!((status, code.as_str()), (429, "login_limited"));
    // wbs-desk's bearer requests without a code guess nothing and go on.
    let before = server.log_text().len();
    run_ok(&mut server.cli("wbs-desk", "cases"));
    // Every line up to that last action is in before the check.
    server.log_after(before, &["action=\"list_cases\""]);
    let log = server.log_text();
    assert!(!log.contains("wbs_guess"), "a presented token was logged");
}

#[test]
fn revoking_a_token_ends_its_sessions_at_once() {
    let server = TestServer::start(ServerOptions {
        tokens: vec!["desk1".into(), "budi".into()],
        ..Default::default()
    });
    let s = session(&server.url, &token(&server, "budi"));
    assert_eq!(s.get(&server.url, "/api/v1/desk/overview").status(), 200);
    wbs_server(&server, &["token", "revoke", "budi"]);
    let (status, code) = code_of(s.get(&server.url, "/api/v1/desk/overview"));
    assert_eq!((status, code.as_str()), (401, "session_ended"));
}

#[test]
fn desk_page_actions_log_who_and_what_but_no_count_cursor_or_case() {
    let server = TestServer::start(ServerOptions {
        tokens: vec!["inspektur".into()],
        ..Default::default()
    });
    let w = tempfile::tempdir().unwrap();
    let message = w.path().join("laporan.txt");
    std::fs::write(&message, "Laporan.").unwrap();
    run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(&message),
    );
    let log_start = server.log_text().len();

    let s = session(&server.url, &token(&server, "inspektur"));
    let overview: Value = s.get(&server.url, "/api/v1/desk/overview").json().unwrap();
    let case_id = overview["cases"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(overview["counts"]["total"], 1);
    assert_eq!(overview["cases"][0]["acknowledge"]["state"], "on_time");
    let export = s.get(&server.url, "/api/v1/desk/export?since=0");
    assert_eq!(export.status(), 200);
    let cursor = export.headers()["x-wbs-cursor"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!export.bytes().unwrap().is_empty());
    // The last pull is remembered: nothing is new now.
    let overview: Value = s.get(&server.url, "/api/v1/desk/overview").json().unwrap();
    assert_eq!(overview["last_pull"], cursor.as_str());
    assert_eq!(overview["counts"]["new"], 0);
    let r = s.post(
        &server.url,
        &format!("/api/v1/desk/cases/{case_id}/status"),
        json!({ "status": "in_review" }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(s.get(&server.url, "/api/v1/desk/audit").status(), 200);
    assert_eq!(
        s.post(&server.url, "/api/v1/desk/logout", json!({}))
            .status(),
        204
    );

    let log = server.log_after(log_start, &["action=\"logout\""]);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("desk action")).collect();
    for action in [
        "login",
        "overview",
        "export",
        "set_status",
        "audit_view",
        "logout",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("action=\"{action}\""))),
            "{action} not logged:\n{log}"
        );
    }
    for l in &lines {
        assert!(!l.contains(&case_id), "case id in {l}");
        // The token name has no digits; the level and the timestamp
        // prefix are cut off.
        let tail = l.split("desk action").nth(1).unwrap();
        let fields = l.split(" INFO ").nth(1).unwrap_or(tail);
        assert!(!fields.chars().any(|c| c.is_ascii_digit()), "{l}");
    }

    // The cursor of that pull survives a restart (read back from the
    // audit log).
    let mut server = server;
    server.stop();
    server.spawn();
    let s = session(&server.url, &token(&server, "inspektur"));
    let overview: Value = s.get(&server.url, "/api/v1/desk/overview").json().unwrap();
    assert_eq!(overview["last_pull"], cursor.as_str());
}

#[test]
fn a_session_cookie_without_its_csrf_token_or_from_another_site_changes_nothing() {
    let server = TestServer::start(ServerOptions::default());
    let w = tempfile::tempdir().unwrap();
    let message = w.path().join("laporan.txt");
    std::fs::write(&message, "Laporan.").unwrap();
    run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(&message),
    );
    let s = session(&server.url, &token(&server, "desk1"));
    let overview: Value = s.get(&server.url, "/api/v1/desk/overview").json().unwrap();
    let case_id = overview["cases"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/desk/cases/{case_id}/status");
    let c = client();
    let attempts = [
        // The cookie alone, as a thief or another site's form would send it.
        vec![("Cookie", s.cookie.clone())],
        // Someone else's CSRF token.
        vec![
            ("Cookie", s.cookie.clone()),
            (
                "X-Wbs-Csrf",
                session(&server.url, &token(&server, "desk1")).csrf,
            ),
        ],
        // The right token, but the browser says another site sent it.
        vec![
            ("Cookie", s.cookie.clone()),
            ("X-Wbs-Csrf", s.csrf.clone()),
            ("Sec-Fetch-Site", "cross-site".into()),
        ],
        vec![
            ("Cookie", s.cookie.clone()),
            ("X-Wbs-Csrf", s.csrf.clone()),
            ("Origin", "http://evil.example".into()),
        ],
    ];
    for headers in attempts {
        let mut req = c
            .post(format!("{}{path}", server.url))
            .json(&json!({ "status": "rejected" }));
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let (status, code) = code_of(req.send().unwrap());
        assert_eq!(status, 403, "{headers:?}");
        assert!(code == "csrf" || code == "cross_site", "{code}");
    }
    let overview: Value = s.get(&server.url, "/api/v1/desk/overview").json().unwrap();
    assert_eq!(
        overview["cases"][0]["status"], "received",
        "nothing changed"
    );
    // With its token, from the page's own origin, it works.
    let r = client()
        .post(format!("{}{path}", server.url))
        .header("Cookie", &s.cookie)
        .header("X-Wbs-Csrf", &s.csrf)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", &server.url)
        .json(&json!({ "status": "in_review" }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}
