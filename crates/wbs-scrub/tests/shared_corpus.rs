//! The shared corpus (tests/shared-corpus/): files made once by
//! `shared-corpus/make.sh` with exiftool, read by this crate and by the
//! browser's port (web/src/lib/scrub.js, web/test/scrub.test.js) against the
//! same `expected.json`: both must find the same kinds of fields in each
//! file, and give the same outcome.

use std::io::Cursor;
use std::path::PathBuf;

use wbs_scrub::{scrub, Outcome};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/shared-corpus")
}

/// `{"outcome": "cleaned", "removed": [...]}`, `{"outcome": "unchecked"}`
/// or `{"outcome": "refused"}`: what the browser test compares too.
fn summary(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Cleaned(c) => {
            serde_json::json!({"outcome": "cleaned", "removed": c.removed_codes()})
        }
        Outcome::NotChecked => serde_json::json!({"outcome": "unchecked"}),
        Outcome::Refused { .. } => serde_json::json!({"outcome": "refused"}),
    }
}

#[test]
fn the_shared_corpus_gives_the_expected_findings() {
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 10, "the corpus is too small");
    let mut wrong = Vec::new();
    for (name, want) in &expected {
        let bytes = std::fs::read(dir().join("files").join(name)).unwrap();
        let started = std::time::Instant::now();
        let got = summary(&scrub(&bytes));
        assert!(started.elapsed().as_secs() < 10, "{name} took too long");
        if &got != want {
            wrong.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Writes the bare pictures `make.sh` starts from (there is no image
/// encoder on the command line here): `cargo test -p wbs-scrub --test
/// shared_corpus -- --ignored --exact write_base_pictures`.
#[test]
#[ignore]
fn write_base_pictures() {
    let out = dir().join("base");
    std::fs::create_dir_all(&out).unwrap();
    let picture = image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(x * 10) as u8, (y * 15) as u8, 128])
    });
    for (format, name) in [
        (image::ImageFormat::Jpeg, "base.jpg"),
        (image::ImageFormat::Png, "base.png"),
        (image::ImageFormat::WebP, "base.webp"),
    ] {
        let mut bytes = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        std::fs::write(out.join(name), bytes).unwrap();
    }
}
