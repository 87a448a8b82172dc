//! The daily digest against a real SMTP server process on 127.0.0.1
//! (Python's aiosmtpd, Debian's python3-aiosmtpd) that requires STARTTLS
//! with a certificate from a CA made for this test, and a login.
//!
//! Without `[digest]` the server never connects; with it, the digest is
//! sent during the configured hour (the test configures the current one),
//! counts what arrived since the last digest, carries no case id,
//! category, size, date or time of day, and is sent once a day, also
//! across a restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wbs_e2e::{run_ok, ServerOptions, TestServer};

const SMTP_USER: &str = "wbs-digest";
const SMTP_PASSWORD: &str = "smtp-pass-7c1e55a0";

const SMTP_SERVER: &str = r#"
import os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, outdir, user, password, port = sys.argv[1:7]

def note(line):
    with open(os.path.join(outdir, "events.log"), "a") as f:
        f.write(line + "\n")

class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        note("ehlo tls=%s" % (session.ssl is not None))
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(outdir) if f.endswith(".eml")])
        path = os.path.join(outdir, "msg%d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        note("data to=%s tls=%s" % (",".join(envelope.rcpt_tos), session.ssl is not None))
        return "250 OK"

def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    note("auth ok=%s" % ok)
    return AuthResult(success=ok)

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
    require_starttls=True, authenticator=authenticate, auth_require_tls=True,
)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
"#;

/// A Python that has aiosmtpd: Debian's (`python3-aiosmtpd`, which
/// scripts/test.sh installs) or whatever `python3` is first on the path.
fn python() -> PathBuf {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return PathBuf::from(candidate);
        }
    }
    panic!("no Python with aiosmtpd: apt-get install python3-aiosmtpd (scripts/test.sh does)");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it, made for this test.
fn make_certs(dir: &Path) {
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    #[rustfmt::skip]
    let steps: [&[&str]; 3] = [
        &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=WBS digest test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"],
        &["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"],
    ];
    for args in steps {
        openssl(dir, args);
    }
}

