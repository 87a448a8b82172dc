//! Everything a run measured, as one JSON document (`results.json`), and
//! the targets of the issue checked against it.
//!
//! The chart script (scripts/bench_chart.py) and the Markdown report both
//! read this, so the figures in docs/ always come from one run.

use serde::{Deserialize, Serialize};

use crate::criterion::CriterionFigure;
use crate::load::{ClientKind, LoadStats};
use crate::machine::Machine;
use crate::server::Memory;
use crate::tools::ToolRun;

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// `full` or `smoke`.
    pub mode: String,
    /// Where it ran.
    pub machine: Machine,
    /// Criterion figures of wbs-protocol's hot paths.
    pub criterion: Vec<CriterionFigure>,
    /// Small submissions and status look-ups.
    pub traffic: Traffic,
    /// One large attachment: ingest, export, open.
    pub large: Large,
    /// Many small cases: create, export, open.
    pub many: Many,
    /// The targets, checked.
    pub targets: Vec<TargetCheck>,
}

/// Small submissions and status look-ups under concurrency.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Traffic {
    /// Plaintext bytes of each report.
    pub report_bytes: usize,
    /// Encrypted bytes of each report (what is uploaded).
    pub sealed_bytes: usize,
    /// `POST /api/v1/submissions` runs.
    pub submissions: Vec<LoadStats>,
    /// `POST /api/v1/status` runs.
    pub status: Vec<LoadStats>,
    /// Cases stored when the status runs started.
    pub cases_for_status: usize,
    /// Server memory over the whole scenario.
    pub server_memory: Memory,
    /// 1-minute load average when the scenario started and ended.
    pub load_avg: (f64, f64),
}

/// How many times the resumable upload of the large scenario breaks.
pub const RESUMABLE_BREAKS: u64 = 3;

/// One large attachment. Each step runs several times (alternating with
/// its baseline, so both see the same machine); the figures are medians.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Large {
    /// Plaintext size of the attachment.
    pub attachment_bytes: u64,
    /// Its encrypted size (the object stored, exported and decrypted).
    pub object_bytes: u64,
    /// `dd … conv=fsync` of the object, seconds, each run.
    pub dd_seconds: Vec<f64>,
    /// Upload to 201, seconds, each run.
    pub ingest_seconds: Vec<f64>,
    /// Server memory during the ingests: the highest peak.
    pub ingest_memory: Memory,
    /// The same object through a resumable upload whose connection breaks
    /// [`RESUMABLE_BREAKS`] times, resumed after `HEAD`, then named by a
    /// submission: seconds to its 201, each run.
    #[serde(default)]
    pub resumable_seconds: Vec<f64>,
    /// Server memory during the resumable uploads: the highest peak.
    #[serde(default)]
    pub resumable_memory: Memory,
    /// Export bundle download, seconds.
    pub export_seconds: f64,
    /// Export bundle size.
    pub export_bytes: u64,
    /// Server memory during the export.
    pub export_memory: Memory,
    /// `wbs-inspect open` of the bundle, each run.
    pub inspect: Vec<ToolRun>,
    /// `age -d -i KEY -o FILE OBJECT`, each run.
    pub age: Vec<ToolRun>,
    /// The workbench importing the bundle (headless), each run.
    #[serde(default)]
    pub workbench: Vec<ToolRun>,
    /// `sync FILE` of age's output after each run, seconds.
    pub age_fsync_seconds: Vec<f64>,
    /// 1-minute load average when the scenario started and ended.
    pub load_avg: (f64, f64),
}

