//! A reporter's attachment, as wbs-report cleans it before encryption
//! (crates/wbs-scrub): any bytes. Cleaning must never panic nor run away,
//! and what it calls clean must read as clean again: nothing more found,
//! and (for the formats rewritten in place) no further change.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbs_scrub::{scrub, Format, Outcome};

fuzz_target!(|data: &[u8]| {
    if let Outcome::Cleaned(first) = scrub(data) {
        match scrub(&first.bytes) {
            Outcome::Cleaned(again) => {
                assert!(again.found.is_empty(), "found again: {:?}", again.found);
                if !matches!(first.format, Format::Ooxml | Format::Odf) {
                    assert!(
                        again.bytes == first.bytes,
                        "cleaning twice changed the file"
                    );
                }
            }
            other => panic!("a cleaned {:?} file does not read: {other:?}", first.format),
        }
    }
});
