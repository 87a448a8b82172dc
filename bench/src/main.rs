//! `wbs-bench`: the WBS benchmark suite (issue "Benchmarks: fast, and flat
//! in memory, at every size").
//!
//! It starts the real `wbs-server` release binary on 127.0.0.1 for each
//! scenario, drives it with a load generator bounded in time and in count,
//! runs `wbs-inspect` and the `age` CLI on what it exported, and writes
//! every figure to a JSON file and, if asked, to docs/BENCHMARKS.md.
//! `scripts/bench.sh` builds everything and runs it.
//!
//! It must never send anything anywhere but 127.0.0.1, and never run as
//! part of `cargo test`: it is a program, run on purpose.
#![forbid(unsafe_code)]

mod cli;
mod criterion;
mod error;
mod http;
mod load;
mod machine;
mod payload;
mod report;
mod results;
mod server;
mod suite;
mod tools;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{Context, Error, Result};
use crate::results::{check_targets, Results};
use crate::suite::{say, Bins, Sizes};

/// `--render-only`: the Markdown report again, from an earlier run's results.
fn render(cli: &cli::Cli) -> Result<bool> {
    let json = std::fs::read(&cli.results).context(format!("reading {}", cli.results.display()))?;
    let mut results: Results = serde_json::from_slice(&json)
        .map_err(|e| Error(format!("{}: {e}", cli.results.display())))?;
    results.targets = check_targets(&results);
    let history = std::fs::read_to_string(&cli.history).ok();
    let md = cli.markdown.as_ref().expect("clap requires --markdown");
    std::fs::write(md, report::markdown(&results, history.as_deref()))
        .context(format!("writing {}", md.display()))?;
    Ok(results.targets.iter().all(|t| t.met))
}

fn run(cli: &cli::Cli) -> Result<bool> {
    if cli.render_only {
        return render(cli);
    }
    let mut sizes = if cli.smoke {
        Sizes::smoke()
    } else {
        Sizes::full()
    };
    if let Some(n) = cli.cases {
        sizes.cases = n;
    }
    if let Some(m) = cli.attachment_mib {
        sizes.attachment = m << 20;
    }
    for name in &cli.only {
        if !["traffic", "large", "many", "instances"].contains(&name.as_str()) {
            return Err(Error(format!("--only: no scenario named {name:?}")));
        }
    }
    let wanted = |name: &str| cli.only.is_empty() || cli.only.iter().any(|n| n == name);
    let bins = Bins {
        server: cli.bin_dir.join("wbs-server"),
        inspect: cli.bin_dir.join("wbs-inspect"),
        age: cli.age.clone(),
        // Built by full runs of scripts/bench.sh only (a stale copy must
        // not break a smoke run).
        workbench: Some(cli.bin_dir.join("examples").join("import_bench"))
            .filter(|p| !cli.smoke && p.is_file()),
    };
    for b in [&bins.server, &bins.inspect, &bins.age] {
        if !b.is_file() {
            return Err(Error(format!(
                "{} is missing (build with `cargo build --release`, install Debian's `age`)",
                b.display()
            )));
        }
    }
    suite::KEEP.store(cli.keep, std::sync::atomic::Ordering::Relaxed);
    if let Some(url) = &cli.database {
        if cli.only.len() != 1 {
            return Err(Error(
                "--database: run one scenario per database (--only NAME)".into(),
            ));
        }
        let _ = server::DATABASE.set(url.clone());
    }
    // A fresh folder per run. Whatever earlier runs left is removed only
    // at the end (see `suite::remove_dir` for why not now).
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let run_dir = cli.work.join(format!("run-{stamp}"));
    std::fs::create_dir_all(&run_dir).context(format!("creating {}", run_dir.display()))?;
    let work = run_dir.canonicalize()?;
    let machine = machine::describe(&work);
    say(format!(
        "{}{} run on {} ({} cores), 1-min load average {:.2}",
        if cli.smoke { "smoke" } else { "full" },
        if cli.pq { " post-quantum" } else { "" },
        machine.cpu,
        machine.cores,
        machine::load_average()
    ));
    let key = payload::InspectorKey::create(&work, cli.pq)?;

    let traffic = if wanted("traffic") {
        suite::traffic::run(&bins, &work, &key, &sizes)?
    } else {
        Default::default()
    };
    let large = if wanted("large") {
        suite::large::run(&bins, &work, &key, &sizes)?
    } else {
        Default::default()
    };
    // Only when asked for by name, and only on a database.
    if cli.only.iter().any(|n| n == "instances") {
        suite::instances::run(&bins, &work, &key, &sizes)?;
    }
    let many = if wanted("many") {
        suite::many::run(&bins, &work, &key, &sizes)?
    } else {
        Default::default()
    };
    if !cli.keep {
        let _ = std::fs::remove_dir_all(&cli.work);
    }

    let mut results = Results {
        mode: match (cli.smoke, cli.pq) {
            (true, false) => "smoke",
            (false, false) => "full",
            (true, true) => "smoke, post-quantum",
            (false, true) => "full, post-quantum",
        }
        .into(),
        machine,
        criterion: criterion::read(&cli.criterion),
        traffic,
        large,
        many,
        targets: Vec::new(),
    };
    results.targets = check_targets(&results);
    let json = serde_json::to_vec_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&cli.results, json).context(format!("writing {}", cli.results.display()))?;
    if let Some(md) = &cli.markdown {
        let history = std::fs::read_to_string(&cli.history).ok();
        std::fs::write(md, report::markdown(&results, history.as_deref()))
            .context(format!("writing {}", md.display()))?;
    }
    println!("targets ({}):", results.mode);
    for t in &results.targets {
        println!(
            "  {:<7} {}: {} (target {})",
            if t.met { "met" } else { "MISSED" },
            t.what,
            t.measured,
            t.target
        );
    }
    Ok(results.targets.iter().all(|t| t.met))
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(&cli) {
        // Missed targets are findings, written in the report, not failures
        // of the suite.
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wbs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
