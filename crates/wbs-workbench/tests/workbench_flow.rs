//! The workbench, headless, on the real flow: a reporter submits with the
//! real `wbs-report` (a photo and a Windows program attached), the desk
//! pulls with the real `wbs-desk`; the workbench, driven through its
//! widgets with egui_kittest, unlocks the identity, imports the export
//! bundle through its own file chooser, finds the case by search, reads
//! it, writes a reply with a status change, answers a second case, and
//! saves both answers into one reply bundle; the
//! real server accepts it (`wbs-desk push`) and the reporter reads the
//! reply as verified (`wbs-report status`). The program attached is flagged
//! as dangerous, offered only for saving elsewhere, and never opened.

use std::path::{Path, PathBuf};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use wbs_casebook::Day;
use wbs_e2e::{run_ok, ServerOptions, TestServer};
use wbs_workbench::model::{Page, Workbench};
use wbs_workbench::ui::App;

const REPORT_MARKER: &str = "Pungutan liar izin usaha di kantor kecamatan";
const SEARCH_WORD: &str = "pelicin-7f3a";
const REPLY_MARKER: &str = "REPLY-MARKER-balasan-workbench-51be";

fn png() -> Vec<u8> {
    // A 2×2 PNG made by hand-free means: the image crate is a dependency.
    let img = image::RgbaImage::from_pixel(2, 2, image::Rgba([0, 128, 255, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn harness(app: App) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// Types `text` into the text field labelled `label`.
fn type_into(h: &mut Harness<'_, App>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run();
    h.get_by_label(label).type_text(text);
    h.run();
}

/// Chooses `path` in the workbench's own file chooser.
fn choose(h: &mut Harness<'_, App>, path: &Path, select: &str) {
    let picker = h.state().wb.picker.as_ref().expect("the chooser is open");
    assert!(!picker.path_text.is_empty());
    // Clear the field, then type the path.
    h.state_mut().wb.picker.as_mut().unwrap().path_text.clear();
    h.run();
    type_into(h, "Lokasi", &path.display().to_string());
    h.get_by_label(select).click();
    h.run();
}

#[test]
fn import_search_read_answer_push_and_the_reporter_reads_it() {
    let server = TestServer::start(ServerOptions::default());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    std::fs::write(
        w.join("laporan.txt"),
        format!("{REPORT_MARKER}.\nKepala seksi meminta uang {SEARCH_WORD} untuk izin."),
    )
    .unwrap();
    std::fs::write(w.join("foto.png"), png()).unwrap();
    let program = b"MZ\x90\x00\x03\x00\x00\x00this program must never run".to_vec();
    std::fs::write(w.join("run.exe"), &program).unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("laporan.txt"))
            .args(["--title", "Pungli izin usaha", "--category", "illegal_levy"])
            .arg("--attach")
            .arg(w.join("foto.png"))
            .arg("--attach")
            .arg(w.join("run.exe")),
    );
    let receipt = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    // Another case, so that the search has something to leave out.
    std::fs::write(w.join("lain.txt"), "Jalan rusak di desa sebelah.").unwrap();
    run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("lain.txt"))
            .args(["--title", "Jalan rusak", "--category", "other"]),
    );

    let usb = w.join("usb");
    std::fs::create_dir(&usb).unwrap();
    let export = usb.join("export-1.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );

    // The workbench, locked, in Indonesian.
    let cases = w.join("kasus");
    let wb = Workbench::new(Some(&server.keys[0].identity_file), &cases, Day::today());
    let mut h = harness(App::new(wb));
    h.run();
    h.get_by_label("Buka kunci").click();
    h.run();
    assert!(h.state().wb.is_unlocked(), "{:?}", h.state().wb.notice);

    // English is one click away, and back.
    h.get_by_label("English").click();
    h.run();
    h.get_by_label("Import export bundle…");
    h.get_by_label("Bahasa Indonesia").click();
    h.run();

    // Import through the app's own chooser.
    h.get_by_label("Impor bundel ekspor…").click();
    h.run();
    choose(&mut h, &export, "Pilih");
    assert_eq!(
        h.state().wb.book.cases.len(),
        2,
        "{:?}",
        h.state().wb.notice
    );

    // Find it by a word of the report's body.
    type_into(&mut h, "Cari", SEARCH_WORD);
    assert_eq!(h.state().wb.visible_cases().len(), 1);
    h.get_by_label("Pungli izin usaha");
    assert!(
        h.query_by_label("Jalan rusak").is_none(),
        "search left it in"
    );
    h.get_by_label("Buka").click();
    h.run();
    assert_eq!(h.state().wb.page, Page::Case);

    // Read it: the body, both files with their digests, and the flag.
    assert!(h.query_by_label_contains(REPORT_MARKER).is_some());
    h.get_by_label("foto.png");
    h.get_by_label("run.exe");
    let danger = h.get_all_by_label_contains("BERBAHAYA").count();
    assert_eq!(danger, 1, "exactly the program is flagged");
    assert_eq!(h.get_all_by_label_contains("SHA-256 ").count(), 2);
    // The photo is previewed after decoding here; the program only ever
    // offered for saving: there is one preview button, for the photo.
    assert_eq!(h.get_all_by_label("Pratinjau").count(), 1);
    h.get_by_label("Pratinjau").click();
    h.run();
    assert!(h.state().wb.previews.values().any(|p| matches!(
        p,
        wbs_workbench::model::Preview::Pixels(px) if px.width == 2 && px.height == 2
    )));
    assert_eq!(h.get_all_by_label("Simpan di tempat lain…").count(), 2);

    // Save the program elsewhere: a plain copy, never executable.
    let case_id = h.state().wb.selected.clone().unwrap();
    let exe_index = h
        .state()
        .wb
        .book
        .get(&case_id)
        .unwrap()
        .attachments
        .iter()
        .position(|a| a.name == "run.exe")
        .unwrap();
    h.get_all_by_label("Simpan di tempat lain…")
        .nth(exe_index)
        .unwrap()
        .click();
    h.run();
    let quarantine = w.join("karantina");
    std::fs::create_dir(&quarantine).unwrap();
    choose(&mut h, &quarantine, "Pilih folder ini");
    let saved = quarantine.join("run.exe");
    assert_eq!(std::fs::read(&saved).unwrap(), program);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "saved executable: {mode:o}");
    }

    // Answer: text, a new status, and whom it is encrypted to.
    h.get_by_label_contains(&server.keys[0].recipient);
    type_into(&mut h, "Balasan untuk pelapor", REPLY_MARKER);
    h.state_mut().wb.drafts.get_mut(&case_id).unwrap().status =
        Some(wbs_protocol::Status::NeedInfo);
    h.run();
    h.get_by_label("Tambahkan ke jawaban").click();
    h.run();
    assert_eq!(h.state().wb.pending.len(), 1, "{:?}", h.state().wb.notice);

    // The other case is answered too: both go into one bundle.
    h.get_by_label("< Kembali").click();
    h.run();
    h.state_mut().wb.filter.query.clear();
    h.run();
    let other = h
        .state()
        .wb
        .book
        .cases
        .iter()
        .find(|c| c.title() == "Jalan rusak")
        .unwrap()
        .id
        .clone();
    h.state_mut().open_case(&other);
    h.run();
    type_into(
        &mut h,
        "Balasan untuk pelapor",
        "Terima kasih, kami teruskan.",
    );
    h.get_by_label("Tambahkan ke jawaban").click();
    h.run();
    assert_eq!(h.state().wb.pending.len(), 2, "{:?}", h.state().wb.notice);
    h.get_by_label("Jawaban (2)").click();
    h.run();
    h.get_by_label("Simpan bundel balasan ke folder…").click();
    h.run();
    choose(&mut h, &usb, "Pilih folder ini");
    assert!(h.state().wb.pending.is_empty(), "{:?}", h.state().wb.notice);
    let bundle: PathBuf = std::fs::read_dir(&usb)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("replies-")
        })
        .expect("a reply bundle on the USB stick");

    let items = wbs_protocol::bundle::ReplyBundle::read(
        std::fs::File::open(&bundle).unwrap(),
        &wbs_protocol::bundle::Limits::REPLIES,
    )
    .unwrap()
    .manifest
    .items;
    let mut answered: Vec<&str> = items.iter().map(|i| i.case_id.as_str()).collect();
    answered.sort();
    let mut expected = [case_id.as_str(), other.as_str()];
    expected.sort();
    assert_eq!(answered, expected, "one bundle, both cases");

    // The server accepts it, and the reporter reads it as verified: the
    // reporter's client shows a reply's text only if it verifies.
    let pushed = run_ok(server.cli("wbs-desk", "push").arg(&bundle));
    let said = String::from_utf8_lossy(&pushed.stdout).to_string()
        + &String::from_utf8_lossy(&pushed.stderr);
    assert!(said.contains("applied"), "{said}");
    let out = run_ok(
        server
            .cli("wbs-report", "status")
            .arg("--receipt")
            .arg(&receipt),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(REPLY_MARKER), "{shown}");
    assert!(
        shown.contains("need_info") || shown.contains("Perlu informasi tambahan"),
        "{shown}"
    );

    // The case book now counts the reply: acknowledged.
    let case = h.state().wb.book.get(&case_id).unwrap().clone();
    assert_eq!(case.replies_sent.len(), 1);
    let clocks = case.clocks(&h.state().wb.policy, h.state().wb.today);
    assert!(matches!(
        clocks.acknowledge,
        wbs_casebook::ClockState::Met { .. }
    ));

    // The reporter answers; the next bundle is merged into the same case
    // book, and the follow-up joins the verified thread, after the reply.
    let followup = "FOLLOWUP-MARKER-nomor-izin-503-123";
    std::fs::write(w.join("susulan.txt"), format!("{followup}: 503/123/2026")).unwrap();
    run_ok(
        server
            .cli("wbs-report", "follow-up")
            .arg("--receipt")
            .arg(&receipt)
            .arg("--message")
            .arg(w.join("susulan.txt")),
    );
    let second = usb.join("export-2.tar");
    run_ok(server.cli("wbs-desk", "pull").arg("--out").arg(&second));
    h.get_by_label("Impor bundel ekspor…").click();
    h.run();
    choose(&mut h, &second, "Pilih");
    let case = h.state().wb.book.get(&case_id).unwrap().clone();
    assert_eq!(case.followups.len(), 1, "{:?}", h.state().wb.notice);
    assert_eq!(
        case.status,
        wbs_protocol::Status::NeedInfo,
        "the merged status"
    );
    assert_eq!(h.state().wb.book.cases.len(), 2, "merged, not duplicated");
    h.state_mut().open_case(&case_id);
    h.run();
    h.get_by_label_contains(followup);
    h.get_by_label_contains(REPLY_MARKER);
}
