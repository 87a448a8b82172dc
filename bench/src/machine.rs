//! The machine a run happened on, as far as Linux tells: a figure means
//! little without the CPU, memory, disk and load behind it.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Facts about the machine.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Cores (logical CPUs) this process may use.
    pub cores: usize,
    /// Physical memory, MiB.
    pub ram_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// The device and file system holding the work directory.
    pub disk: String,
    /// UTC date and time of the run.
    pub date: String,
    /// rustc version.
    pub rustc: String,
    /// age CLI version.
    pub age: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Describes this machine; `work` is where the benchmark writes.
pub fn describe(work: &Path) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cpu_flags = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .unwrap_or_default();
    let extras: Vec<&str> = ["sha_ni", "avx2", "avx512f"]
        .into_iter()
        .filter(|f| cpu_flags.split_whitespace().any(|x| x == *f))
        .collect();
    let cpu = if extras.is_empty() {
        cpu
    } else {
        format!("{cpu} ({})", extras.join(", "))
    };
    let ram_mib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024);
    let work_str = work.display().to_string();
    let mount = output("findmnt", &["-no", "SOURCE,FSTYPE", "-T", &work_str]);
    let device = mount.split_whitespace().next().unwrap_or("").to_string();
    let name = device.trim_start_matches("/dev/");
    let rotational = read(&format!("/sys/block/{name}/queue/rotational"));
    let kind = if name.starts_with("vd") {
        "virtio block device (a VM disk; the medium behind it is not visible)".to_string()
    } else if rotational.trim() == "0" {
        "solid state".to_string()
    } else if rotational.trim() == "1" {
        "rotational".to_string()
    } else {
        "unknown medium".to_string()
    };
    let disk = format!(
        "{} ({kind}), {}",
        if mount.is_empty() { "unknown" } else { &mount },
        output("df", &["-h", "--output=size", &work_str])
            .lines()
            .last()
            .map(|s| format!("{} total", s.trim()))
            .unwrap_or_default()
    );
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ram_mib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        disk,
        date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        rustc: output("rustc", &["--version"]),
        age: output("age", &["--version"]),
    }
}
