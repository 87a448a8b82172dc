//! Moving a store between sled and PostgreSQL with `backup` and `restore`,
//! both ways, and the operator commands on a database while an instance
//! runs on it (no control socket): `token add|list|revoke`, `verify`,
//! `backup`.

mod hostile;

use std::path::Path;
use std::process::{Command, Output};

use hostile::{exchange, post_json, status_body, Fixture};
use wbs_e2e::{bin, ServerOptions, TestServer};
use wbs_protocol::ReceiptCode;
use wbs_store::testing::TestDb;

fn wbs_server(config: &Path, args: &[&str]) -> Output {
    Command::new(bin("wbs-server"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_store_moves_from_sled_to_postgresql_and_back_and_commands_work_while_it_runs() {
    // A sled store with reports.
    let f = Fixture::start(ServerOptions::default());
    let codes: Vec<ReceiptCode> = (0..3).map(|_| ReceiptCode::generate()).collect();
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(f.submit(code, &format!("move-{i}")).status, 201);
    }
    let work = tempfile::tempdir().unwrap();
    let from_sled = work.path().join("from-sled.tar");
    ok(wbs_server(
        &f.server.config,
        &["backup", "--out", from_sled.to_str().unwrap()],
    ));

    // Into PostgreSQL; an instance on it finds every report.
    let db = TestDb::new();
    let out = ok(wbs_server(
        &f.server.config,
        &[
            "restore",
            from_sled.to_str().unwrap(),
            "--database",
            db.url(),
        ],
    ));
    assert!(out.contains("PostgreSQL"), "{out}");
    let again = wbs_server(
        &f.server.config,
        &[
            "restore",
            from_sled.to_str().unwrap(),
            "--database",
            db.url(),
        ],
    );
    assert!(!again.status.success(), "restored twice into one database");
    let pg = TestServer::start(ServerOptions {
        database_url: Some(db.url().to_owned()),
        tokens: vec!["budi".into()],
        ..ServerOptions::default()
    });
    let pg_addr = hostile::addr_of(&pg.url);
    for code in codes.iter().chain([&f.seed]) {
        let found = exchange(&pg_addr, post_json("/api/v1/status", &status_body(code)));
        assert_eq!(found.status, 200, "{}", found.summary());
    }

    // Operator commands against the database while the instance runs.
    let listed = ok(wbs_server(&pg.config, &["token", "list"]));
    assert!(listed.lines().any(|l| l.starts_with("desk1\t")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("budi\t")), "{listed}");
    let token = ok(wbs_server(&pg.config, &["token", "add", "siti"]));
    let desk = |token: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/desk/cases", pg.desk_url))
            .bearer_auth(token.trim())
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(
        desk(&token),
        200,
        "a token added to the database works at once"
    );
    ok(wbs_server(&pg.config, &["token", "revoke", "siti"]));
    assert_eq!(desk(&token), 401, "a revoked token stops at once");
    let verified = ok(wbs_server(&pg.config, &["verify"]));
    assert!(verified.contains("verified 8 objects"), "{verified}");
    let from_pg = work.path().join("from-pg.tar");
    ok(wbs_server(
        &pg.config,
        &["backup", "--out", from_pg.to_str().unwrap()],
    ));
    assert!(
        !pg.data.join("control.sock").exists(),
        "no control socket on PostgreSQL"
    );

    // And back into sled: the same reports, and it verifies.
    let back = work.path().join("back");
    ok(wbs_server(
        &f.server.config,
        &[
            "restore",
            from_pg.to_str().unwrap(),
            "--data",
            back.to_str().unwrap(),
        ],
    ));
    let verified = ok(wbs_server(
        &f.server.config,
        &["verify", "--data", back.to_str().unwrap()],
    ));
    assert!(verified.contains("verified 8 objects"), "{verified}");
    let listed = ok(wbs_server(
        &f.server.config,
        &["token", "list", "--data", back.to_str().unwrap()],
    ));
    assert!(listed.lines().any(|l| l.starts_with("budi\t")), "{listed}");
    assert!(!listed.contains("siti"), "{listed}");
}
