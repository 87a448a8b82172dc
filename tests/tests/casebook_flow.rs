//! The case book on folders made by the real flow: two reporters submit
//! (`wbs-report`, so channel `cli`), the desk pulls, the air gap opens and
//! answers one case with a status, the desk pushes, the reporter follows
//! up, the desk pulls again and the air gap opens again. Then
//! `wbs-inspect cases` shows the clocks (acknowledged on the reply's day;
//! feedback running until a second reply, then met) and `wbs-inspect stats`
//! writes the figures, hiding small counts for publication and never
//! overwriting what is there.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wbs_e2e::{run_fail, run_ok, ServerOptions, TestServer};
use wbs_protocol::date::{date_from_unix_days, unix_days_from_date};

fn plus_days(day: &str, n: i64) -> String {
    date_from_unix_days(unix_days_from_date(day).unwrap() + n)
}

fn submit(server: &TestServer, w: &Path, title: &str, text: &str) -> String {
    let file = w.join(format!("{title}.txt"));
    std::fs::write(&file, text).unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(&file)
            .args(["--title", title, "--category", "illegal_levy"]),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

fn pull_and_open(server: &TestServer, bundle: &Path, cases: &Path, all: bool) {
    let mut pull = server.cli("wbs-desk", "pull");
    pull.arg("--out").arg(bundle);
    if all {
        pull.arg("--all");
    }
    run_ok(&mut pull);
    run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(bundle)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(cases),
    );
}

fn reply(server: &TestServer, case: &Path, message: &Path, status: &str, out: &Path) {
    run_ok(
        server
            .cli("wbs-inspect", "reply")
            .arg("--case")
            .arg(case)
            .arg("--message")
            .arg(message)
            .args(["--status", status, "--out"])
            .arg(out),
    );
}

fn cases_json(cases: &Path, today: &str) -> Vec<Value> {
    let out = run_ok(
        std::process::Command::new(wbs_e2e::bin("wbs-inspect"))
            .arg("cases")
            .arg("--dir")
            .arg(cases)
            .args(["--today", today, "--json"]),
    );
    match serde_json::from_slice(&out.stdout).expect("cases --json prints JSON") {
        Value::Array(list) => list,
        other => panic!("not an array: {other}"),
    }
}

fn case_with_title(cases: &Path, title: &str) -> PathBuf {
    std::fs::read_dir(cases)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read(p.join("report.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|r| r["title"] == title)
        })
        .unwrap_or_else(|| panic!("no case titled {title}"))
}

fn stats(cases: &Path, from: &str, to: &str, today: &str, out: &Path, publish: bool) -> String {
    let mut cmd = std::process::Command::new(wbs_e2e::bin("wbs-inspect"));
    cmd.arg("stats")
        .arg("--dir")
        .arg(cases)
        .args(["--from", from, "--to", to, "--today", today, "--out"])
        .arg(out);
    if publish {
        cmd.arg("--publish");
    }
    run_ok(&mut cmd);
    std::fs::read_to_string(out.join("stats.csv")).unwrap()
}

fn has_line(csv: &str, line: &str) {
    assert!(csv.lines().any(|l| l == line), "{line:?} not in\n{csv}");
}

