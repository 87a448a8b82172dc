//! `wbs-inspect open` refusing: wrong keys, tampering, hash mismatches,
//! hostile names and ids, and files it would have to overwrite. Each
//! failure is one clear line, and leaves no file behind.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use age::x25519;
use common::*;
use secrecy::SecretString;
use wbs_protocol::bundle::{ExportManifest, ExportWriter, ManifestCase, EXPORT_FORMAT};
use wbs_protocol::ReceiptCode;

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    identity: x25519::Identity,
    key_file: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let identity = x25519::Identity::generate();
    let key_file = write_identity(&root, "inspektorat.key", &identity);
    Setup {
        _tmp: tmp,
        root,
        identity,
        key_file,
    }
}

fn open_with(s: &Setup, bundle_bytes: &[u8], key: &Path, extra: &[&str]) -> Run {
    let path = write(&s.root, "export.tar", bundle_bytes);
    let out = s.root.join("out");
    let mut args: Vec<std::ffi::OsString> = vec![
        "open".into(),
        path.into(),
        "--identity".into(),
        key.into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    run(args)
}

fn open(s: &Setup, bundle_bytes: &[u8]) -> Run {
    open_with(s, bundle_bytes, &s.key_file, &[])
}

fn reporter() -> String {
    ReceiptCode::generate().reply_recipient().to_string()
}

/// A case with one report and one attachment, the objects returned for
/// tampering before the bundle is written.
fn one_case(s: &Setup, file: &[u8]) -> CaseBuild {
    let r = reporter();
    let rep = report("Satu", &r, vec![meta("bukti.bin", file)]);
    CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[s.identity.to_public()], &rep, &[file.to_vec()]),
    )
}

/// The files under the output folder (empty if it does not exist).
fn outputs(s: &Setup) -> Vec<String> {
    let out = s.root.join("out");
    if out.exists() {
        tree(&out)
            .into_iter()
            .filter(|p| !p.ends_with('/'))
            .collect()
    } else {
        Vec::new()
    }
}

#[test]
fn wrong_identity_is_one_clear_line_and_writes_nothing() {
    let s = setup();
    let bytes = bundle(&[one_case(&s, b"data")], &[]);
    let stranger = write_identity(&s.root, "other.key", &x25519::Identity::generate());
    let run = open_with(&s, &bytes, &stranger, &[]);
    assert_eq!(
        run.failure(),
        "wbs-inspect: cannot decrypt case case-1: this identity is not one of its recipients"
    );
    assert_eq!(outputs(&s), Vec::<String>::new());
}

#[test]
fn wrong_passphrase_is_one_clear_line() {
    let s = setup();
    // A passphrase-protected identity file, as `age -p` makes it (with a
    // small work factor to keep the test fast).
    let mut recipient = age::scrypt::Recipient::new(SecretString::from("kata sandi yang benar"));
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut protected = Vec::new();
    let mut w = encryptor.wrap_output(&mut protected).unwrap();
    std::io::Write::write_all(&mut w, &fs::read(&s.key_file).unwrap()).unwrap();
    w.finish().unwrap();
    let key = write(&s.root, "protected.key", &protected);
    let bytes = bundle(&[one_case(&s, b"data")], &[]);

    let wrong = write(&s.root, "wrong.txt", b"kata sandi yang salah\n");
    let run = open_with(
        &s,
        &bytes,
        &key,
        &["--passphrase-file", wrong.to_str().unwrap()],
    );
    assert_eq!(
        run.failure(),
        format!(
            "wbs-inspect: wrong passphrase for identity file {}",
            key.display()
        )
    );
    assert_eq!(outputs(&s), Vec::<String>::new());

    let right = write(&s.root, "right.txt", b"kata sandi yang benar\n");
    open_with(
        &s,
        &bytes,
        &key,
        &["--passphrase-file", right.to_str().unwrap()],
    )
    .success();
    assert!(s.root.join("out/case-1/attachments/1-bukti.bin").is_file());
}

