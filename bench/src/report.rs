//! docs/BENCHMARKS.md, written from one run's [`Results`]. The hand-written
//! record of what was profiled and fixed (bench/HISTORY.md) is appended as
//! it is, so a new run never loses it.

use std::fmt::Write;

use crate::load::LoadStats;
use crate::results::{fmt_int, fmt_num, kib_to_mib, median, mib, size_label, Results};

const METHOD: &str = "\
- Every scenario starts its own `wbs-server` (release build) on 127.0.0.1 with a fresh data \
directory on the disk above, proof-of-work off (`[pow] difficulty = 0`) and every rate, size and \
concurrency limit raised out of the way (bench/src/server.rs). Nothing else is changed: each 201 \
means what it means in production, that the report is fsynced and its metadata flushed.
- Load runs are closed loops: N threads, each with its own keep-alive connection, each sending \
its next request when the last one is answered; 2 s of warm-up are not counted, then 10 s are \
measured; every latency is kept, so percentiles are exact. All payloads are encrypted before \
the clock starts. The main client is a minimal HTTP/1.1 client (bench/src/http.rs) because \
client and server share the same two cores; the reqwest rows show what an ordinary Rust client \
costs on top.
- Submissions are real `wbs-report/1` documents, 2 KiB of JSON, padded and age-encrypted to \
the server's one recipient; each uses a new lookup key. Status look-ups pick among the cases \
stored by the submission runs.
- The large attachment is encrypted to a file first and fsynced; `sync` runs between steps so \
no write-back of one step lands in the next. The upload sends that file with `sendfile`. The \
plain copy is `dd if=OBJECT of=COPY bs=1M conv=fsync` on the same disk. Each large step runs \
three times, alternating with its baseline (dd before each upload, age after each \
`wbs-inspect open`), and the medians are compared: this VM's disk and page cache vary more \
from one run to the next than the differences measured.
- Server memory is `VmHWM` from `/proc/<pid>/status`, reset before each phase with \
`/proc/<pid>/clear_refs` (value 5). Tool memory is GNU time's maximum resident set size.
- `age` writes to a file on the same disk and the time of a `sync FILE` afterwards is added, \
because `wbs-inspect` fsyncs every file it writes. Throughput of both is the encrypted \
object's size over wall time.
";

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn load_table(out: &mut String, runs: &[LoadStats], unit: &str) {
    row(
        out,
        &[
            "client".into(),
            "clients".into(),
            format!("{unit}/s"),
            "p50 ms".into(),
            "p90 ms".into(),
            "p99 ms".into(),
            "max ms".into(),
            "answered in window".into(),
            "errors".into(),
        ],
    );
    row(out, &vec!["---".to_string(); 9]);
    for s in runs {
        row(
            out,
            &[
                s.client.label().into(),
                s.clients.to_string(),
                fmt_num(s.per_second),
                format!("{:.2}", s.p50_ms),
                format!("{:.2}", s.p90_ms),
                format!("{:.2}", s.p99_ms),
                format!("{:.2}", s.max_ms),
                s.ok.to_string(),
                s.errors.to_string(),
            ],
        );
    }
}

fn ns(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2} s", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.1} ns")
    }
}

