//! The command line. scripts/bench.sh is the normal way to run this.

use std::path::PathBuf;

use clap::Parser;

/// Runs the WBS benchmark suite against real processes on 127.0.0.1 and
/// writes the figures as JSON (and, if asked, as Markdown).
#[derive(Debug, Parser)]
#[command(name = "wbs-bench", version, about, long_about = None)]
pub struct Cli {
    /// Tiny sizes (1 MiB attachment, 50 cases, 1 s load runs): proves the
    /// suite works, measures nothing worth keeping.
    #[arg(long)]
    pub smoke: bool,
    /// Folder with the release builds of wbs-server and wbs-inspect.
    #[arg(long, value_name = "DIR", default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// The age CLI to compare wbs-inspect with.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/age")]
    pub age: PathBuf,
    /// Scratch folder, on the disk to measure; emptied first, removed after.
    #[arg(long, value_name = "DIR", default_value = "target/bench-work")]
    pub work: PathBuf,
    /// Where the results go, as JSON.
    #[arg(long, value_name = "FILE")]
    pub results: PathBuf,
    /// Also write the Markdown report here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Hand-written notes appended to the Markdown report.
    #[arg(long, value_name = "FILE", default_value = "bench/HISTORY.md")]
    pub history: PathBuf,
    /// Measure nothing: read --results and write --markdown from it again
    /// (after editing bench/HISTORY.md, say).
    #[arg(long, requires = "markdown")]
    pub render_only: bool,
    /// Keep the work folder (bundles, opened cases) for profiling; the
    /// next run empties it.
    #[arg(long)]
    pub keep: bool,
    /// Keep the store in this PostgreSQL database (which must hold no WBS
    /// store yet) instead of sled; run one scenario per database (`--only`).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Run only these scenarios (for profiling): traffic, large, many.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Override the number of small cases of the `many` scenario.
    #[arg(long, value_name = "N")]
    pub cases: Option<usize>,
    /// Override the attachment size of the `large` scenario, MiB.
    #[arg(long, value_name = "MIB")]
    pub attachment_mib: Option<u64>,
    /// Run the scenarios in a post-quantum deployment: an `age1pq1…`
    /// inspectorate key, 28-symbol receipt codes and post-quantum reply
    /// recipients (the figures set beside the classic ones).
    #[arg(long)]
    pub pq: bool,
    /// Criterion's output folder, to include its figures.
    #[arg(long, value_name = "DIR", default_value = "target/criterion")]
    pub criterion: PathBuf,
}
