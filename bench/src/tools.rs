//! Running other programs and measuring them: wall time from here, peak
//! memory from GNU time (`/usr/bin/time -v`, Debian package `time`), which
//! reads it from `wait4`'s `ru_maxrss`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// One measured run of a program.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ToolRun {
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Peak resident set, KiB.
    pub peak_kib: u64,
}

/// Runs `program args…` under `/usr/bin/time -v`; fails unless it exits 0.
pub fn measure(
    program: &Path,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    scratch: &Path,
) -> Result<ToolRun> {
    let report = scratch.join(format!("time-{}.txt", std::process::id()));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v").arg("-o").arg(&report).arg(program);
    for a in args {
        cmd.arg(a);
    }
    let started = Instant::now();
    let out = cmd
        .output()
        .context("running /usr/bin/time (install the Debian package `time`)")?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    if !out.status.success() {
        return Err(Error(format!(
            "{} failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let peak_kib = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error(format!("no peak memory in GNU time's report: {text}")))?;
    Ok(ToolRun { seconds, peak_kib })
}

/// Runs a program and returns its wall time; fails unless it exits 0.
pub fn timed(cmd: &mut Command) -> Result<f64> {
    let started = Instant::now();
    let out = cmd.output().context(format!("running {cmd:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(Error(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(seconds)
}

/// `dd if=SRC of=DST bs=1M conv=fsync`: the plain copy a server's ingest is
/// compared with (same bytes, same disk, data forced to the disk at the end
/// like the server's fsync). Returns seconds.
pub fn dd_copy(src: &Path, dst: &Path) -> Result<f64> {
    let mut cmd = Command::new("dd");
    cmd.arg(format!("if={}", src.display()))
        .arg(format!("of={}", dst.display()))
        .args(["bs=1M", "conv=fsync", "status=none"]);
    timed(&mut cmd)
}

/// Flushes everything written so far, so that no write-back of an earlier
/// step runs during the next measurement.
pub fn sync_all() {
    let _ = Command::new("sync").status();
}