/// The Markdown document. `history` is bench/HISTORY.md, if any.
pub fn markdown(r: &Results, history: Option<&str>) -> String {
    let mut o = String::new();
    let m = &r.machine;
    let _ = writeln!(o, "# Benchmarks\n");
    let _ = writeln!(
        o,
        "Written by `bash scripts/bench.sh` ({} run) on {}. Do not edit by hand: run it again \
         (the last section comes from `bench/HISTORY.md`).\n",
        r.mode, m.date
    );
    let _ = writeln!(o, "## The machine\n");
    row(&mut o, &["".into(), "".into()]);
    row(&mut o, &["---".into(), "---".into()]);
    for (k, v) in [
        ("CPU", m.cpu.clone()),
        ("cores", m.cores.to_string()),
        ("RAM", format!("{:.1} GiB", m.ram_mib as f64 / 1024.0)),
        ("disk, file system", m.disk.clone()),
        ("kernel", m.kernel.clone()),
        ("date", m.date.clone()),
        ("rustc", m.rustc.clone()),
        ("age CLI", m.age.clone()),
        (
            "1-min load average at the start → end of each scenario (the suite's own 32 client threads and server count too)",
            format!(
                "small requests {:.2} → {:.2}; large attachment {:.2} → {:.2}; many cases {:.2} → {:.2}",
                r.traffic.load_avg.0,
                r.traffic.load_avg.1,
                r.large.load_avg.0,
                r.large.load_avg.1,
                r.many.load_avg.0,
                r.many.load_avg.1
            ),
        ),
    ] {
        row(&mut o, &[k.into(), v]);
    }

    let _ = writeln!(o, "\n## Targets\n");
    let met = r.targets.iter().filter(|t| t.met).count();
    let _ = writeln!(
        o,
        "{met} of {} met. The ratio is measured ÷ target (for a `≤` target, below 1 is good).\n",
        r.targets.len()
    );
    row(
        &mut o,
        &[
            "what".into(),
            "target".into(),
            "measured".into(),
            "ratio".into(),
            "".into(),
        ],
    );
    row(&mut o, &vec!["---".to_string(); 5]);
    for t in &r.targets {
        row(
            &mut o,
            &[
                t.what.clone(),
                t.target.clone(),
                t.measured.clone(),
                format!("{:.2}", t.ratio),
                if t.met { "met" } else { "**missed**" }.into(),
            ],
        );
    }
    let _ = writeln!(o, "\n![The figures of this run](benchmarks.png)\n");

    let t = &r.traffic;
    let _ = writeln!(o, "## Durable small submissions\n");
    let _ = writeln!(
        o,
        "`POST /api/v1/submissions`: a {} B report ({} B encrypted), no attachment. Each 201 \
         is a case on disk.\n",
        t.report_bytes, t.sealed_bytes
    );
    load_table(&mut o, &t.submissions, "submissions");
    let _ = writeln!(o, "\n## Status look-ups\n");
    let _ = writeln!(
        o,
        "`POST /api/v1/status` for random cases among the {} stored above. Server peak RSS \
         over the whole scenario: {:.1} MiB.\n",
        t.cases_for_status,
        kib_to_mib(t.server_memory.peak_kib)
    );
    load_table(&mut o, &t.status, "look-ups");

    let l = &r.large;
    let _ = writeln!(
        o,
        "\n## One {} attachment\n",
        size_label(l.attachment_bytes)
    );
    let _ = writeln!(
        o,
        "The encrypted object is {} bytes ({:.1} MiB); every rate below is that size over \
         wall time.\n",
        l.object_bytes,
        mib(l.object_bytes)
    );
    let _ = writeln!(
        o,
        "Medians of {} runs each; the runs of a step alternate with those of its baseline.\n",
        l.inspect.len().max(l.ingest_seconds.len())
    );
    row(
        &mut o,
        &[
            "step".into(),
            "seconds (median)".into(),
            "MiB/s".into(),
            "every run, s".into(),
            "peak RSS MiB".into(),
        ],
    );
    row(&mut o, &vec!["---".to_string(); 5]);
    let runs = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let inspect_runs: Vec<f64> = l.inspect.iter().map(|r| r.seconds).collect();
    let age_runs: Vec<f64> = l.age.iter().map(|r| r.seconds).collect();
    let age_fsync_runs: Vec<f64> = l
        .age
        .iter()
        .zip(&l.age_fsync_seconds)
        .map(|(a, f)| a.seconds + f)
        .collect();
    let workbench_runs: Vec<f64> = l.workbench.iter().map(|r| r.seconds).collect();
    let mut lines: Vec<(&str, f64, String, String)> = vec![
        (
            "plain copy, `dd bs=1M conv=fsync`",
            l.dd(),
            runs(&l.dd_seconds),
            String::new(),
        ),
        (
            "upload to 201 (wbs-server)",
            l.ingest(),
            runs(&l.ingest_seconds),
            format!("{:.1}", kib_to_mib(l.ingest_memory.peak_kib)),
        ),
        (
            "export bundle download (wbs-server)",
            l.export_seconds,
            runs(&[l.export_seconds]),
            format!("{:.1}", kib_to_mib(l.export_memory.peak_kib)),
        ),
        (
            "`wbs-inspect open` the bundle",
            l.inspect(),
            runs(&inspect_runs),
            format!("{:.1}", kib_to_mib(l.inspect_peak_kib())),
        ),
        (
            "`age -d -o FILE` the object",
            l.age_alone(),
            runs(&age_runs),
            format!("{:.1}", kib_to_mib(l.age_peak_kib())),
        ),
        (
            "`age -d -o FILE` + `sync FILE`",
            l.age_with_fsync(),
            runs(&age_fsync_runs),
            format!("{:.1}", kib_to_mib(l.age_peak_kib())),
        ),
    ];
    if !l.resumable_seconds.is_empty() {
        // The same object in parts over connections that break (§7.4).
        lines.insert(
            2,
            (
                "resumable upload, broken 3 times, to 201 (wbs-server)",
                l.resumable(),
                runs(&l.resumable_seconds),
                format!("{:.1}", kib_to_mib(l.resumable_memory.peak_kib)),
            ),
        );
    }
    if !workbench_runs.is_empty() {
        // The desktop app's import (headless): the same decryption, with
        // the app's state around it.
        // Before the two `age` rows.
        let at = lines.len() - 2;
        lines.insert(
            at,
            (
                "workbench import of the bundle (headless)",
                median(&workbench_runs),
                runs(&workbench_runs),
                format!("{:.1}", kib_to_mib(l.workbench_peak_kib())),
            ),
        );
    }
    for (what, s, every, peak) in lines {
        row(
            &mut o,
            &[
                what.into(),
                format!("{s:.2}"),
                fmt_num(l.mib_s(s)),
                every,
                peak,
            ],
        );
    }
    if !l.ingest_seconds.is_empty() && !l.inspect.is_empty() {
        let _ = writeln!(
            o,
            "\nIngest is {:.2}× the plain copy; `wbs-inspect open` is {:.2}× `age -d` to a \
             file with fsync ({:.2}× without the fsync).",
            l.dd() / l.ingest(),
            l.age_with_fsync() / l.inspect(),
            l.age_alone() / l.inspect()
        );
    }
    if !l.resumable_seconds.is_empty() && !l.ingest_seconds.is_empty() {
        let _ = writeln!(
            o,
            "The resumable upload, its connection broken three times and resumed after `HEAD`, \
             then named by a submission, runs at {:.2}× the one-shot upload.",
            l.ingest() / l.resumable()
        );
    }

    let n = &r.many;
    let _ = writeln!(o, "\n## {} small cases\n", fmt_int(n.cases as u64));
    row(
        &mut o,
        &[
            "step".into(),
            "seconds".into(),
            "".into(),
            "peak RSS MiB".into(),
        ],
    );
    row(&mut o, &vec!["---".to_string(); 4]);
    if let Some(c) = &n.create {
        row(
            &mut o,
            &[
                format!("create through the API ({} clients)", c.clients),
                format!("{:.2}", c.seconds),
                format!("{}/s, p99 {:.1} ms", fmt_num(c.per_second), c.p99_ms),
                "".into(),
            ],
        );
    }
    row(
        &mut o,
        &[
            "(server once they are stored: RSS now / peak so far)".into(),
            "".into(),
            "".into(),
            format!(
                "{:.1} / {:.1}",
                kib_to_mib(n.stored_memory.rss_kib),
                kib_to_mib(n.stored_memory.peak_kib)
            ),
        ],
    );
    row(
        &mut o,
        &[
            "export bundle download (server)".into(),
            format!("{:.2}", n.export_seconds),
            format!("{:.1} MiB", mib(n.export_bytes)),
            format!("{:.1}", kib_to_mib(n.export_memory.peak_kib)),
        ],
    );
    row(
        &mut o,
        &[
            "`wbs-inspect open` the bundle".into(),
            format!("{:.2}", n.inspect.seconds),
            format!(
                "{:.0} cases/s",
                n.cases as f64 / n.inspect.seconds.max(1e-9)
            ),
            format!("{:.1}", kib_to_mib(n.inspect.peak_kib)),
        ],
    );

    let _ = writeln!(o, "\n## wbs-protocol hot paths (criterion)\n");
    if r.criterion.is_empty() {
        let _ = writeln!(o, "Not run.");
    } else {
        let _ = writeln!(
            o,
            "`cargo bench -p wbs-protocol`; mean time per iteration.\n"
        );
        row(
            &mut o,
            &["benchmark".into(), "mean".into(), "throughput".into()],
        );
        row(&mut o, &vec!["---".to_string(); 3]);
        for f in &r.criterion {
            let rate = f.bytes.map_or(String::new(), |b| {
                format!("{} MiB/s", fmt_num(mib(b) / (f.mean_ns / 1e9)))
            });
            row(&mut o, &[format!("`{}`", f.id), ns(f.mean_ns), rate]);
        }
    }

    let _ = writeln!(o, "\n## How it is measured\n\n{METHOD}");
    if let Some(h) = history {
        let _ = writeln!(o, "{}", h.trim_end());
    }
    o
}
