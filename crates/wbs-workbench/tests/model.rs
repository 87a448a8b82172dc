//! The workbench's behaviour without any window: unlocking, the case list
//! (deadlines first, filters, search), answers, and what it refuses.

use std::fs;
use std::path::Path;

use wbs_casebook::{ClockState, Day};
use wbs_protocol::Status;
use wbs_workbench::model::{Notice, Workbench};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A case folder as `wbs-inspect open` leaves it (the parts the case book
/// reads).
fn case(
    dir: &Path,
    id: &str,
    received: &str,
    history: &[(&str, &str)],
    title: &str,
    category: &str,
) {
    let hist: Vec<String> = history
        .iter()
        .map(|(s, on)| format!(r#"{{"status": "{s}", "on": "{on}"}}"#))
        .collect();
    let status = history.last().unwrap().0;
    write(
        &dir.join(id).join("case.json"),
        &format!(
            r#"{{"id": "{id}", "received_on": "{received}", "status": "{status}", "history": [{}], "reply_recipient": "age1x", "objects": []}}"#,
            hist.join(", ")
        ),
    );
    write(
        &dir.join(id).join("report.json"),
        &serde_json::json!({
            "format": "wbs-report/1",
            "category": category,
            "title": title,
            "body": format!("Isi laporan {title}"),
            "attachments": [],
            "reply_recipient": "age1x",
        })
        .to_string(),
    );
}

fn unlocked(dir: &Path, today: &str) -> Workbench {
    let keys = tempfile::tempdir().unwrap();
    let key = wbs_e2e::make_key(keys.path(), "inspector");
    let mut wb = Workbench::new(Some(&key.identity_file), dir, Day::parse(today).unwrap());
    wb.unlock().unwrap();
    wb
}

#[test]
fn a_failed_unlock_stays_locked_and_wipes_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let mut wb = Workbench::new(
        Some(&dir.path().join("missing.key")),
        &dir.path().join("cases"),
        Day::today(),
    );
    wb.passphrase.push_str("rahasia sekali");
    assert!(wb.unlock().is_err());
    assert!(!wb.is_unlocked());
    assert!(wb.passphrase.is_empty(), "the passphrase stays in memory");
    assert!(matches!(wb.notice, Some(Notice::Failed(_))));
    assert!(
        !dir.path().join("cases").exists(),
        "nothing made before unlocking"
    );
}

#[test]
fn the_list_puts_deadlines_first_and_filters_by_status_category_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "procurement",
    );
    case(
        d,
        "bbbbbbbbbbbbbbbbbbbb",
        "2026-02-01",
        &[("received", "2026-02-01")],
        "Lama",
        "corruption",
    );
    case(
        d,
        "cccccccccccccccccccc",
        "2026-02-20",
        &[("received", "2026-02-20"), ("in_review", "2026-02-21")],
        "Ditelaah",
        "corruption",
    );
    let mut wb = unlocked(d, "2026-03-04");
    let order: Vec<&str> = wb.visible_cases().iter().map(|(c, _)| c.title()).collect();
    // Overdue first, then due soon (acknowledge by 03-09), then met.
    assert_eq!(order, ["Lama", "Baru", "Ditelaah"]);
    let clocks = wb.visible_cases()[0].1;
    assert!(matches!(clocks.acknowledge, ClockState::Overdue { .. }));

    wb.filter.category = Some("corruption".into());
    let titles: Vec<&str> = wb.visible_cases().iter().map(|(c, _)| c.title()).collect();
    assert_eq!(titles, ["Lama", "Ditelaah"]);
    wb.filter.status = Some(Status::InReview);
    let titles: Vec<&str> = wb.visible_cases().iter().map(|(c, _)| c.title()).collect();
    assert_eq!(titles, ["Ditelaah"]);
    wb.filter = Default::default();
    wb.filter.query = "isi laporan baru".into();
    let titles: Vec<&str> = wb.visible_cases().iter().map(|(c, _)| c.title()).collect();
    assert_eq!(titles, ["Baru"]);
    assert_eq!(wb.categories(), ["corruption", "procurement"]);
}

#[test]
fn an_empty_answer_is_refused_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "other",
    );
    let mut wb = unlocked(d, "2026-03-04");
    wb.drafts
        .entry("aaaaaaaaaaaaaaaaaaaa".into())
        .or_default()
        .body
        .push_str("   \n");
    assert!(wb.queue_answer("aaaaaaaaaaaaaaaaaaaa").is_err());
    assert!(wb.pending.is_empty());
    assert!(wb.save_answers(d).is_err(), "no bundle without answers");
    assert!(fs::read_dir(d)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().ends_with(".tar")));
}

#[test]
fn a_dangerous_file_is_never_decoded_even_with_an_image_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "other",
    );
    let mut wb = unlocked(d, "2026-03-04");
    let file = d.join("foto.png");
    fs::write(&file, b"MZ\x90\0 not a picture").unwrap();
    let att = wbs_casebook::Attachment {
        index: 1,
        name: "foto.png".into(),
        media_type: "image/png".into(),
        size: 18,
        sha256: String::new(),
        path: Some(file),
    };
    assert!(matches!(
        Workbench::handling(&att),
        wbs_workbench::attachment::Handling::Dangerous(_)
    ));
    assert!(wb.preview(&att).is_none());
    assert!(wb.previews.is_empty(), "the decoder never saw it");
}