/// The median of some figures (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Large {
    /// MiB/s of a run over the object.
    pub fn mib_s(&self, seconds: f64) -> f64 {
        mib(self.object_bytes) / seconds.max(1e-9)
    }

    /// The plain copy: median seconds.
    pub fn dd(&self) -> f64 {
        median(&self.dd_seconds)
    }

    /// The upload: median seconds.
    pub fn ingest(&self) -> f64 {
        median(&self.ingest_seconds)
    }

    /// The resumed upload: median seconds.
    pub fn resumable(&self) -> f64 {
        median(&self.resumable_seconds)
    }

    /// `wbs-inspect open`: median seconds.
    pub fn inspect(&self) -> f64 {
        median(&self.inspect.iter().map(|r| r.seconds).collect::<Vec<_>>())
    }

    /// `wbs-inspect open`: the highest peak memory, KiB.
    pub fn inspect_peak_kib(&self) -> u64 {
        self.inspect.iter().map(|r| r.peak_kib).max().unwrap_or(0)
    }

    /// The workbench's import: the highest peak memory, KiB.
    pub fn workbench_peak_kib(&self) -> u64 {
        self.workbench.iter().map(|r| r.peak_kib).max().unwrap_or(0)
    }

    /// age's time to a file on disk, fsync included (wbs-inspect fsyncs
    /// every file it writes, so this is the like-for-like figure): median
    /// seconds.
    pub fn age_with_fsync(&self) -> f64 {
        let runs: Vec<f64> = self
            .age
            .iter()
            .zip(&self.age_fsync_seconds)
            .map(|(a, f)| a.seconds + f)
            .collect();
        median(&runs)
    }

    /// age's time without the fsync: median seconds.
    pub fn age_alone(&self) -> f64 {
        median(&self.age.iter().map(|r| r.seconds).collect::<Vec<_>>())
    }

    /// age: the highest peak memory, KiB.
    pub fn age_peak_kib(&self) -> u64 {
        self.age.iter().map(|r| r.peak_kib).max().unwrap_or(0)
    }
}

/// Many small cases.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Many {
    /// Cases.
    pub cases: usize,
    /// Creating them (32 clients), seconds.
    pub create: Option<LoadStats>,
    /// Server memory once the cases were stored, before the export.
    pub stored_memory: Memory,
    /// Export bundle download, seconds.
    pub export_seconds: f64,
    /// Export bundle size.
    pub export_bytes: u64,
    /// Server memory during the export.
    pub export_memory: Memory,
    /// `wbs-inspect open` of the bundle.
    pub inspect: ToolRun,
    /// 1-minute load average when the scenario started and ended.
    pub load_avg: (f64, f64),
}

/// A target and how the run did against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetCheck {
    /// What is measured.
    pub what: String,
    /// The target, as text (`≥ 1,000/s`).
    pub target: String,
    /// The figure, as text.
    pub measured: String,
    /// measured ÷ target.
    pub ratio: f64,
    /// Whether the target is met.
    pub met: bool,
}

/// Bytes to MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// KiB to MiB.
pub fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn at_least(what: &str, measured: f64, target: f64, unit: &str) -> TargetCheck {
    TargetCheck {
        what: what.into(),
        target: format!("≥ {} {unit}", fmt_num(target)),
        measured: format!("{} {unit}", fmt_num(measured)),
        ratio: measured / target,
        met: measured >= target,
    }
}

fn at_most(what: &str, measured: f64, target: f64, unit: &str) -> TargetCheck {
    TargetCheck {
        what: what.into(),
        target: format!("≤ {} {unit}", fmt_num(target)),
        measured: format!("{} {unit}", fmt_num(measured)),
        ratio: measured / target,
        met: measured <= target,
    }
}

