//! A large blob goes in and comes out as a stream on both backends: the
//! process's peak resident memory grows by far less than the blob.
//!
//! A benchmark-style check, not a timed test. By default the blob is
//! 32 MiB, so the test suite stays quick; the 1 GiB check of issue 12 is
//!
//! ```text
//! WBS_BIG_BLOB_MIB=1024 cargo test --release -p wbs-store --test big_blob -- --nocapture
//! ```
//!
//! It prints the growth of the peak resident set (VmHWM, reset through
//! /proc/self/clear_refs before each phase) for each backend and fails
//! above [`BOUND_MIB`], or half the blob for a small one. One test in its
//! own binary, so no other test's memory counts.

mod common;

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use wbs_store::Store;

/// The most the peak resident set may grow while a blob is written and
/// read back, whatever its size.
const BOUND_MIB: u64 = 32;

/// Bytes that are cheap to make and differ along the blob: a fixed
/// block, with the number of the block in its first bytes.
struct Pattern {
    left: u64,
    block: Vec<u8>,
    n: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len())
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[..n]);
        let tag = self.n.to_be_bytes();
        let t = n.min(8);
        buf[..t].copy_from_slice(&tag[..t]);
        self.n += 1;
        self.left -= n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

/// Writes and reads back a blob of `size` bytes; returns the growth of the
/// peak resident set in KiB.
fn round_trip(store: &dyn Store, size: u64) -> u64 {
    let mut buf = vec![0u8; 256 * 1024];
    reset_peak();
    let before = peak_rss_kib();
    let started = std::time::Instant::now();

    let mut source = Pattern {
        left: size,
        block: (0..100_003u32).map(|i| (i % 251) as u8).collect(),
        n: 0,
    };
    let mut want = Sha256::new();
    let mut sink = store.blob_sink().unwrap();
    loop {
        let n = source.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        want.update(&buf[..n]);
        sink.write_all(&buf[..n]).unwrap();
    }
    let staged = sink.finish().unwrap();
    let want: [u8; 32] = want.finalize().into();
    assert_eq!((staged.size, staged.sha256), (size, want));
    let wrote = started.elapsed();

    let mut got = Sha256::new();
    let mut read = 0u64;
    let mut reader = store.open_blob(&staged.id).unwrap();
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.update(&buf[..n]);
        read += n as u64;
    }
    assert_eq!(read, size);
    assert_eq!(<[u8; 32]>::from(got.finalize()), want);
    store.discard_blob(staged).unwrap();
    let grew = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "{} MiB: written in {:.1?}, read back in {:.1?}; peak RSS grew by {} KiB",
        size >> 20,
        wrote,
        started.elapsed() - wrote,
        grew
    );
    grew
}

#[test]
fn a_large_blob_streams_through_both_backends_in_bounded_memory() {
    let mib: u64 = std::env::var("WBS_BIG_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let size = mib << 20;
    let bound_kib = (BOUND_MIB * 1024).min(size / 2 / 1024);
    for (name, fx) in [
        ("sled", common::Fx::new_sled()),
        ("postgres", common::Fx::new_postgres()),
    ] {
        eprint!("{name}: ");
        let grew = round_trip(&*fx, size);
        assert!(
            grew < bound_kib,
            "{name}: peak RSS grew by {grew} KiB for a {mib} MiB blob"
        );
    }
}
