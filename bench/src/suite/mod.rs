//! The scenarios, each against its own fresh server:
//!
//! - [`traffic`]: small durable submissions and status look-ups at 1, 8
//!   and 32 clients.
//! - [`large`]: one large attachment: ingest next to `dd`, export, then
//!   `wbs-inspect open` next to `age -d`.
//! - [`many`]: many small cases: create, export, `wbs-inspect open`.
//! - [`instances`] (`--database` only): durable submissions at 32 clients
//!   on one instance, then on two instances sharing the database.

pub mod instances;
pub mod large;
pub mod many;
pub mod traffic;

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use crate::http::{request_head, Connection};

/// How big a run is.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Client counts of the load runs.
    pub clients: Vec<usize>,
    /// Client counts also run with reqwest, for comparison.
    pub reqwest_clients: Vec<usize>,
    /// Warm-up of each load run.
    pub warmup: Duration,
    /// Measured window of each load run.
    pub duration: Duration,
    /// Most requests of one load run.
    pub max_requests: u64,
    /// Plaintext size of the large attachment.
    pub attachment: u64,
    /// Runs of each large-attachment step (and of its baseline).
    pub rounds: usize,
    /// Number of small cases.
    pub cases: usize,
}

impl Sizes {
    /// The measured suite.
    pub fn full() -> Sizes {
        Sizes {
            clients: vec![1, 8, 32],
            reqwest_clients: vec![1, 8, 32],
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            max_requests: 1_000_000,
            attachment: 1 << 30,
            rounds: 3,
            cases: 10_000,
        }
    }

    /// Tiny sizes that prove the suite still works.
    pub fn smoke() -> Sizes {
        Sizes {
            clients: vec![1, 8, 32],
            reqwest_clients: vec![8],
            warmup: Duration::from_millis(200),
            duration: Duration::from_secs(1),
            max_requests: 50_000,
            attachment: 1 << 20,
            rounds: 1,
            cases: 50,
        }
    }
}

/// The binaries under test.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `wbs-server`.
    pub server: PathBuf,
    /// `wbs-inspect`.
    pub inspect: PathBuf,
    /// `age`.
    pub age: PathBuf,
    /// The workbench's import, headless (`wbs-workbench`'s example
    /// `import_bench`), if it was built.
    pub workbench: Option<PathBuf>,
}

/// Downloads the full export bundle (`since` 0) into `out`; returns
/// seconds and bytes.
pub fn download_export(addr: SocketAddr, token: &str, out: &Path) -> Result<(f64, u64)> {
    let auth = format!("Bearer {token}");
    let request = request_head(
        "GET",
        "/api/v1/desk/export",
        &addr,
        &[("Authorization", &auth)],
        0,
    );
    let mut conn = Connection::new(addr, Duration::from_secs(600));
    let mut file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let started = Instant::now();
    let response = conn.send_to(&request, &mut file).context("export")?;
    let seconds = started.elapsed().as_secs_f64();
    if response.status != 200 {
        return Err(Error(format!("export answered {}", response.status)));
    }
    file.into_inner().map_err(|e| e.into_error())?;
    Ok((seconds, response.body_len))
}

/// Case folders `wbs-inspect open` made under `dir` (those with a report).
pub fn opened_cases(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("report.json").is_file())
                .count()
        })
        .unwrap_or(0)
}

/// Set by `--keep`: leave bundles and outputs behind for profiling.
pub static KEEP: AtomicBool = AtomicBool::new(false);

/// Removes a folder of a few large files if it is there (unless `--keep`).
///
/// Folders of many small files stay until the whole run is over: on ext4
/// without a journal (as on the machine these figures come from), the
/// inode allocator skips inodes freed in the last few minutes, one by one,
/// so creating files right after deleting thousands slows to a crawl and
/// the next scenario would measure that instead of WBS.
pub fn remove_dir(dir: &Path) {
    if !KEEP.load(Ordering::Relaxed) && dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Prints a progress line (to stderr, so stdout stays the summary).
pub fn say(msg: impl AsRef<str>) {
    eprintln!("[wbs-bench] {}", msg.as_ref());
}
