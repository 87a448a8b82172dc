//! What the file system records about arrival times: blob files keep only
//! the day in `mtime`/`atime`, and a sweep moves their `ctime` together.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use wbs_store::{BlobStore, MetaStore};

/// `ctime` in nanoseconds since the epoch.
fn ctime_ns(path: &Path) -> i128 {
    let m = std::fs::metadata(path).unwrap();
    i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec())
}

fn mtime_s(path: &Path) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

#[test]
fn a_sweep_moves_the_ctimes_of_recent_blobs_together_and_dirs_back_to_midnight() {
    let (dir, store) = fresh();
    let data = data(&dir);
    // Three cases written 300 ms apart: their ctimes tell the order and
    // the moments apart.
    let mut blobs = Vec::new();
    for n in 0..3 {
        let case = new_case(&store, n, 1);
        for o in store.objects_of_case(&case.id).unwrap() {
            blobs.push(blob_path(&data, &o.blob));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let before: Vec<i128> = blobs.iter().map(|p| ctime_ns(p)).collect();
    let spread_before = before.iter().max().unwrap() - before.iter().min().unwrap();
    assert!(spread_before >= 500_000_000, "the writes were apart");

    let sweep_start = now_ns();
    let touched = store.blur_file_times().unwrap();
    let sweep_end = now_ns();
    assert_eq!(touched, blobs.len());
    let after: Vec<i128> = blobs.iter().map(|p| ctime_ns(p)).collect();
    // The file system's clock is coarser than the ns clock: allow a tick.
    let tick = 20_000_000;
    for (path, t) in blobs.iter().zip(&after) {
        assert!(
            *t >= sweep_start - tick && *t <= sweep_end + tick,
            "{} was not swept",
            path.display()
        );
        // Content times stay at midnight.
        assert_eq!(mtime_s(path) % 86_400, 0, "{}", path.display());
    }
    let spread_after = after.iter().max().unwrap() - after.iter().min().unwrap();
    assert!(
        spread_after <= sweep_end - sweep_start + tick,
        "after the sweep the ctimes differ only by the sweep's own length"
    );
    // The directories that say when the last file came and went are back
    // at midnight too.
    for d in [data.join("blobs"), data.join("tmp")]
        .into_iter()
        .chain(blobs.iter().map(|p| p.parent().unwrap().to_path_buf()))
    {
        assert_eq!(mtime_s(&d) % 86_400, 0, "{}", d.display());
    }
    // The blobs still read back.
    for o in store.all_objects_since(0).unwrap() {
        assert_eq!(read_blob(&store, &o.blob).len() as u64, o.size);
    }
}

#[test]
fn a_sweep_leaves_old_blobs_and_an_empty_store_alone() {
    let (dir, store) = fresh();
    assert_eq!(store.blur_file_times().unwrap(), 0);
    let case = new_case(&store, 1, 0);
    let object = &store.objects_of_case(&case.id).unwrap()[0];
    let path = blob_path(&data(&dir), &object.blob);
    // A blob from long ago (as its midnight mtime would say).
    let long_ago = std::time::UNIX_EPOCH + Duration::from_secs(19_000 * 86_400);
    std::fs::File::open(&path)
        .unwrap()
        .set_times(
            std::fs::FileTimes::new()
                .set_modified(long_ago)
                .set_accessed(long_ago),
        )
        .unwrap();
    let ctime = ctime_ns(&path);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(store.blur_file_times().unwrap(), 0);
    assert_eq!(ctime_ns(&path), ctime, "an old blob is not touched");
}

/// Reading a blob (an export, a reply fetched by a reporter) leaves its
/// access time at midnight: the moment of the read is not recorded.
#[test]
fn reading_a_blob_does_not_date_the_read() {
    let (dir, store) = fresh();
    let case = new_case(&store, 1, 0);
    let object = &store.objects_of_case(&case.id).unwrap()[0];
    let path = blob_path(&data(&dir), &object.blob);
    let atime = |p: &Path| std::fs::metadata(p).unwrap().atime();
    assert_eq!(atime(&path) % 86_400, 0);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(read_blob(&store, &object.blob), b"report 1");
    assert_eq!(atime(&path) % 86_400, 0, "the read set the access time");
}

/// A stored blob's file times say the day, never the time of day.
#[test]
fn blob_files_carry_only_the_day_in_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = wbs_store::SledStore::create_or_open(&data(&dir)).unwrap();
    let mut sink = BlobStore::blob_sink(&store).unwrap();
    std::io::Write::write_all(&mut sink, b"opaque bytes").unwrap();
    let staged = sink.finish().unwrap();
    let path = blob_path(&data(&dir), &staged.id);
    let meta = std::fs::metadata(&path).unwrap();
    for t in [meta.modified().unwrap(), meta.accessed().unwrap()] {
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs % 86_400, 0, "{path:?} has a time of day");
    }
}
