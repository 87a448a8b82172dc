//! The case book over hand-made case folders: what it reads, what it keeps
//! apart, what it passes over, and the clocks and figures it gives.

use std::fs;
use std::path::Path;

use wbs_casebook::stats::Shown;
use wbs_casebook::{CaseBook, Day, Policy, Stats};
use wbs_protocol::Status;

fn d(s: &str) -> Day {
    Day::parse(s).unwrap()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn manifest(id: &str, received: &str, history: &[(&str, &str)]) -> String {
    let history: Vec<String> = history
        .iter()
        .map(|(s, on)| format!(r#"{{"status": "{s}", "on": "{on}"}}"#))
        .collect();
    let status = history
        .last()
        .map(|h| serde_json::from_str::<serde_json::Value>(h).unwrap()["status"].to_string())
        .expect("a history");
    format!(
        r#"{{"id": "{id}", "received_on": "{received}", "status": {status}, "history": [{}], "reply_recipient": "age1x", "objects": []}}"#,
        history.join(", ")
    )
}

const SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // "hello"

fn report(title: &str, category: &str, channel: Option<&str>, thread_key: bool) -> String {
    let mut v = serde_json::json!({
        "format": "wbs-report/1",
        "category": category,
        "title": title,
        "body": "Harga dinaikkan tiga kali lipat",
        "details": {"who": "Kepala Bagian Pengadaan"},
        "attachments": [
            {"name": "faktur.pdf", "type": "application/pdf", "size": 5, "sha256": SHA},
            {"name": "foto.jpg", "type": "image/jpeg", "size": 9, "sha256": SHA}
        ],
        "reply_recipient": "age1x",
        "contact": null
    });
    if let Some(c) = channel {
        v["channel"] = c.into();
    }
    if thread_key {
        v["thread_key"] = "k".repeat(43).into();
    }
    v.to_string()
}

fn followup(body: &str) -> String {
    serde_json::json!({
        "format": "wbs-followup/1",
        "body": body,
        "attachments": [{"name": "rekaman.mp3", "type": "audio/mpeg", "size": 3, "sha256": SHA}]
    })
    .to_string()
}

/// As `wbs-inspect reply` writes it (reply.rs, `sent_record`).
fn sent_record(case: &str, item: &str, on: &str, status: Option<&str>, body: &str) -> String {
    let status = status
        .map(|s| format!("| New status | `{s}` (x / y) |\n"))
        .unwrap_or_default();
    format!(
        "# Reply sent to the reporter\n\n| | |\n|---|---|\n| Case | `{case}` |\n\
         | Reply item | `{item}` |\n| Written on | {on} |\n{status}| Reply bundle | `r.tar` |\n\
         | Encrypted to | the reporter `age1x`; the inspectorate `age1y` |\n\n\
         It reaches the reporter once the bundle is pushed with `wbs-desk push`.\n\n\
         ## Message\n\n```text\n{body}\n```\n"
    )
}

fn make_book(dir: &Path) {
    // c1: a full case.
    let c1 = dir.join("c1");
    write(
        &c1.join("case.json"),
        &manifest(
            "c1",
            "2026-01-05",
            &[("received", "2026-01-05"), ("in_review", "2026-01-09")],
        ),
    );
    write(
        &c1.join("report.json"),
        &report("Mark-up jalan", "procurement", Some("web"), true),
    );
    write(&c1.join("attachments/1-faktur.pdf"), "hello");
    // attachment 2 not (yet) there
    write(
        &c1.join("thread/2026-01-10-followup-001.json"),
        &followup("Ada BUKTI baru di gudang"),
    );
    write(&c1.join("thread/2026-01-10-followup-001.md"), "# md");
    write(
        &c1.join("thread/2026-01-10-followup-001-attachments/1-rekaman.mp3"),
        "abc",
    );
    write(
        &c1.join("thread/2026-01-08-reply-sent-abc123.md"),
        &sent_record(
            "c1",
            "abc123",
            "2026-01-08",
            Some("in_review"),
            "Terima kasih.",
        ),
    );
    write(
        &c1.join("thread/2026-02-20-reply-sent-def456.md"),
        &sent_record("c1", "def456", "2026-02-20", None, "Kami sedang memeriksa."),
    );
    write(
        &c1.join("unverified/2026-01-11-followup-002.json"),
        &followup("pesan palsu"),
    );
    write(&c1.join("unverified/2026-01-11-followup-002.md"), "# md");

    // c2: the report has not been opened yet (older client, no channel).
    write(
        &dir.join("c2/case.json"),
        &manifest("c2", "2026-02-01", &[("received", "2026-02-01")]),
    );
    // c3: a broken case.json.
    write(&dir.join("c3/case.json"), "{not json");
    // c4: a case.json of another case.
    write(
        &dir.join("c4/case.json"),
        &manifest("c9", "2026-02-01", &[("received", "2026-02-01")]),
    );
    // c5: a broken report and a broken follow-up: kept, with problems.
    write(
        &dir.join("c5/case.json"),
        &manifest(
            "c5",
            "2026-01-20",
            &[("received", "2026-01-20"), ("rejected", "not-a-date")],
        ),
    );
    write(&dir.join("c5/report.json"), "[]");
    write(&dir.join("c5/thread/2026-01-21-followup-001.json"), "{}");
    // c6: no valid received date.
    write(
        &dir.join("c6/case.json"),
        &manifest("c6", "yesterday", &[("received", "2026-01-01")]),
    );
    // Not cases: a folder without case.json, a file, a name that is no id.
    fs::create_dir_all(dir.join("stats-2026")).unwrap();
    write(&dir.join("policy.toml"), "day_kind = \"working\"");
    write(&dir.join("Not A Case/case.json"), "{}");
}

#[test]
fn a_case_book_reads_what_is_there_and_keeps_unverified_apart() {
    let tmp = tempfile::tempdir().unwrap();
    make_book(tmp.path());
    let book = CaseBook::load(tmp.path()).unwrap();
    let ids: Vec<&str> = book.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c5", "c2"], "by received day");
    let warned: Vec<String> = book
        .warnings
        .iter()
        .map(|w| w.folder.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(warned, ["c3", "c4", "c6"]);
    assert!(book.warnings[1].message.contains("c9"));
    assert!(book.warnings[2].message.contains("received date"));

    let c1 = book.get("c1").unwrap();
    assert_eq!(c1.title(), "Mark-up jalan");
    assert_eq!(c1.category(), "procurement");
    assert_eq!(c1.channel(), "web");
    assert_eq!(c1.status, Status::InReview);
    assert_eq!(c1.received_on, d("2026-01-05"));
    assert_eq!(c1.history.len(), 2);
    assert_eq!(c1.attachments.len(), 2);
    assert_eq!(c1.attachments[0].name, "faktur.pdf");
    assert_eq!(c1.attachments[0].media_type, "application/pdf");
    assert_eq!(c1.attachments[0].size, 5);
    assert_eq!(
        c1.attachments[0].path.as_deref(),
        Some(c1.folder.join("attachments/1-faktur.pdf").as_path())
    );
    assert_eq!(c1.attachments[1].path, None, "not decrypted yet");
    // "hello" is what SHA claims; a file that differs does not verify.
    assert!(c1.attachments[0].verify().unwrap());
    fs::write(c1.folder.join("attachments/1-faktur.pdf"), "HELLO").unwrap();
    assert!(!c1.attachments[0].verify().unwrap());

    assert_eq!(
        c1.followups.len(),
        1,
        "the unverified one is not in the thread"
    );
    let f = &c1.followups[0];
    assert_eq!((f.n, f.on), (1, Some(d("2026-01-10"))));
    assert!(f.authenticated);
    assert_eq!(f.attachments.len(), 1);
    assert!(f.attachments[0].path.is_some());
    assert_eq!(c1.unverified, 1);

    assert_eq!(c1.replies_sent.len(), 2);
    assert_eq!(c1.replies_sent[0].item, "abc123");
    assert_eq!(c1.replies_sent[0].on, Some(d("2026-01-08")));
    assert_eq!(c1.replies_sent[0].status, Some(Status::InReview));
    assert_eq!(c1.replies_sent[0].body, "Terima kasih.\n");
    assert_eq!(c1.replies_sent[1].status, None);
    assert!(c1.problems.is_empty(), "{:?}", c1.problems);

    let facts = c1.facts();
    assert_eq!(facts.replies, vec![d("2026-01-08"), d("2026-02-20")]);
    assert!(
        facts.history.contains(&(Status::InReview, d("2026-01-08"))),
        "the status the reply set, on its day"
    );
    let clocks = c1.clocks(&Policy::default(), d("2026-06-01"));
    assert_eq!(clocks.acknowledged_on, Some(d("2026-01-08")));
    assert_eq!(clocks.acknowledge.code(), "met");
    // Second reply 20 February, within three months of 8 January.
    assert_eq!(clocks.feedback.code(), "met");

    let c2 = book.get("c2").unwrap();
    assert_eq!((c2.title(), c2.channel()), ("", "unknown"));
    assert!(c2.report.is_none() && c2.problems.is_empty());

    let c5 = book.get("c5").unwrap();
    assert!(c5.report.is_none());
    assert_eq!(c5.history.len(), 1, "the undated change is left out");
    assert_eq!(c5.problems.len(), 3, "{:?}", c5.problems);
}

#[test]
fn a_status_set_by_a_reply_counts_before_the_server_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("c7");
    write(
        &case.join("case.json"),
        &manifest("c7", "2026-03-02", &[("received", "2026-03-02")]),
    );
    write(
        &case.join("report.json"),
        &report("Di luar kewenangan", "other", Some("cli"), true),
    );
    // One reply that rejects the report: it acknowledges and, by the
    // status it sets, ends the handling; no later export has come yet.
    write(
        &case.join("thread/2026-03-04-reply-sent-x1.md"),
        &sent_record(
            "c7",
            "x1",
            "2026-03-04",
            Some("rejected"),
            "Bukan kewenangan kami.",
        ),
    );
    let book = CaseBook::load(tmp.path()).unwrap();
    let c = book.get("c7").unwrap();
    assert_eq!(c.status, Status::Received, "the server's word, unchanged");
    let clocks = c.clocks(&Policy::default(), d("2026-08-01"));
    assert_eq!(clocks.acknowledge.code(), "met");
    assert_eq!(clocks.feedback.code(), "met", "{clocks:?}");
    assert_eq!(clocks.closed_on, Some(d("2026-03-04")));
}

#[test]
fn search_finds_reports_and_verified_follow_ups_only() {
    let tmp = tempfile::tempdir().unwrap();
    make_book(tmp.path());
    let book = CaseBook::load(tmp.path()).unwrap();
    let found = |q: &str| -> Vec<String> { book.search(q).map(|c| c.id.clone()).collect() };
    assert_eq!(found("bukti"), ["c1"], "a follow-up, any case");
    assert_eq!(found("MARK-UP"), ["c1"], "the title");
    assert_eq!(found("tiga kali"), ["c1"], "the body");
    assert_eq!(found("kepala bagian"), ["c1"], "the details");
    assert!(found("palsu").is_empty(), "never what is kept apart");
    assert_eq!(found("").len(), 3);
    assert_eq!(found("c2"), ["c2"], "the case id");
}

#[test]
fn cases_by_urgency_and_figures_from_folders() {
    let tmp = tempfile::tempdir().unwrap();
    make_book(tmp.path());
    let book = CaseBook::load(tmp.path()).unwrap();
    let policy = Policy::default();
    let today = d("2026-02-05");
    let list = book.by_urgency(&policy, today);
    let order: Vec<(&str, &str)> = list
        .iter()
        .map(|(c, k)| (c.id.as_str(), k.acknowledge.code()))
        .collect();
    // c5 was never acknowledged (its rejection is undated): overdue since
    // 27 January. c2 is due 8 February: 3 days left, due soon.
    assert_eq!(
        order,
        [("c5", "overdue"), ("c2", "due_soon"), ("c1", "met")]
    );

    let s = Stats::of_cases(
        &book.cases,
        &policy,
        d("2026-01-01"),
        d("2026-12-31"),
        today,
    );
    assert_eq!(s.received, 3);
    assert_eq!(
        s.per_channel[..3],
        [
            ("web".to_string(), 1),
            ("cli".to_string(), 0),
            ("unknown".to_string(), 2)
        ]
    );
    assert_eq!(s.per_month.len(), 12);
    let f = s.figures(true);
    assert_eq!(f.received, Shown::Count(3));
    assert!(f.per_month.iter().all(|r| r.value == Shown::Hidden(3)));
}

#[test]
fn a_missing_folder_is_an_error_an_empty_one_is_an_empty_book() {
    let tmp = tempfile::tempdir().unwrap();
    let e = CaseBook::load(&tmp.path().join("nope")).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let book = CaseBook::load(tmp.path()).unwrap();
    assert!(book.cases.is_empty() && book.warnings.is_empty());
}

#[test]
fn the_policy_comes_from_the_folder_or_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let (p, from) = wbs_casebook::load_policy(tmp.path(), None).unwrap();
    assert_eq!((p, from), (Policy::default(), None));
    write(&tmp.path().join("policy.toml"), "acknowledge_days = 5");
    let (p, from) = wbs_casebook::load_policy(tmp.path(), None).unwrap();
    assert_eq!(p.acknowledge_days, 5);
    assert_eq!(from, Some(tmp.path().join("policy.toml")));
    let other = tmp.path().join("other.toml");
    write(&other, "acknowledge_days = 0");
    let e = wbs_casebook::load_policy(tmp.path(), Some(&other)).unwrap_err();
    assert!(e.to_string().contains("acknowledge_days"), "{e}");
    let e = wbs_casebook::load_policy(tmp.path(), Some(&tmp.path().join("nope.toml"))).unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
}