/// A number with a sensible precision and thousands separators.
pub fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{:.0}", v);
        let digits: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(*c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A count with thousands separators.
pub fn fmt_int(n: u64) -> String {
    if n >= 1000 {
        fmt_num(n as f64)
    } else {
        n.to_string()
    }
}

fn at_clients(runs: &[LoadStats], clients: usize) -> Option<&LoadStats> {
    runs.iter()
        .find(|r| r.clients == clients && r.client == ClientKind::Raw)
}

/// The targets (for a 2-core machine), checked.
pub fn check_targets(r: &Results) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let top = r.traffic.submissions.iter().map(|s| s.clients).max();
    if let Some(s) = top.and_then(|c| at_clients(&r.traffic.submissions, c)) {
        let label = format!("durable submissions at {} clients", s.clients);
        out.push(at_least(&label, s.per_second, 1000.0, "/s"));
        out.push(at_most(
            &format!("{label}: p99 latency"),
            s.p99_ms,
            100.0,
            "ms",
        ));
    }
    let top = r.traffic.status.iter().map(|s| s.clients).max();
    if let Some(s) = top.and_then(|c| at_clients(&r.traffic.status, c)) {
        let label = format!("status look-ups at {} clients", s.clients);
        out.push(at_least(&label, s.per_second, 10_000.0, "/s"));
        out.push(at_most(
            &format!("{label}: p99 latency"),
            s.p99_ms,
            10.0,
            "ms",
        ));
    }
    let l = &r.large;
    if !l.ingest_seconds.is_empty() {
        let ingest = l.mib_s(l.ingest());
        let dd = l.mib_s(l.dd());
        out.push(TargetCheck {
            what: format!(
                "{} ingest vs plain copy (dd conv=fsync, {} MiB/s)",
                size_label(l.attachment_bytes),
                fmt_num(dd)
            ),
            target: "≥ 0.5× the copy".into(),
            measured: format!("{} MiB/s = {:.2}×", fmt_num(ingest), ingest / dd),
            ratio: ingest / dd / 0.5,
            met: ingest >= 0.5 * dd,
        });
    }
    let server_peaks = [
        (
            "server peak RSS, small-submission load".to_string(),
            r.traffic.server_memory,
        ),
        (
            format!("server peak RSS, {} ingest", size_label(l.attachment_bytes)),
            l.ingest_memory,
        ),
        (
            format!(
                "server peak RSS, {} upload resumed {RESUMABLE_BREAKS} times",
                size_label(l.attachment_bytes)
            ),
            l.resumable_memory,
        ),
        (
            format!(
                "server peak RSS, export of the {} case",
                size_label(l.attachment_bytes)
            ),
            l.export_memory,
        ),
        (
            format!(
                "server peak RSS, export of {} cases",
                fmt_int(r.many.cases as u64)
            ),
            r.many.export_memory,
        ),
    ];
    for (what, m) in server_peaks {
        if m.peak_kib > 0 {
            out.push(at_most(&what, kib_to_mib(m.peak_kib), 64.0, "MiB"));
        }
    }
    if !l.inspect.is_empty() && !l.age.is_empty() {
        let inspect = l.mib_s(l.inspect());
        let age = l.mib_s(l.age_with_fsync());
        out.push(TargetCheck {
            what: format!(
                "`wbs-inspect open`, {} case, vs `age -d` to a file + fsync ({} MiB/s)",
                size_label(l.attachment_bytes),
                fmt_num(age)
            ),
            target: "≥ 0.9× age".into(),
            measured: format!("{} MiB/s = {:.2}×", fmt_num(inspect), inspect / age),
            ratio: inspect / age / 0.9,
            met: inspect >= 0.9 * age,
        });
        out.push(at_most(
            &format!(
                "`wbs-inspect open` peak RSS, {} case",
                size_label(l.attachment_bytes)
            ),
            kib_to_mib(l.inspect_peak_kib()),
            64.0,
            "MiB",
        ));
    }
    if !l.workbench.is_empty() {
        out.push(at_most(
            &format!(
                "workbench import peak RSS, {} case",
                size_label(l.attachment_bytes)
            ),
            kib_to_mib(l.workbench_peak_kib()),
            64.0,
            "MiB",
        ));
    }
    if r.many.inspect.seconds > 0.0 {
        out.push(at_most(
            &format!(
                "`wbs-inspect open` of {} small cases",
                fmt_int(r.many.cases as u64)
            ),
            r.many.inspect.seconds,
            10.0,
            "s",
        ));
        out.push(at_most(
            &format!(
                "`wbs-inspect open` peak RSS, {} cases",
                fmt_int(r.many.cases as u64)
            ),
            kib_to_mib(r.many.inspect.peak_kib),
            64.0,
            "MiB",
        ));
    }
    out
}

/// `1 GiB`, `1 MiB`, …
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(12345.6), "12,346");
        assert_eq!(fmt_num(999.0), "999");
        assert_eq!(fmt_num(1000.0), "1,000");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(size_label(1 << 30), "1 GiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
