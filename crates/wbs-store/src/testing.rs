//! Test support: a throw-away PostgreSQL database per test.
//!
//! [`TestDb::new`] gives each test a fresh, empty database. The databases
//! live in one cluster per test process:
//!
//! - If `WBS_TEST_DATABASE_URL` is set (a connection string of a role that
//!   may create databases, e.g. `host=/run/postgresql user=wbs
//!   dbname=postgres`), that server is used.
//! - Otherwise the first test starts a cluster of its own: `initdb` and
//!   `postgres` from the newest `/usr/lib/postgresql/*/bin` (or the
//!   directory in `WBS_TEST_PG_BIN`), in a temporary directory, listening
//!   on a Unix socket in that directory only (no TCP port). PostgreSQL
//!   refuses to run as root, so when the tests run as root the cluster
//!   runs as `nobody` (through `setpriv`), with the directory handed to
//!   it. The cluster stops, and its directory is removed, when the test
//!   process exits (it waits on a pipe from the test process).
//!
//! [`TestDb::new_tls`] gives a database on a second cluster of the test
//! process's own (never `WBS_TEST_DATABASE_URL`), started with `ssl = on`
//! and also listening on a free port of 127.0.0.1: its certificate, for
//! `localhost` and 127.0.0.1, is signed by a throw-away CA made with
//! `openssl` in the cluster's directory ([`TestDb::tls_ca`]).
//!
//! Missing PostgreSQL binaries are a test failure with a clear message,
//! never a silently skipped test.
//!
//! This module is for tests only (the store's own and the server's); a
//! server never calls it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::location::StoreLocation;

/// A fresh database for one test, dropped with it.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    cluster: &'static Cluster,
}

#[derive(Debug)]
struct Cluster {
    /// Connection string of the administrative database.
    admin: String,
    /// The connection string with `dbname` left to add.
    base: String,
    /// Kept open while the process lives: when it closes (the process
    /// exits), the cluster shuts down and removes its directory.
    _lifeline: Option<Mutex<(Child, ChildStdin)>>,
    /// For a cluster with TLS: its TCP port on 127.0.0.1 and its CA file.
    tls: Option<(u16, PathBuf)>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static TLS_CLUSTER: OnceLock<Cluster> = OnceLock::new();

impl TestDb {
    /// A new empty database (panics, with the reason, if PostgreSQL cannot
    /// be reached or started).
    pub fn new() -> TestDb {
        Self::on(CLUSTER.get_or_init(|| Cluster::start(false)))
    }

    /// A new empty database on the test cluster with TLS (see the module
    /// doc). [`url`](TestDb::url) still reaches it over the Unix socket;
    /// [`tcp_url`](TestDb::tcp_url) over TCP.
    pub fn new_tls() -> TestDb {
        Self::on(TLS_CLUSTER.get_or_init(|| Cluster::start(true)))
    }

    fn on(cluster: &'static Cluster) -> TestDb {
        let name = format!("wbs_test_{}", crate::ids::random_id(16));
        let mut admin = connect(&cluster.admin);
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create the test database: {e}"));
        let url = with_dbname(&cluster.base, &name);
        TestDb { name, url, cluster }
    }

    /// `postgresql://wbs@HOST:PORT/NAME`: this database over TCP, `host`
    /// naming the loopback address (panics unless made by
    /// [`new_tls`](TestDb::new_tls)).
    pub fn tcp_url(&self, host: &str) -> String {
        let (port, _) = self
            .cluster
            .tls
            .as_ref()
            .expect("a database made by new_tls");
        format!("postgresql://wbs@{host}:{port}/{}", self.name)
    }

    /// The PEM file of the CA that signed the TLS cluster's certificate
    /// (panics unless made by [`new_tls`](TestDb::new_tls)).
    pub fn tls_ca(&self) -> &Path {
        &self
            .cluster
            .tls
            .as_ref()
            .expect("a database made by new_tls")
            .1
    }

    /// Where the store of this database is.
    pub fn location(&self) -> StoreLocation {
        StoreLocation::Postgres {
            url: self.url.clone(),
        }
    }

    /// The connection string of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs a query that returns one `bigint` (e.g. `SELECT count(*) ...`)
    /// on this database: for tests that look behind the store.
    pub fn count(&self, sql: &str) -> i64 {
        let mut client = connect(&self.url);
        client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.cluster.admin, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL server: {e}"))
}

/// `base` with its database set to `name`: key=value strings take a
/// `dbname` appended (a later key wins); URLs get their path replaced.
fn with_dbname(base: &str, name: &str) -> String {
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = base.strip_prefix(scheme) {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, Some(q)),
                None => (rest, None),
            };
            let authority = main.split('/').next().unwrap_or("");
            let mut out = format!("{scheme}{authority}/{name}");
            if let Some(q) = query {
                out.push('?');
                out.push_str(q);
            }
            return out;
        }
    }
    format!("{base} dbname={name}")
}