#[test]
fn a_protected_identity_without_terminal_or_passphrase_file_is_refused() {
    let s = setup();
    let mut recipient = age::scrypt::Recipient::new(SecretString::from("pw"));
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut protected = Vec::new();
    let mut w = encryptor.wrap_output(&mut protected).unwrap();
    std::io::Write::write_all(&mut w, b"AGE-SECRET-KEY-1\n").unwrap();
    w.finish().unwrap();
    let key = write(&s.root, "protected.key", &protected);
    let bundle_path = write(&s.root, "export.tar", &bundle(&[one_case(&s, b"x")], &[]));
    let out = s.root.join("out");
    let run = run_without_terminal([
        "open".as_ref(),
        bundle_path.as_os_str(),
        "--identity".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        run.failure().contains("--passphrase-file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_tampered_ciphertext_byte_names_the_case_and_object_and_leaves_no_file() {
    let s = setup();
    let file = binary(100_000, 9);
    let mut case = one_case(&s, &file);
    // Flip a byte in the payload of the attachment; case.json carries the
    // SHA-256 of the tampered bytes, so only age's authentication catches it.
    let att = &mut case.objects[1].bytes;
    let at = att.len() - 500;
    att[at] ^= 0x01;
    let run = open(&s, &bundle(&[case], &[]));
    assert_eq!(
        run.failure(),
        "wbs-inspect: case case-1: \"attachments/1.age\" is damaged or was tampered with \
         (its encryption does not authenticate)"
    );
    assert_eq!(outputs(&s), ["case-1/report.json"]);

    // The same in the report's header: still named, still nothing written.
    let s = setup();
    let mut case = one_case(&s, b"data");
    let rep = &mut case.objects[0].bytes;
    let mac_line = rep.windows(4).position(|w| w == b"--- ").unwrap();
    rep[mac_line + 6] ^= 0x01;
    let run = open(&s, &bundle(&[case], &[]));
    assert!(
        run.failure()
            .contains("case case-1: \"report.age\" is damaged or was tampered with"),
        "{}",
        run.stderr
    );
    assert_eq!(outputs(&s), Vec::<String>::new());
}

#[test]
fn a_bundle_hash_mismatch_names_the_case_and_object_and_leaves_no_file() {
    let s = setup();
    let mut case = one_case(&s, &binary(10_000, 2));
    // The ciphertext is intact, but case.json claims other bytes.
    case.objects[1].claimed_sha256 = Some(sha256_hex(b"something else"));
    let run = open(&s, &bundle(&[case], &[]));
    assert_eq!(
        run.failure(),
        "wbs-inspect: case case-1: \"attachments/1.age\" does not match its SHA-256 in \
         case.json: the bundle is damaged or was tampered with"
    );
    assert_eq!(outputs(&s), ["case-1/report.json"]);
}

#[test]
fn an_attachment_that_does_not_match_the_report_is_not_written() {
    let s = setup();
    let real = binary(4000, 1);
    let r = reporter();
    // The report promises other bytes than the attachment holds.
    let mut m = meta("kontrak.pdf", &real);
    m.sha256 = sha256_hex(b"the document the reporter meant");
    let rep = report("Beda", &r, vec![m]);
    let case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[s.identity.to_public()], &rep, &[real]),
    );
    let run = open(&s, &bundle(&[case], &[]));
    assert_eq!(
        run.failure(),
        "wbs-inspect: case case-1: attachment 1 \"kontrak.pdf\" (attachments/1.age) does not \
         match the SHA-256 in the report; it was not written"
    );
    assert_eq!(outputs(&s), ["case-1/report.json"]);
}

#[test]
fn an_attachment_shorter_than_the_report_says_is_not_written() {
    let s = setup();
    let real = binary(1000, 4);
    let r = reporter();
    let mut m = meta("pendek.bin", &real);
    m.size = 5000;
    let rep = report("Pendek", &r, vec![m]);
    let case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[s.identity.to_public()], &rep, &[real]),
    );
    let run = open(&s, &bundle(&[case], &[]));
    assert!(run
        .failure()
        .contains("does not match the SHA-256 in the report"));
    assert_eq!(outputs(&s), ["case-1/report.json"]);
}