struct Smtp {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        make_certs(dir);
        let script = dir.join("smtp.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        let outdir = dir.join("mail");
        std::fs::create_dir_all(&outdir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(python())
            .arg(&script)
            .arg(dir.join("leaf.pem"))
            .arg(dir.join("leaf.key"))
            .arg(&outdir)
            .args([SMTP_USER, SMTP_PASSWORD, &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        Smtp {
            child,
            dir: outdir,
            port,
        }
    }

    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    fn events(&self) -> String {
        std::fs::read_to_string(self.dir.join("events.log")).unwrap_or_default()
    }

    fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn submit(server: &TestServer, dir: &Path, n: u32) -> String {
    let message = dir.join(format!("report-{n}.txt"));
    std::fs::write(&message, format!("Laporan nomor {n}: pungutan liar.")).unwrap();
    let out = run_ok(
        server
            .cli("wbs-report", "submit")
            .arg("--message")
            .arg(&message)
            .args(["--title", "Pungli", "--category", "illegal_levy"]),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// The current UTC hour, waiting past the turn of the hour if it is less
/// than a minute away (the digest must be due for the whole test).
fn current_hour() -> u64 {
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now % 3600 < 3600 - 60 {
            return (now % 86_400) / 3600;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
}

fn body_of(message: &str) -> &str {
    message
        .split_once("\r\n\r\n")
        .or_else(|| message.split_once("\n\n"))
        .map(|(_, body)| body)
        .expect("a message with a body")
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} header in:\n{message}"))
}

#[test]
fn daily_digest_over_starttls_says_counts_only_once_a_day() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let smtp = Smtp::start(w);

    // 1. No [digest]: reports and a follow-up arrive, and the server never
    //    connects to the SMTP server.
    let mut server = TestServer::start(ServerOptions::default());
    let receipt = submit(&server, w, 1);
    submit(&server, w, 2);
    let followup = w.join("followup.txt");
    std::fs::write(&followup, "Susulan: ada saksi.").unwrap();
    run_ok(
        server
            .cli("wbs-report", "follow-up")
            .arg("--receipt")
            .arg(&receipt)
            .arg("--message")
            .arg(&followup),
    );
    let cases = String::from_utf8(run_ok(&mut server.cli("wbs-desk", "cases")).stdout).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(smtp.events(), "", "a server without [digest] connected");
    assert!(
        !server.log_text().contains("digest"),
        "{}",
        server.log_text()
    );
    server.stop();

    // 2. With [digest] for the current hour: one message at start.
    let hour = current_hour();
    let password_file = w.join("smtp-password");
    std::fs::write(&password_file, format!("{SMTP_PASSWORD}\n")).unwrap();
    let mut config = std::fs::read_to_string(&server.config).unwrap();
    config.push_str(&format!(
        "\n[digest]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"starttls\"\n\
         username = \"{SMTP_USER}\"\npassword_file = {:?}\nca_file = {:?}\n\
         from = \"wbs@inspektorat.example\"\nto = [\"desk-a@inspektorat.example\", \
         \"desk-b@inspektorat.example\"]\nhour_utc = {hour}\n",
        smtp.port,
        password_file.display().to_string(),
        w.join("ca.pem").display().to_string(),
    ));
    std::fs::write(&server.config, config).unwrap();
    server.spawn();
    let messages = smtp.wait_for(1, Duration::from_secs(30));
    assert_eq!(
        messages.len(),
        1,
        "no digest arrived; server log:\n{}\nSMTP events:\n{}",
        server.log_text(),
        smtp.events()
    );
    let events = smtp.events();
    assert!(events.contains("auth ok=True"), "{events}");
    assert!(
        events.contains("data to=desk-a@inspektorat.example,desk-b@inspektorat.example tls=True"),
        "{events}"
    );
    assert!(!events.contains("tls=False\ndata"), "{events}");

    let message = &messages[0];
    let body = body_of(message);
    for line in [
        "New reports since the last digest: 2",
        "New follow-ups from reporters: 1",
        "Cases due soon: 0",
        "Cases overdue: 0",
        "Laporan baru sejak ringkasan terakhir: 2",
    ] {
        assert!(body.contains(line), "{line:?} missing from:\n{message}");
    }
    // Only the counts are numbers in the body: no case id, size, date or time.
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits, "21002100", "{body}");
    for row in cases.lines().skip(1) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let (id, bytes) = (cols[0], cols[4]);
        assert!(!message.contains(id), "case id {id} in:\n{message}");
        assert!(!body.contains(bytes), "size {bytes} in:\n{body}");
    }
    for word in ["illegal_levy", "Pungutan liar", "Illegal levies", "Pungli"] {
        assert!(!message.contains(word), "category {word:?} in:\n{message}");
    }
    // Its Date is the configured hour on the dot, not the moment of sending.
    let date = header(message, "Date");
    assert!(
        date.contains(&format!(" {hour:02}:00:00 ")),
        "Date {date:?} is not {hour:02}:00:00"
    );
    let log = server.log_text();
    assert!(!log.contains(SMTP_PASSWORD), "{log}");
    assert!(!log.contains("New reports"), "{log}");

    // 3. A restart in the same hour sends nothing more; neither does new
    //    material (it waits for tomorrow's digest).
    server.stop();
    server.spawn();
    submit(&server, w, 3);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.messages().len(), 1, "{}", smtp.events());
    server.stop();
}

#[test]
fn a_relay_with_an_untrusted_certificate_gets_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let smtp = Smtp::start(w);
    // Another CA than the one that signed the relay's certificate.
    let other = w.join("other");
    std::fs::create_dir_all(&other).unwrap();
    make_certs(&other);
    let password_file = w.join("smtp-password");
    std::fs::write(&password_file, format!("{SMTP_PASSWORD}\n")).unwrap();
    let server = TestServer::start(ServerOptions {
        extra_config: format!(
            "[digest]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"starttls\"\n\
             username = \"{SMTP_USER}\"\npassword_file = {:?}\nca_file = {:?}\n\
             from = \"wbs@inspektorat.example\"\nto = [\"desk@inspektorat.example\"]\n\
             hour_utc = {}\n",
            smtp.port,
            password_file.display().to_string(),
            other.join("ca.pem").display().to_string(),
            current_hour(),
        ),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log_text().contains("daily digest not sent") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = server.log_text();
    assert!(log.contains("daily digest not sent"), "{log}");
    assert!(!log.contains(SMTP_PASSWORD), "{log}");
    assert!(smtp.messages().is_empty());
    // The password was never sent: no login happened.
    assert!(!smtp.events().contains("auth"), "{}", smtp.events());
    // The drop box is not held up by it.
    let client = reqwest::blocking::Client::new();
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .unwrap();
    assert!(health.status().is_success());
}
