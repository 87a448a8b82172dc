//! A real `wbs-server` process (the release build) for one scenario: its own
//! data directory and config, proof-of-work off, every rate and size limit
//! raised out of the way, one investigator token.
//!
//! Memory is read the way an operator would: `VmHWM` (peak resident set)
//! and `VmRSS` from `/proc/<pid>/status`. Writing `5` to
//! `/proc/<pid>/clear_refs` resets the peak, so each phase of a scenario
//! gets its own figure.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};

/// Limits for a load test: high enough that none of them is what gets
/// measured. The defaults (120 submissions a minute, 50 look-ups a
/// second, 512 MiB objects) protect a real server from floods.
/// Set by `--database`: the servers keep their store in this PostgreSQL
/// database instead of sled (one scenario per database: each starts from
/// an empty store).
pub static DATABASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

const BENCH_LIMITS: &str = r#"
[pow]
difficulty = 0

[limits]
max_object_bytes = 4294967296
max_request_bytes = 4294967296
max_attachments = 20
max_import_bytes = 67108864
submissions_per_minute = 4000000000
followups_per_minute = 4000000000
status_per_second = 4000000000
pow_per_second = 1000
max_concurrent_uploads = 1024
max_connections = 4096
header_timeout_secs = 60
body_idle_timeout_secs = 300
request_timeout_secs = 3600

[retention]
closed_case_days = 0
"#;

/// Resident memory of a process, KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// Now.
    pub rss_kib: u64,
    /// The peak since start or since the last [`ServerProcess::reset_peak`].
    pub peak_kib: u64,
}

/// A running server.
pub struct ServerProcess {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The investigator token.
    pub token: String,
    log: Arc<Mutex<String>>,
    /// Its configuration file.
    config: PathBuf,
}

impl ServerProcess {
    /// Writes the config into `dir`, adds a token and starts the server
    /// with the recipients in `keys_dir`.
    pub fn start(bin: &Path, dir: &Path, keys_dir: &Path) -> Result<ServerProcess> {
        std::fs::create_dir_all(dir)?;
        let data = dir.join("data");
        let config = dir.join("wbs.toml");
        std::fs::write(
            &config,
            format!(
                "organization = \"WBS benchmark\"\nlisten = \"127.0.0.1:0\"\ndata = {:?}\nrecipients = {:?}\n{BENCH_LIMITS}{}",
                data.display().to_string(),
                keys_dir.display().to_string(),
                match DATABASE.get() {
                    Some(url) => format!("\n[store]\ndatabase_url = {url:?}\n"),
                    None => String::new(),
                },
            ),
        )?;
        let out = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(["token", "add", "bench"])
            .output()
            .context(format!("running {}", bin.display()))?;
        if !out.status.success() {
            return Err(Error(format!(
                "wbs-server token add failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Self::spawn(bin, &config, token)
    }

    /// Another instance with the same configuration (and so, on
    /// PostgreSQL, the same store): `--database` runs only.
    pub fn another(&self, bin: &Path) -> Result<ServerProcess> {
        Self::spawn(bin, &self.config, self.token.clone())
    }

    fn spawn(bin: &Path, config: &Path, token: String) -> Result<ServerProcess> {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .env("WBS_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context(format!("starting {}", bin.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ];
        for stream in streams {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                    let _ = tx.send(line);
                }
            });
        }
        let mut server = ServerProcess {
            child: Some(child),
            addr: "127.0.0.1:0".parse().expect("valid"),
            token,
            log,
            config: config.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| {
                Error(format!(
                    "wbs-server did not start within 60 s; its log:\n{}",
                    server.log_text()
                ))
            })?;
            if let Some(addr) = serving_addr(&line) {
                server.addr = addr;
                break;
            }
        }
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything the server wrote so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Current and peak resident memory.
    pub fn memory(&self) -> Result<Memory> {
        process_memory(self.pid())
    }

    /// Starts a new peak-memory measurement (`clear_refs` value 5 resets
    /// `VmHWM` to the current RSS). Returns false where the kernel refuses.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// Stops the server with SIGTERM (it flushes storage and exits).
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(Error(format!(
                        "wbs-server exited with {status}; its log:\n{}",
                        self.log_text()
                    )))
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("wbs-server did not stop within 120 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A scenario that failed half-way must not leave a server behind.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address in the server's "WBS serving … on http://ADDR" line.
fn serving_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("serving") {
        return None;
    }
    let rest = &line[line.find("http://")? + "http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// `VmRSS` and `VmHWM` of any process.
pub fn process_memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context(format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_the_start_line() {
        let line = "2026-01-01T00:00:00Z  INFO wbs_server: WBS serving WBS benchmark on http://127.0.0.1:40123";
        assert_eq!(serving_addr(line), Some("127.0.0.1:40123".parse().unwrap()));
        assert_eq!(serving_addr("removed 0 files"), None);
    }
}
