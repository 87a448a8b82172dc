//! Reads the figures `cargo bench -p wbs-protocol` left in
//! `target/criterion/**/new/`, so the Markdown report carries them too.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One criterion benchmark's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriterionFigure {
    /// e.g. `envelope/encrypt/64MiB`.
    pub id: String,
    /// Mean time per iteration, nanoseconds.
    pub mean_ns: f64,
    /// Bytes per iteration, when the benchmark declared a throughput.
    pub bytes: Option<u64>,
}

/// Every figure under `dir` (normally `target/criterion`), sorted by id.
pub fn read(dir: &Path) -> Vec<CriterionFigure> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn walk(dir: &Path, out: &mut Vec<CriterionFigure>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(f) = figure(&path) {
                out.push(f);
            }
        } else if path
            .file_name()
            .is_some_and(|n| n != "report" && n != "base")
        {
            walk(&path, out);
        }
    }
}

fn figure(new_dir: &Path) -> Option<CriterionFigure> {
    let bench: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new_dir.join("benchmark.json")).ok()?).ok()?;
    let estimates: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new_dir.join("estimates.json")).ok()?).ok()?;
    Some(CriterionFigure {
        id: bench.get("full_id")?.as_str()?.to_string(),
        mean_ns: estimates.get("mean")?.get("point_estimate")?.as_f64()?,
        bytes: bench
            .get("throughput")
            .and_then(|t| t.get("Bytes"))
            .and_then(serde_json::Value::as_u64),
    })
}