#[test]
fn statistics_export_writes_csv_and_a_printable_page_into_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "other",
    );
    let mut wb = unlocked(d, "2026-03-04");
    wb.stats.from = "2026-01-01".into();
    wb.stats.to = "2026-12-31".into();
    let out = tempfile::tempdir().unwrap();
    let first = wb.export_stats(out.path()).unwrap();
    let second = wb.export_stats(out.path()).unwrap();
    assert_ne!(first, second, "an export never overwrites another");
    let csv = fs::read_to_string(first.join("stats.csv")).unwrap();
    assert!(csv.starts_with("section,item,value,cases\n"), "{csv}");
    assert!(fs::read_to_string(first.join("stats.html"))
        .unwrap()
        .contains("<html"));
    wb.stats.to = "2025-12-31".into();
    assert!(
        wb.export_stats(out.path()).is_err(),
        "a period that ends before it starts"
    );
}

#[test]
fn the_policy_file_in_the_case_folder_sets_the_deadlines_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "other",
    );
    fs::write(d.join("policy.toml"), "acknowledge_days = 1\n").unwrap();
    let wb = unlocked(d, "2026-03-04");
    assert_eq!(wb.policy.acknowledge_days, 1);
    assert!(matches!(
        wb.visible_cases()[0].1.acknowledge,
        ClockState::Overdue { .. }
    ));

    fs::write(d.join("policy.toml"), "acknowledge_days = 0\n").unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = wbs_e2e::make_key(keys.path(), "inspector");
    let mut wb = Workbench::new(
        Some(&key.identity_file),
        d,
        Day::parse("2026-03-04").unwrap(),
    );
    assert!(wb.unlock().is_err(), "a policy that makes no sense");
    assert!(!wb.is_unlocked());
}

#[test]
fn what_failed_verification_is_shown_apart_and_never_as_the_thread() {
    use egui_kittest::kittest::Queryable;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = "aaaaaaaaaaaaaaaaaaaa";
    case(
        d,
        id,
        "2026-03-02",
        &[("received", "2026-03-02")],
        "Baru",
        "other",
    );
    let forged = "PALSU: kasus ini sudah ditutup, hapus semua bukti";
    write(
        &d.join(id).join("unverified/2026-03-03-followup-001.md"),
        &format!("# UNVERIFIED\n\n{forged}\n"),
    );
    let mut wb = unlocked(d, "2026-03-04");
    wb.open_case(id);
    let mut app = wbs_workbench::ui::App::new(wb);
    app.open_case(id);
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(|ui, app: &mut wbs_workbench::ui::App| app.ui(ui), app);
    h.run();
    h.get_by_label_contains("Tidak terverifikasi: BUKAN dari pelapor");
    h.get_by_label("Belum ada tindak lanjut atau balasan.");
    assert!(
        h.query_by_label_contains("PALSU").is_none(),
        "the text of an unverified object is shown before it is asked for"
    );
    // Asked for, it is shown inside the frame, labelled again.
    h.get_by_label("2026-03-03-followup-001.md").click();
    h.run();
    h.get_by_label_contains("PALSU");
    assert_eq!(
        h.get_all_by_label_contains("Tidak terverifikasi: BUKAN dari pelapor")
            .count(),
        2
    );
}

#[test]
fn a_title_cannot_reorder_itself_on_screen() {
    use egui_kittest::kittest::Queryable;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Stored as "Faktur <RLO>fdp.exe", it would read "Faktur exe.pdf".
    let title = "Faktur \u{202e}fdp.exe";
    case(
        d,
        "aaaaaaaaaaaaaaaaaaaa",
        "2026-03-02",
        &[("received", "2026-03-02")],
        title,
        "other",
    );
    let wb = unlocked(d, "2026-03-04");
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, app: &mut wbs_workbench::ui::App| app.ui(ui),
            wbs_workbench::ui::App::new(wb),
        );
    h.run();
    assert!(
        h.query_by_label(title).is_none(),
        "the control character is drawn"
    );
    h.get_by_label("Faktur [U+202E]fdp.exe");
}

#[test]
fn a_passphrase_protected_identity_opens_with_its_passphrase_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pass = d.join("pass.txt");
    fs::write(&pass, "kuda-laut-merah-93 pagi\n").unwrap();
    wbs_e2e::run_ok(
        std::process::Command::new(wbs_e2e::bin("wbs-inspect"))
            .args(["keygen", "--name", "inspektorat"])
            .arg("--out")
            .arg(d.join("keys"))
            .arg("--passphrase-file")
            .arg(&pass),
    );
    let key = d.join("keys/inspektorat.key");
    assert!(fs::read(&key)
        .unwrap()
        .starts_with(b"age-encryption.org/v1"));
    let cases = d.join("cases");

    let mut wb = Workbench::new(Some(&key), &cases, Day::today());
    wb.passphrase.push_str("kuda-laut-merah-93 siang");
    assert!(wb.unlock().is_err(), "a wrong passphrase");
    assert!(!wb.is_unlocked());
    wb.passphrase.push_str("kuda-laut-merah-93 pagi");
    wb.unlock().unwrap();
    assert!(wb.is_unlocked());
    assert!(wb.passphrase.is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&cases).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a new case folder is its owner's alone: {mode:o}"
        );
    }
}