#[test]
fn hostile_attachment_names_never_escape_the_output_folder() {
    let s = setup();
    let names = [
        "../../etc/x".to_string(),
        "/abs".to_string(),
        ".hidden".to_string(),
        "..".to_string(),
        "ctrl\u{1b}[31m\u{7}\r\n.txt".to_string(),
        "gnp.\u{202e}exe".to_string(),
        "a\\..\\..\\b".to_string(),
        "x".repeat(5000),
        String::new(),
    ];
    let files: Vec<Vec<u8>> = (0..names.len()).map(|i| binary(100 + i, i as u8)).collect();
    let r = reporter();
    let rep = report(
        "../../\u{1b}]0;title\u{7}",
        &r,
        names.iter().zip(&files).map(|(n, f)| meta(n, f)).collect(),
    );
    let case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[s.identity.to_public()], &rep, &files),
    );
    let bytes = bundle(&[case], &[]);
    // The output folder is nested, so an escape of one or two levels would
    // still land inside the test's own folder, where it is looked for.
    let out = s.root.join("a/b/out");
    let path = write(&s.root, "export.tar", &bytes);
    run([
        "open".as_ref(),
        path.as_os_str(),
        "--identity".as_ref(),
        s.key_file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .success();

    let everything = tree(&s.root);
    for p in &everything {
        assert!(
            p.starts_with("a/b/out/")
                || ["a/", "a/b/", "export.tar", "inspektorat.key"].contains(&p.as_str()),
            "{p:?} is outside the output folder"
        );
    }
    let attachments: Vec<String> = fs::read_dir(out.join("case-1/attachments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(attachments.len(), names.len(), "{attachments:?}");
    for name in &attachments {
        assert!(!name.starts_with('.'), "{name:?}");
        assert!(!name.contains(".."), "{name:?}");
        assert!(
            !name.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{name:?}"
        );
        assert!(name.len() <= 110, "{name:?}");
    }
    for (i, f) in files.iter().enumerate() {
        let prefix = format!("{}-", i + 1);
        let name = attachments.iter().find(|n| n.starts_with(&prefix)).unwrap();
        assert_eq!(
            &fs::read(out.join("case-1/attachments").join(name)).unwrap(),
            f
        );
    }
    // Nothing a reporter wrote reaches a terminal as an escape sequence.
    let md = fs::read_to_string(out.join("case-1/report.md")).unwrap();
    assert!(!md.contains('\u{1b}') && !md.contains('\u{7}') && !md.contains('\u{202e}'));
}

#[test]
fn hostile_case_ids_are_refused_before_anything_is_written() {
    let s = setup();
    for id in ["../evil", "/tmp/evil", "Evil", ".."] {
        // ExportWriter refuses such ids, so export.json is written by hand:
        // it lists the case, and wbs-protocol refuses the manifest.
        let manifest = ExportManifest {
            format: EXPORT_FORMAT.into(),
            since: "0".into(),
            cursor: "1".into(),
            organization: "x".into(),
            recipients: vec![],
            cases: vec![ManifestCase {
                id: id.into(),
                objects: 0,
            }],
        };
        let bytes = ExportWriter::new(Vec::new(), &manifest)
            .unwrap()
            .finish()
            .unwrap();
        let run = open(&s, &bytes);
        assert!(
            run.failure().contains("bad case id"),
            "{id}: {}",
            run.stderr
        );
        assert_eq!(outputs(&s), Vec::<String>::new());
        assert!(!s.root.join("evil").exists());
    }
}

#[test]
fn an_existing_file_with_other_content_is_never_overwritten() {
    let s = setup();
    let file = binary(3000, 8);
    let bytes = bundle(&[one_case(&s, &file)], &[]);

    // An attachment already there with other bytes.
    let att = s.root.join("out/case-1/attachments/1-bukti.bin");
    fs::create_dir_all(att.parent().unwrap()).unwrap();
    fs::write(&att, b"the investigator's own file").unwrap();
    let run = open(&s, &bytes);
    assert_eq!(
        run.failure(),
        format!(
            "wbs-inspect: {} already exists with different content; refusing to overwrite it",
            att.display()
        )
    );
    assert_eq!(fs::read(&att).unwrap(), b"the investigator's own file");

    // The same for the report.
    fs::remove_file(&att).unwrap();
    let report_json = s.root.join("out/case-1/report.json");
    let other = serde_json::to_vec(&report("Another", &reporter(), vec![])).unwrap();
    fs::write(&report_json, &other).unwrap();
    assert!(open(&s, &bytes)
        .failure()
        .contains("report.json already exists with different content"));
    assert_eq!(fs::read(&report_json).unwrap(), other);
    assert!(!att.exists());

    // And a file there that is not a report at all.
    fs::write(&report_json, b"notes").unwrap();
    assert!(open(&s, &bytes)
        .failure()
        .contains("report.json is not a report written by wbs-inspect; refusing to touch it"));
    assert_eq!(fs::read(&report_json).unwrap(), b"notes");
}

#[test]
fn a_truncated_bundle_is_refused() {
    let s = setup();
    let bytes = bundle(&[one_case(&s, &binary(50_000, 3))], &[]);
    let cut = &bytes[..bytes.len() / 2];
    let run = open(&s, cut);
    assert!(run.failure().starts_with("wbs-inspect: "), "{}", run.stderr);
    assert!(!s.root.join("out/case-1/attachments/1-bukti.bin").exists());
}

#[cfg(unix)]
#[test]
fn a_link_planted_in_the_output_folder_is_not_followed() {
    let s = setup();
    let elsewhere = s.root.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::create_dir_all(s.root.join("out/case-1")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.root.join("out/case-1/attachments")).unwrap();
    let run = open(&s, &bundle(&[one_case(&s, b"data")], &[]));
    assert!(
        run.failure()
            .contains("attachments is in the way: it is a symbolic link"),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&elsewhere), Vec::<String>::new());
}

/// Renders `md` as a markdown viewer would and returns every link, image
/// and piece of HTML in it.
fn live_markup(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS;
    Parser::new_ext(md, options)
        .filter(|e| {
            matches!(
                e,
                Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::HtmlBlock)
                    | Event::Html(_)
                    | Event::InlineHtml(_)
                    | Event::FootnoteReference(_)
            )
        })
        .map(|e| format!("{e:?}"))
        .collect()
}

/// The text a markdown viewer shows for `md`.
fn rendered_text(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let mut text = String::new();
    for e in Parser::new_ext(md, Options::ENABLE_TABLES) {
        if let Event::Text(t) | Event::Code(t) = e {
            text.push_str(&t);
        }
    }
    text
}

#[test]
fn markdown_in_names_never_becomes_a_link_an_image_or_html() {
    let s = setup();
    let names = [
        "x`![](https://evil.example/pixel.png)`.pdf",
        "a``![](https://evil.example/2.png)``b",
        "[click](https://evil.example/c) <img src=https://evil.example/i.png>",
        "<https://evil.example/auto> https://evil.example/bare www.evil.example",
        "| cell | break |",
    ];
    let files: Vec<Vec<u8>> = (0..names.len()).map(|i| binary(50 + i, i as u8)).collect();
    let r = reporter();
    let mut metas: Vec<_> = names.iter().zip(&files).map(|(n, f)| meta(n, f)).collect();
    metas[0].media_type = "image/png`![](https://evil.example/m.png)`".into();
    let mut rep = report("`![](https://evil.example/t.png)` <b>t</b>", &r, metas);
    rep.category = "[c](https://evil.example/cat)".into();
    let mut case = CaseBuild::new(
        "case-1",
        &r,
        report_objects(&[s.identity.to_public()], &rep, &files),
    );
    // The server's date is not one, and tries markdown too.
    case.received_on = "![](https://evil.example/d.png)".into();
    open(&s, &bundle(&[case], &[])).success();

    let md = fs::read_to_string(s.root.join("out/case-1/report.md")).unwrap();
    assert_eq!(live_markup(&md), Vec::<String>::new(), "{md}");
    // The names are all there, shown as the reporter wrote them.
    let shown = rendered_text(&md);
    for name in names {
        assert!(shown.contains(name), "{name:?} not shown in:\n{shown}");
    }
    // What the server gave is labelled as such, and a date that is not one
    // is flagged rather than shown as a date.
    assert!(
        md.contains("| Received on (as the server reports / menurut server) | not a valid date: "),
        "{md}"
    );
    assert!(
        md.contains("## Status history (as the server reports / menurut server)"),
        "{md}"
    );
    assert!(
        md.contains("| Status (as the server reports / menurut server) | `received`"),
        "{md}"
    );
}
