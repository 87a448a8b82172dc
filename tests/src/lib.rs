//! Shared harness of the end-to-end tests: starts a real `wbs-server`
//! process on 127.0.0.1 with its own data directory, keys and config, and
//! runs the real command-line tools against it.
//!
//! Nothing here fakes a component: the binaries are the ones `cargo build`
//! makes, the server is a separate process, and the keys are real age keys.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

/// The folder holding the workspace's binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

static BUILT: OnceLock<()> = OnceLock::new();

/// The path of one of the workspace's binaries, building them all once if
/// needed (`cargo test --workspace` usually has already).
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    BUILT.get_or_init(|| {
        let all = ["wbs-server", "wbs-report", "wbs-desk", "wbs-inspect"];
        if all.iter().all(|b| bin_dir().join(b).exists()) {
            return;
        }
        let release = bin_dir().ends_with("release");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace_root()).args([
            "build",
            "--bins",
            "-p",
            "wbs-server",
            "-p",
            "wbs-client",
            "-p",
            "wbs-inspect",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// An inspectorate key pair made for a test.
pub struct TestKey {
    /// The identity file (plain, unencrypted).
    pub identity_file: PathBuf,
    /// The `.pub` file.
    pub pub_file: PathBuf,
    /// The recipient string.
    pub recipient: String,
    /// The identity, for decrypting in the test itself.
    pub identity: age::x25519::Identity,
}

/// Makes a key pair in `dir` named `name`.
pub fn make_key(dir: &Path, name: &str) -> TestKey {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let identity_file = dir.join(format!("{name}.key"));
    let pub_file = dir.join(format!("{name}.pub"));
    std::fs::write(
        &identity_file,
        format!("# test key\n{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();
    std::fs::write(&pub_file, format!("{recipient}\n")).unwrap();
    TestKey {
        identity_file,
        pub_file,
        recipient,
        identity,
    }
}

/// How to start a test server.
#[derive(Clone)]
pub struct ServerOptions {
    /// Extra TOML appended to the generated config.
    pub extra_config: String,
    /// Proof-of-work difficulty.
    pub pow_difficulty: u8,
    /// Number of inspectorate keys.
    pub keys: usize,
    /// Investigator tokens to create before start (names).
    pub tokens: Vec<String>,
    /// Serve the desk on a separate address.
    pub separate_desk: bool,
    /// Run every `wbs-server` of this test server (token add, serve)
    /// under this umask, through `sh -c 'umask … && exec …'`.
    pub umask: Option<u32>,
    /// Keep the store in this PostgreSQL database (`[store] database_url`)
    /// instead of sled in the data directory.
    pub database_url: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            extra_config: String::new(),
            pow_difficulty: 0,
            keys: 1,
            tokens: vec!["desk1".into()],
            separate_desk: false,
            umask: None,
            database_url: None,
        }
    }
}

/// A running `wbs-server` process.
pub struct TestServer {
    /// Temporary folder with everything of this server.
    pub dir: tempfile::TempDir,
    /// Data directory.
    pub data: PathBuf,
    /// Recipients folder.
    pub keys_dir: PathBuf,
    /// The inspectorate keys.
    pub keys: Vec<TestKey>,
    /// Config file.
    pub config: PathBuf,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Desk base URL (same as `url` unless `separate_desk`).
    pub desk_url: String,
    /// Token files by name.
    pub token_files: Vec<(String, PathBuf)>,
    /// Everything the server wrote to stdout and stderr so far.
    pub log: Arc<Mutex<String>>,
    child: Option<Child>,
    options: ServerOptions,
}

impl TestServer {
    /// Makes keys, config and tokens, then starts the server.
    pub fn start(options: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&keys_dir).unwrap();
        let keys: Vec<TestKey> = (0..options.keys.max(1))
            .map(|i| make_key(&keys_dir, &format!("inspector{i}")))
            .collect();
        // Identity files must not sit in the recipients folder's *.pub set;
        // they don't (different extension), which is what a server expects.
        let config = dir.path().join("wbs.toml");
        let store = match &options.database_url {
            Some(url) => format!("[store]\ndatabase_url = {url:?}\n"),
            None => String::new(),
        };
        let desk = if options.separate_desk {
            "desk_listen = \"127.0.0.1:0\"\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "organization = \"Inspektorat Daerah Kota Uji\"\nlisten = \"127.0.0.1:0\"\n{desk}data = {:?}\nrecipients = {:?}\n{store}[pow]\ndifficulty = {}\n{}\n",
                data.display().to_string(),
                keys_dir.display().to_string(),
                options.pow_difficulty,
                options.extra_config
            ),
        )
        .unwrap();
        let mut server = TestServer {
            dir,
            data,
            keys_dir,
            keys,
            config,
            url: String::new(),
            desk_url: String::new(),
            token_files: Vec::new(),
            log: Arc::new(Mutex::new(String::new())),
            child: None,
            options: options.clone(),
        };
        for name in &options.tokens {
            let token = server.add_token(name);
            let file = server.dir.path().join(format!("{name}.token"));
            std::fs::write(&file, format!("{token}\n")).unwrap();
            server.token_files.push((name.clone(), file));
        }
        server.spawn();
        server
    }

    /// Another instance of this server: the same configuration (keys,
    /// database, tokens), its own process, address and log. Only for a
    /// server on PostgreSQL, where instances share the store. Its `keys`
    /// are empty: use the first instance's.
    pub fn twin(&self) -> TestServer {
        assert!(
            self.options.database_url.is_some(),
            "only instances on one database can share a store"
        );
        let mut twin = TestServer {
            dir: tempfile::tempdir().unwrap(),
            data: self.data.clone(),
            keys_dir: self.keys_dir.clone(),
            keys: Vec::new(),
            config: self.config.clone(),
            url: String::new(),
            desk_url: String::new(),
            token_files: self.token_files.clone(),
            log: Arc::new(Mutex::new(String::new())),
            child: None,
            options: self.options.clone(),
        };
        twin.spawn();
        twin
    }

    /// Runs `wbs-server token add NAME` (server must be stopped) and returns the token.
    pub fn add_token(&self, name: &str) -> String {
        let out = self
            .server_command()
            .arg("--config")
            .arg(&self.config)
            .args(["token", "add", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A command running `wbs-server`, under [`ServerOptions::umask`] if
    /// one is set (the shell `exec`s the server: same process).
    pub fn server_command(&self) -> Command {
        match self.options.umask {
            Some(mask) => {
                let mut cmd = Command::new("sh");
                cmd.arg("-c")
                    .arg(format!("umask {mask:03o} && exec \"$0\" \"$@\""))
                    .arg(bin("wbs-server"));
                cmd
            }
            None => Command::new(bin("wbs-server")),
        }
    }

    /// The token file of the first token.
    pub fn token_file(&self) -> &Path {
        &self.token_files[0].1
    }

    /// Starts (or restarts) the process and waits until /healthz answers.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut child = self
            .server_command()
            .arg("--config")
            .arg(&self.config)
            .env("WBS_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wbs-server");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = self.log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                    let _ = tx.send(line);
                }
            });
        }
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut url, mut desk) = (None, None);
        while url.is_none() || (self.options.separate_desk && desk.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("server did not start; log:\n{}", self.log.lock().unwrap())
            });
            if let Some(rest) = line.split("serving").nth(1) {
                let mut urls = rest
                    .split_whitespace()
                    .filter(|w| w.starts_with("http://"))
                    .map(|w| w.trim_end_matches(')').to_string());
                url = urls.next();
                desk = urls.next();
            }
        }
        self.url = url.unwrap();
        self.desk_url = desk.unwrap_or_else(|| self.url.clone());
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if client
                .get(format!("{}/healthz", self.url))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server never became healthy; log:\n{}",
            self.log.lock().unwrap()
        );
    }

    /// Sends SIGTERM and waits for a clean exit; returns its status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL (a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's output so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The server's output from byte `start` on, once every one of
    /// `wanted` is in it: log lines reach the test through a pipe and a
    /// reader thread, a moment after the answer that caused them. Panics
    /// with the output after 10 s.
    pub fn log_after(&self, start: usize, wanted: &[&str]) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text()[start..].to_string();
            if wanted.iter().all(|w| log.contains(w)) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server's output lacks one of {wanted:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command for one of the client tools, with `--server` and, for
    /// `wbs-desk`, `--token-file` already given after `subcommand`.
    pub fn cli(&self, tool: &str, subcommand: &str) -> Command {
        let mut cmd = Command::new(bin(tool));
        cmd.arg(subcommand);
        match tool {
            "wbs-desk" => {
                cmd.arg("--server").arg(&self.desk_url);
                cmd.arg("--token-file").arg(self.token_file());
            }
            "wbs-report" => {
                cmd.arg("--server").arg(&self.url);
            }
            _ => {}
        }
        cmd
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command, asserting success, and returns its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{:?} failed ({}):\nstdout: {}\nstderr: {}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must fail, and returns its output.
pub fn run_fail(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        !out.status.success(),
        "{:?} should have failed:\nstdout: {}\nstderr: {}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether `needle` occurs in any file under `dir`; returns the first file.
pub fn find_bytes_under(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    files_under(dir).into_iter().find(|p| {
        std::fs::read(p)
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}
