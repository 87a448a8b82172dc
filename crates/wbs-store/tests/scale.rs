//! Listing stays fast with many cases: one scan of the case records, no
//! blob I/O.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use wbs_store::{MetaStore, SledStore};

const CASES: u32 = 10_000;

#[test]
fn listing_ten_thousand_cases_is_fast_and_reads_no_blob() {
    // Every create_case fsyncs several times; on a memory file system that
    // costs nothing, so 10,000 cases take seconds instead of a minute.
    // Listing does no fsync, so what is measured is the same.
    let dir = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let data = data(&dir);
    let started = Instant::now();
    {
        let store = SledStore::create_or_open(&data).unwrap();
        for n in 0..CASES {
            new_case(&store, n, 0);
        }
    }
    eprintln!("created {CASES} cases in {:?}", started.elapsed());
    // Take the blobs away: listing must not need them.
    std::fs::rename(data.join("blobs"), dir.path().join("blobs-aside")).unwrap();
    std::fs::create_dir(data.join("blobs")).unwrap();
    let store = SledStore::open(&data).unwrap();
    assert_eq!(store.missing_blobs().len(), CASES as usize);

    let started = Instant::now();
    let cases = store.all_cases().unwrap();
    let took = started.elapsed();
    eprintln!("listed {} cases in {took:?}", cases.len());
    assert_eq!(cases.len(), CASES as usize);
    assert!(cases.windows(2).all(|w| w[0].first_seq < w[1].first_seq));
    // Generous for a debug build on a slow CI machine; a per-case blob read
    // or per-case index lookup would still blow well past it.
    assert!(took < Duration::from_secs(2), "list_cases took {took:?}");
}
