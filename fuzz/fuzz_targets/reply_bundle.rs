//! Reply bundles as the server's desk import reads them: a tar carried on
//! a USB stick. Never a panic; a bundle that reads back is one the writer
//! reproduces and reads again identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbs_protocol::bundle::{Limits, ReplyBundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = ReplyBundle::read(data, &Limits::REPLIES) {
        let written = bundle.write(Vec::new()).unwrap();
        let again = ReplyBundle::read(&written[..], &Limits::REPLIES).unwrap();
        assert_eq!(again, bundle);
    }
});