impl Cluster {
    fn start(with_tls: bool) -> Cluster {
        if let (false, Ok(url)) = (with_tls, std::env::var("WBS_TEST_DATABASE_URL")) {
            return Cluster {
                admin: url.clone(),
                base: url,
                _lifeline: None,
                tls: None,
            };
        }
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("wbs-test-pg-")
            .tempdir()
            .expect("cannot make a temporary directory for PostgreSQL")
            .keep();
        let as_root = is_root();
        if as_root {
            run(Command::new("chown").arg("nobody:").arg(&dir), "chown");
        }
        let data = dir.join("data");
        let mut initdb = unprivileged(as_root, &bin.join("initdb"));
        initdb.args([
            "--auth=trust",
            "--username=wbs",
            "--encoding=UTF8",
            "--no-sync",
        ]);
        initdb.arg("-D").arg(&data);
        run(&mut initdb, "initdb");

        let (mut tls, mut port, mut network) = (None, 5432, "-c listen_addresses=''".to_owned());
        if with_tls {
            port = free_port();
            let (cert, key, ca) = make_certificates(as_root, &dir);
            network = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c ssl=on -c ssl_cert_file={} \
                 -c ssl_key_file={}",
                shell_quote(&cert),
                shell_quote(&key)
            );
            tls = Some((port, ca));
        }

        // `exec`-less on purpose: the shell waits for the pipe to close
        // (this process exiting), then stops PostgreSQL and removes the
        // directory. It ignores the signals a test runner or `timeout`
        // sends to the whole process group, so that clean-up still runs
        // (PostgreSQL sets its own handlers and shuts down on them).
        let script = format!(
            "trap '' HUP INT TERM; {postgres} -D {data} -k {dir} {network} -c fsync=off \
             -c max_connections=300 -c shared_buffers=32MB >{dir}/log 2>&1 & pid=$!; \
             cat >/dev/null; kill -INT $pid; wait $pid; rm -rf {dir}",
            postgres = shell_quote(&bin.join("postgres")),
            data = shell_quote(&data),
            dir = shell_quote(&dir),
        );
        let mut server = unprivileged(as_root, Path::new("sh"));
        server
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = server
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"));
        let stdin = child.stdin.take().expect("piped");
        let base = format!("host={} port={port} user=wbs", dir.display());
        let admin = format!("{base} dbname=postgres");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match postgres::Client::connect(&admin, postgres::NoTls) {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                    panic!("the test PostgreSQL server did not come up: {e}\n{log}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        Cluster {
            admin,
            base,
            _lifeline: Some(Mutex::new((child, stdin))),
            tls,
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port on 127.0.0.1: {e}"))
}

/// A throw-away CA and a server certificate it signed for `localhost` and
/// 127.0.0.1, made with `openssl` as the cluster's user in `dir/tls`:
/// (certificate, key, CA certificate).
fn make_certificates(as_root: bool, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let tls = dir.join("tls");
    let mut mkdir = unprivileged(as_root, Path::new("mkdir"));
    mkdir.arg(&tls);
    run(&mut mkdir, "mkdir");
    let openssl = |args: &[&str], what: &str| {
        let mut c = unprivileged(as_root, Path::new("openssl"));
        c.current_dir(&tls).args(args);
        run(&mut c, what);
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=WBS test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
        "openssl (test CA)",
    );
    openssl(
        &[
            &["req"][..],
            &key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
        "openssl (server key)",
    );
    std::fs::write(
        tls.join("server.ext"),
        "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("cannot write the test certificate's extensions: {e}"));
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.pem",
            "-extfile",
            "server.ext",
        ],
        "openssl (server certificate)",
    );
    let mut chmod = unprivileged(as_root, Path::new("chmod"));
    chmod.arg("600").arg(tls.join("server.key"));
    run(&mut chmod, "chmod");
    (
        tls.join("server.pem"),
        tls.join("server.key"),
        tls.join("ca.pem"),
    )
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(lifeline) = self._lifeline.take() {
            let (mut child, mut stdin) = lifeline.into_inner().unwrap_or_else(|e| e.into_inner());
            let _ = stdin.flush();
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The directory with PostgreSQL's server programs.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("WBS_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server programs (initdb, postgres) are not installed: found no \
             /usr/lib/postgresql/*/bin/initdb. Install them (Debian: apt-get install \
             postgresql), or set WBS_TEST_DATABASE_URL to a server the tests may create \
             databases on, or WBS_TEST_PG_BIN to the directory holding initdb and postgres. \
             The PostgreSQL tests never skip."
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command that runs `program` as `nobody` when we are root.
fn unprivileged(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--reset-env",
            "--",
        ]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_goes_where_each_form_wants_it() {
        assert_eq!(
            with_dbname("host=/tmp/x user=wbs", "t1"),
            "host=/tmp/x user=wbs dbname=t1"
        );
        assert_eq!(
            with_dbname(
                "postgresql://wbs@localhost:5433/postgres?sslmode=disable",
                "t2"
            ),
            "postgresql://wbs@localhost:5433/t2?sslmode=disable"
        );
        assert_eq!(
            with_dbname("postgres://wbs@localhost", "t3"),
            "postgres://wbs@localhost/t3"
        );
    }
}
