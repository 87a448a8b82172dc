//! Issue 13, end to end with the real binaries: a phone photo with a GPS
//! position and a camera model, submitted with `wbs-report`, pulled and
//! opened, arrives without them (as `exiftool`, a tool nobody here wrote,
//! reads it), and the case's report says what was removed; with
//! `--keep-metadata` it arrives byte for byte as it was; a photo that
//! cannot be read safely is refused, not sent as clean.

use std::path::{Path, PathBuf};
use std::process::Command;

use wbs_e2e::{files_under, run_fail, run_ok, ServerOptions, TestServer};

/// A JPEG's structure (tables, a frame, one scan), enough for exiftool to
/// write into and for WBS to parse; the picture itself does not matter here
/// (crates/wbs-scrub/tests/corpus.rs decodes real ones).
fn jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(b"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1u8; 64]);
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x00, 1]);
    j.extend_from_slice(&[0u8; 15]);
    j.push(0);
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    j.extend_from_slice(&[0x00, 0x12, 0xFF, 0x00, 0x34]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

fn exiftool_json(file: &Path) -> String {
    let out = Command::new("exiftool")
        .args(["-j", "-a", "-G1"])
        .arg(file)
        .output()
        .expect("exiftool (Debian: libimage-exiftool-perl) must be installed");
    String::from_utf8(out.stdout).unwrap()
}

fn phone_photo(dir: &Path) -> PathBuf {
    let photo = dir.join("IMG_20230405_101112.jpg");
    std::fs::write(&photo, jpeg()).unwrap();
    let out = Command::new("exiftool")
        .args([
            "-overwrite_original",
            "-Make=Samsung",
            "-Model=SM-A525F",
            "-GPSLatitude=6.2",
            "-GPSLatitudeRef=S",
            "-GPSLongitude=106.8",
            "-GPSLongitudeRef=E",
            "-Artist=Budi Santoso",
        ])
        .arg(&photo)
        .output()
        .expect("exiftool must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tags = exiftool_json(&photo);
    assert!(
        tags.contains("GPSLatitude") && tags.contains("SM-A525F"),
        "{tags}"
    );
    photo
}

/// Submits with `extra` flags, pulls, opens; the opened case folder.
fn submit_pull_open(server: &TestServer, w: &Path, photo: &Path, extra: &[&str]) -> PathBuf {
    std::fs::write(w.join("laporan.txt"), "Foto kuitansi terlampir.").unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(w.join("laporan.txt"))
            .arg("--attach")
            .arg(photo)
            .args(extra),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("posisi GPS / GPS position"), "{stderr}");
    assert!(
        stderr.contains("kamera / camera: Samsung SM-A525F"),
        "{stderr}"
    );
    assert!(stderr.contains("pemilik / owner: Budi Santoso"), "{stderr}");
    let export = w.join("export.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );
    let cases = w.join("cases");
    run_ok(
        server
            .cli("wbs-inspect", "open")
            .arg(&export)
            .arg("--identity")
            .arg(&server.keys[0].identity_file)
            .arg("--out")
            .arg(&cases),
    );
    let dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1);
    dirs.into_iter().next().unwrap()
}

fn attachment(case: &Path) -> PathBuf {
    files_under(case)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "jpg"))
        .unwrap_or_else(|| panic!("no attachment under {}", case.display()))
}

fn table_row(md: &str) -> String {
    md.lines()
        .find(|l| l.starts_with("| 1 |"))
        .unwrap_or_else(|| panic!("no attachment row in {md}"))
        .to_string()
}

#[test]
fn a_photo_arrives_without_its_gps_position_and_the_report_says_so() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let photo = phone_photo(w);
    let case = submit_pull_open(&server, w, &photo, &["--neutral-names"]);

    let arrived = attachment(&case);
    assert!(
        arrived.to_string_lossy().ends_with("lampiran-1.jpg"),
        "{}",
        arrived.display()
    );
    let tags = exiftool_json(&arrived);
    for gone in ["GPS", "Samsung", "SM-A525F", "Budi"] {
        assert!(!tags.contains(gone), "{gone} arrived: {tags}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("report.json")).unwrap()).unwrap();
    let meta = &report["attachments"][0];
    assert_eq!(meta["name"], "lampiran-1.jpg");
    assert_eq!(meta["metadata"]["checked"], true);
    let removed: Vec<&str> = meta["metadata"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        removed.contains(&"gps") && removed.contains(&"camera") && removed.contains(&"owner"),
        "{removed:?}"
    );
    // The values themselves never reach the inspectorate's report.
    let json = std::fs::read_to_string(case.join("report.json")).unwrap();
    assert!(
        !json.contains("Samsung") && !json.contains("IMG_2023"),
        "{json}"
    );
    // Size and digest describe the cleaned bytes that arrived.
    let bytes = std::fs::read(&arrived).unwrap();
    assert_eq!(meta["size"], bytes.len() as u64);
    let md = std::fs::read_to_string(case.join("report.md")).unwrap();
    let row = table_row(&md);
    assert!(
        row.contains("removed: gps, camera") && row.contains("owner"),
        "{row}"
    );
}

#[test]
fn with_keep_metadata_the_photo_arrives_byte_for_byte() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let photo = phone_photo(w);
    let original = std::fs::read(&photo).unwrap();
    let case = submit_pull_open(&server, w, &photo, &["--keep-metadata"]);
    assert_eq!(std::fs::read(attachment(&case)).unwrap(), original);
    let md = std::fs::read_to_string(case.join("report.md")).unwrap();
    assert!(
        table_row(&md).contains("kept by the reporter: gps, camera"),
        "{md}"
    );
}

#[test]
fn a_photo_that_cannot_be_read_safely_is_refused_unless_chosen() {
    let server = TestServer::start(ServerOptions {
        pow_difficulty: 8,
        ..Default::default()
    });
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let photo = phone_photo(w);
    let mut bytes = std::fs::read(&photo).unwrap();
    bytes.truncate(bytes.len() - 6);
    std::fs::write(&photo, &bytes).unwrap();
    std::fs::write(w.join("laporan.txt"), "Foto terlampir.").unwrap();
    let submit = || {
        let mut cmd = server.cli("wbs-report", "submit");
        cmd.arg("--message")
            .arg(w.join("laporan.txt"))
            .arg("--attach")
            .arg(&photo);
        cmd
    };
    let out = run_fail(&mut submit());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be read safely") && stderr.contains("--send-unchecked"),
        "{stderr}"
    );
    // Refused before anything was encrypted or sent.
    assert!(
        !stderr.contains("uploading") && !stderr.contains("encrypting"),
        "{stderr}"
    );
    // Chosen explicitly: sent unchanged, and marked unchecked.
    run_ok(submit().arg("--send-unchecked"));
}