#[test]
fn cases_and_stats_on_folders_from_the_real_flow() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cases = w.join("cases");

    // 1. Two reports, then the first pull and open.
    let receipt = submit(&server, w, "Pungli izin usaha", "Uang pelicin.");
    submit(&server, w, "Mark-up proyek jalan", "Harga dinaikkan.");
    pull_and_open(&server, &w.join("export-1.tar"), &cases, true);
    let answered = case_with_title(&cases, "Pungli izin usaha");
    let silent = case_with_title(&cases, "Mark-up proyek jalan");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(answered.join("case.json")).unwrap()).unwrap();
    let received = manifest["received_on"].as_str().unwrap().to_string();

    // 2. The first answer, with a status: it acknowledges the report.
    std::fs::write(w.join("jawaban.txt"), "Terima kasih, sedang kami telaah.").unwrap();
    let replies = w.join("replies-1.tar");
    reply(
        &server,
        &answered,
        &w.join("jawaban.txt"),
        "in_review",
        &replies,
    );
    run_ok(server.cli("wbs-desk", "push").arg(&replies));
    // The day `reply` wrote it: the air gap's record of the reply.
    let sent = std::fs::read_dir(answered.join("thread"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .find(|n| n.contains("-reply-sent-"))
        .expect("a record of the reply");
    let replied_on = sent[..10].to_string();

    // 3. The reporter follows up; pull and open again.
    std::fs::write(w.join("susulan.txt"), "Nomor izin: 503/123/2026").unwrap();
    run_ok(
        server
            .cli("wbs-report", "follow-up")
            .arg("--receipt")
            .arg(&receipt)
            .arg("--message")
            .arg(w.join("susulan.txt")),
    );
    pull_and_open(&server, &w.join("export-2.tar"), &cases, false);

    // 4. The clocks, read 100 days on: the answered case was acknowledged
    //    on the reply's day, but no feedback came within three months; the
    //    other was never acknowledged. Overdue first, longest overdue first.
    let later = plus_days(&received, 100);
    let list = cases_json(&cases, &later);
    assert_eq!(list.len(), 2);
    let silent_id = silent.file_name().unwrap().to_str().unwrap();
    let answered_id = answered.file_name().unwrap().to_str().unwrap();
    assert_eq!(list[0]["id"], silent_id, "{list:#?}");
    let s = &list[0];
    assert_eq!(s["status"], "received");
    assert_eq!(s["channel"], "cli");
    assert_eq!(s["received_on"], received.as_str());
    assert_eq!(s["acknowledge"]["state"], "overdue");
    assert_eq!(s["acknowledge"]["due"], plus_days(&received, 7).as_str());
    assert_eq!(s["acknowledge"]["days_over"], 93);
    assert_eq!(s["acknowledged_on"], Value::Null);
    let a = &list[1];
    assert_eq!(a["id"], answered_id);
    assert_eq!(a["title"], "Pungli izin usaha");
    assert_eq!(a["acknowledge"]["state"], "met");
    assert_eq!(a["acknowledge"]["on"], replied_on.as_str());
    assert_eq!(a["acknowledged_on"], replied_on.as_str());
    assert_eq!(a["feedback"]["state"], "overdue");
    assert_eq!(a["followups"], 1, "the verified follow-up");
    assert_eq!(a["replies_sent"], 1);
    assert_eq!(a["unverified"], 0);
    // The table, for people: the same order, one line each.
    let out = run_ok(
        std::process::Command::new(wbs_e2e::bin("wbs-inspect"))
            .arg("cases")
            .arg("--dir")
            .arg(&cases)
            .args(["--today", &later]),
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CASE"), "{table}");
    assert!(
        lines[1].starts_with(silent_id) && lines[1].contains("overdue"),
        "{table}"
    );
    assert!(
        lines[2].starts_with(answered_id)
            && lines[2].contains(&format!("met {replied_on}"))
            && lines[2].contains("Pungli izin usaha"),
        "{table}"
    );
    assert!(lines[3].starts_with("2 cases on "), "{table}");

    // 5. A second answer closes the case: feedback is met on its day.
    std::fs::write(w.join("selesai.txt"), "Laporan terbukti; sudah ditindak.").unwrap();
    let replies = w.join("replies-2.tar");
    reply(
        &server,
        &answered,
        &w.join("selesai.txt"),
        "closed_substantiated",
        &replies,
    );
    run_ok(server.cli("wbs-desk", "push").arg(&replies));
    pull_and_open(&server, &w.join("export-3.tar"), &cases, true);
    let list = cases_json(&cases, &later);
    let a = list.iter().find(|c| c["id"] == answered_id).unwrap();
    assert_eq!(a["feedback"]["state"], "met", "{a:#}");
    assert_eq!(a["feedback"]["on"], replied_on.as_str());
    assert_eq!(a["replies_sent"], 2);
    assert_eq!(
        a["status"], "closed_substantiated",
        "the full pull brought it"
    );
    // The server set the status the day the bundle was pushed: today too.
    assert_eq!(a["closed_on"], replied_on.as_str());

    // 6. The figures for the day both reports came in.
    let internal = w.join("stats-internal");
    let csv = stats(&cases, &received, &received, &later, &internal, false);
    has_line(&csv, "section,item,value,cases");
    has_line(&csv, "period,mode,internal,");
    has_line(&csv, "received,total,2,");
    has_line(&csv, "received_per_channel,cli,2,");
    has_line(&csv, "received_per_channel,web,0,");
    has_line(&csv, "received_per_category,illegal_levy,2,");
    has_line(&csv, "status_now,received,1,");
    has_line(&csv, "status_now,closed_substantiated,1,");
    has_line(&csv, "outcome,closed_substantiated,1,");
    has_line(&csv, "days_to_acknowledge,median,0,1");
    has_line(&csv, "acknowledged_in_time,within,1,2");
    has_line(&csv, "acknowledged_in_time,percent,50.0,2");
    has_line(&csv, "answered_in_time,within,1,2");
    let html = std::fs::read_to_string(internal.join("stats.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));

    let published = w.join("stats-published");
    let csv = stats(&cases, &received, &received, &later, &published, true);
    has_line(&csv, "period,mode,publication,");
    has_line(&csv, "received,total,< 3,");
    // cli (2), web and unknown (0) are all below 3: merged, then hidden.
    has_line(&csv, "received_per_channel,other,< 3,");
    has_line(&csv, "days_to_acknowledge,median,,< 3");
    has_line(&csv, "acknowledged_in_time,percent,,< 3");
    assert!(!csv.contains("illegal_levy"), "a rare category is merged");

    // 7. Never over what is there: the files stay as they were.
    let before = std::fs::read(published.join("stats.csv")).unwrap();
    let out = run_fail(
        std::process::Command::new(wbs_e2e::bin("wbs-inspect"))
            .arg("stats")
            .arg("--dir")
            .arg(&cases)
            .args(["--from", &received, "--to", &received, "--out"])
            .arg(&published),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(published.join("stats.csv")).unwrap(), before);
}
