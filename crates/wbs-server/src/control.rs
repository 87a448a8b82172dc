//! The control socket: how `wbs-server backup`, `verify` and `token`
//! reach a running server.
//!
//! sled locks its database for one process, so while the server runs no
//! other process can open the store. The server therefore listens on a
//! Unix socket `<data>/control.sock` (never a TCP port), mode 0600 inside
//! the 0700 data directory. Backup and verify are served from a consistent
//! snapshot of its own store; token changes are applied to it
//! ([`crate::tokens`]). Only the user the server runs as (or root)
//! may connect; the server checks the peer's credentials too.
//!
//! The backup is streamed back over the socket and written by the
//! `wbs-server backup` process, not by the server: the server never writes
//! files outside its data directory (under systemd's `ProtectSystem=strict`
//! it could not), and the file belongs to whoever asked for it.
//!
//! Protocol: the client sends one line of JSON, a [`Request`]:
//! `{"request":"backup"}`, `{"request":"verify"}` or
//! `{"request":"token","op":"add"|"totp"|"list"|"revoke",…}` (a
//! [`TokenOp`]: a name, a token's SHA-256 in hex, a TOTP secret sealed
//! under the token in hex; never the token or the secret). JSON carries any
//! name the store accepts, with nothing a name could inject. The server
//! answers with frames, each a type byte, a big-endian `u32` length and
//! that many bytes:
//!
//! - `D`: backup data (a piece of the tar);
//! - `L`: a line of the verify report;
//! - `K`: the end, success; JSON summary ([`BackupManifest`], [`VerifySummary`],
//!   or for token requests the list of tokens, empty unless `list`);
//! - `E`: the end, failure; the message.
//!
//! A connection that ends without `K` or `E` is a failure.
//!
//! This module only carries requests and answers: what a request does is
//! [`crate::admin`]'s and [`crate::tokens`]'s, the same code a command runs
//! on a store it opened itself.

use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::watch;

use serde::{Deserialize, Serialize};
use wbs_store::TokenInfo;

use crate::admin::{self, BackupManifest, VerifySummary};
use crate::state::SharedState;
use crate::tokens::TokenOp;

/// File name of the socket inside the data directory.
pub const SOCKET_NAME: &str = "control.sock";

/// Longest request line. The longest request, `totp` with a 64-character
/// name in JSON escapes, a hash and a sealed TOTP secret in hex, is under
/// 700 bytes.
pub const MAX_REQUEST: usize = 1024;

/// What a command asks of the running server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// A backup of the whole store, streamed back.
    Backup,
    /// Re-hash every blob, report problems line by line.
    Verify,
    /// A token operation.
    Token(TokenOp),
}

impl Request {
    /// The request's name, for the log (a token request's fields carry a
    /// token's hash, which stays out of the log).
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Backup => "backup",
            Request::Verify => "verify",
            Request::Token(TokenOp::Add { .. }) => "token add",
            Request::Token(TokenOp::Totp { .. }) => "token totp",
            Request::Token(TokenOp::List) => "token list",
            Request::Token(TokenOp::Revoke { .. }) => "token revoke",
        }
    }

    /// The request as its one line (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a request always encodes")
    }

    /// Parses a request line, checking everything that can be checked
    /// before the store is touched.
    pub fn parse(line: &str) -> Result<Request, String> {
        // A token name is checked as it is parsed (`TokenName`).
        serde_json::from_str(line).map_err(|e| format!("not a request this server knows: {e}"))
    }
}

/// Why a request through the control channel failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket exists but belongs to another user.
    #[error(
        "the server is running but its control socket {0} is not ours to use: run this as \
         the user wbs-server runs as, or as root"
    )]
    NotOurs(PathBuf),
    /// The socket could not be reached for another reason.
    #[error("cannot reach the running server's control socket {path}: {source}")]
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The request could not be sent.
    #[error("cannot send the request to the server: {0}")]
    Send(#[source] io::Error),
    /// The connection ended before the answer did.
    #[error("the server closed the connection before it was done ({0}); see its log")]
    Lost(#[source] io::Error),
    /// The answer does not follow the protocol.
    #[error("the server sent a malformed answer")]
    Malformed,
    /// The server refused or failed; its message.
    #[error("{0}")]
    Refused(String),
    /// Where the streamed data went could not take it.
    #[error("cannot write the backup: {0}")]
    Output(#[source] io::Error),
}

/// Largest frame payload.
const FRAME: usize = 256 * 1024;

/// Where the control socket of the server on `data` lives.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET_NAME)
}

// ---------------------------------------------------------------- server

/// Binds the control socket and serves it until `shutdown`, then removes
/// it. Never stops the server: if the socket cannot be made, it says so in
/// the log and the server runs without it (backups then need the server
/// stopped).
pub async fn run(app: SharedState, mut shutdown: watch::Receiver<bool>) {
    let path = socket_path(&app.settings.data);
    let (listener, owner) = match bind(&path) {
        Ok(bound) => bound,
        Err(e) => {
            tracing::warn!(
                "no control socket at {} ({e}): `wbs-server backup` and `verify` will only \
                 work while the server is stopped",
                path.display()
            );
            return;
        }
    };
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == owner || cred.uid() == 0 => {}
            _ => {
                tracing::warn!("control socket: refused a connection from another user");
                continue;
            }
        }
        let stream = match stream.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("control socket: {e}");
                continue;
            }
        };
        // One request at a time: a backup or a verification reads the
        // whole store, and two at once would only compete for the disk.
        let app = app.clone();
        let task = tokio::task::spawn_blocking(move || handle(&app, stream));
        tokio::select! {
            _ = task => {}
            // Stop taking requests; the one running finishes on its thread.
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
}

/// Binds the socket with mode 0600 and returns it with the uid that owns
/// it (ours). A socket file left by a server that was killed is replaced:
/// the caller holds the store's lock, so no other server uses it.
fn bind(path: &Path) -> io::Result<(UnixListener, u32)> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::other(
                "a file that is not a socket is in the way",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    // The data directory is 0700, so nobody else could reach the socket
    // before this tightens it.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let owner = std::fs::metadata(path)?.uid();
    Ok((listener, owner))
}

/// Serves one request on a blocking thread.
fn handle(app: &SharedState, mut stream: UnixStream) {
    // A client that stops reading cannot hold the server's thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(300)));
    let line = match read_request(&mut stream) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("control socket: bad request: {e}");
            return;
        }
    };
    let mut frames = FrameWriter::new(&mut stream);
    let (verb, result) = match Request::parse(&line) {
        Ok(request) => (request.verb(), serve(app, &request, &mut frames)),
        Err(e) => ("(malformed)", Err(e)),
    };
    let end = match result {
        Ok(summary) => frames
            .flush()
            .and_then(|()| frames.frame(b'K', summary.as_bytes())),
        Err(e) => {
            tracing::error!("control request {verb:?} failed: {e}");
            frames.frame(b'E', e.as_bytes())
        }
    };
    if let Err(e) = end {
        tracing::warn!("control socket: could not answer: {e}");
    }
}

/// Carries out one request on the server's store; the JSON summary, or the
/// error for the client.
fn serve(app: &SharedState, request: &Request, frames: &mut FrameWriter) -> Result<String, String> {
    let store = app.store.as_ref();
    let snapshot = || {
        store
            .snapshot()
            .map_err(|e| format!("cannot take a snapshot of the store: {e}"))
    };
    match request {
        Request::Backup => {
            let snapshot = snapshot()?;
            let today = wbs_protocol::date::today_utc();
            let mut m =
                admin::write_backup(&snapshot, &today, &mut *frames).map_err(|e| e.to_string())?;
            // The summary's counts go to the operator, not next to a
            // time in the journal: counts from one backup to the next
            // would date arrivals.
            tracing::info!("backup taken through the control socket");
            // The file list is in the backup itself; the summary stays small.
            m.files.clear();
            Ok(json(&m))
        }
        Request::Verify => {
            let snapshot = snapshot()?;
            let mut failed = None;
            let summary = admin::verify(&snapshot, &mut |line| {
                tracing::error!("verify: {line}");
                if failed.is_none() {
                    if let Err(e) = frames.frame(b'L', line.as_bytes()) {
                        failed = Some(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(format!("the client went away: {e}"));
            }
            // No counts in the journal (see `backup` above).
            if summary.problems == 0 {
                tracing::info!("verify through the control socket: no problem found");
            } else {
                tracing::info!("verify through the control socket: problems found (above)");
            }
            Ok(json(&summary))
        }
        Request::Token(op) => {
            let listed = op.apply(store).map_err(|e| e.to_string())?;
            if op.changes() {
                tracing::info!("token change through the control socket (see the audit log)");
            }
            Ok(json(&listed))
        }
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("summaries always encode")
}

fn read_request(stream: &mut UnixStream) -> io::Result<String> {
    let mut line = Vec::new();
    io::BufReader::new(stream.take(MAX_REQUEST as u64 + 1)).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::other("no complete request line"));
    }
    String::from_utf8(line)
        .map(|s| s.trim().to_owned())
        .map_err(|_| io::Error::other("request is not UTF-8"))
}

/// Writes frames; as a `Write`, it sends data frames (`D`).
struct FrameWriter<'a> {
    stream: &'a mut UnixStream,
    buf: Vec<u8>,
}

impl<'a> FrameWriter<'a> {
    fn new(stream: &'a mut UnixStream) -> Self {
        FrameWriter {
            stream,
            buf: Vec::with_capacity(FRAME),
        }
    }

    /// Sends one frame; a payload over [`FRAME`] bytes is cut (only data
    /// frames could be that long, and `write` never makes one).
    fn frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let payload = &payload[..payload.len().min(FRAME)];
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        self.stream.write_all(&head)?;
        self.stream.write_all(payload)
    }
}

impl Write for FrameWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(FRAME - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == FRAME {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.frame(b'D', &buf)?;
            self.buf = buf;
            self.buf.clear();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- client

/// A connection to the control socket of a running server.
pub struct ControlClient {
    stream: UnixStream,
}

impl ControlClient {
    /// Connects to the control socket of a server running on `data`:
    /// `Ok(None)` if no server is running there (no socket, or a stale one).
    pub fn connect(data: &Path) -> Result<Option<ControlClient>, ControlError> {
        let path = socket_path(data);
        match UnixStream::connect(&path) {
            Ok(stream) => Ok(Some(ControlClient { stream })),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(ControlError::NotOurs(path))
            }
            Err(source) => Err(ControlError::Unreachable { path, source }),
        }
    }

    /// Streams a backup of the server's store into `out`.
    pub fn backup(self, out: &mut dyn Write) -> Result<BackupManifest, ControlError> {
        let json = self.request(&Request::Backup, &mut |d| out.write_all(d), &mut |_| {})?;
        summary(&json)
    }

    /// Verifies the server's store; problems go to `on_line` as found.
    pub fn verify(self, on_line: &mut dyn FnMut(&str)) -> Result<VerifySummary, ControlError> {
        let json = self.request(&Request::Verify, &mut |_| Ok(()), on_line)?;
        summary(&json)
    }

    /// Has the server carry out a token operation; the tokens for `List`.
    pub fn token(self, op: &TokenOp) -> Result<Vec<TokenInfo>, ControlError> {
        let json = self.request(&Request::Token(op.clone()), &mut |_| Ok(()), &mut |_| {})?;
        summary(&json)
    }

    /// Sends `request` and reads the answer: data frames go to `on_data`,
    /// report lines to `on_line`; returns the success summary (JSON) or the
    /// server's error.
    fn request(
        mut self,
        request: &Request,
        on_data: &mut dyn FnMut(&[u8]) -> io::Result<()>,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<String, ControlError> {
        self.stream
            .write_all(format!("{}\n", request.to_line()).as_bytes())
            .map_err(ControlError::Send)?;
        let mut reader = io::BufReader::with_capacity(FRAME, self.stream);
        let mut payload = Vec::new();
        loop {
            let mut head = [0u8; 5];
            reader.read_exact(&mut head).map_err(ControlError::Lost)?;
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            if len > FRAME {
                return Err(ControlError::Malformed);
            }
            payload.resize(len, 0);
            reader
                .read_exact(&mut payload)
                .map_err(ControlError::Lost)?;
            match head[0] {
                b'D' => on_data(&payload).map_err(ControlError::Output)?,
                b'L' => on_line(&String::from_utf8_lossy(&payload)),
                b'K' => return Ok(String::from_utf8_lossy(&payload).into_owned()),
                b'E' => {
                    return Err(ControlError::Refused(
                        String::from_utf8_lossy(&payload).into_owned(),
                    ))
                }
                _ => return Err(ControlError::Malformed),
            }
        }
    }
}

fn summary<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ControlError> {
    serde_json::from_str(json).map_err(|_| ControlError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::new_token;

    fn n(name: &str) -> wbs_store::TokenName {
        wbs_store::TokenName::parse(name).unwrap()
    }

    #[test]
    fn requests_round_trip_through_their_line() {
        let (token, hash) = new_token();
        let sealed = crate::totp::TotpSecret::generate().seal(&token);
        let longest_name = "x".repeat(64);
        for request in [
            Request::Backup,
            Request::Verify,
            Request::Token(TokenOp::Add {
                name: n("siti.r@desk-1"),
                hash,
                totp: None,
            }),
            Request::Token(TokenOp::Add {
                name: n(&longest_name),
                hash,
                totp: Some(sealed.clone()),
            }),
            Request::Token(TokenOp::Totp {
                name: n(&longest_name),
                hash,
                totp: Some(sealed.clone()),
            }),
            Request::Token(TokenOp::Totp {
                name: n("budi"),
                hash,
                totp: None,
            }),
            Request::Token(TokenOp::List),
            Request::Token(TokenOp::Revoke { name: n("budi_2") }),
        ] {
            let line = request.to_line();
            assert!(line.len() <= MAX_REQUEST, "{line}");
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(Request::parse(&line), Ok(request), "{line}");
        }
    }

    #[test]
    fn malformed_requests_are_refused() {
        let hash = "a".repeat(64);
        for bad in [
            String::new(),
            "backup".into(),
            r#"{"request":"shutdown"}"#.into(),
            r#"{"request":"token","op":"add","name":"siti"}"#.into(),
            r#"{"request":"token","op":"add","name":"siti","hash":"abc","totp":null}"#.into(),
            format!(
                r#"{{"request":"token","op":"add","name":"siti","hash":"{}","totp":null}}"#,
                "g".repeat(64)
            ),
            format!(
                r#"{{"request":"token","op":"add","name":"{}","hash":"{hash}","totp":null}}"#,
                "x".repeat(65)
            ),
            format!(
                r#"{{"request":"token","op":"add","name":"../x","hash":"{hash}","totp":null}}"#
            ),
            format!(
                r#"{{"request":"token","op":"add","name":"siti","hash":"{hash}","totp":"00ff"}}"#
            ),
            format!(
                r#"{{"request":"token","op":"totp","name":"siti","hash":"{hash}","totp":"{}"}}"#,
                "A".repeat(2 * crate::totp::SEALED_LEN)
            ),
            format!(
                r#"{{"request":"token","op":"totp","name":"siti","hash":"{hash}","totp":"{}"}}"#,
                "g".repeat(2 * crate::totp::SEALED_LEN)
            ),
            r#"{"request":"token","op":"revoke"}"#.into(),
            r#"{"request":"token","op":"revoke","name":""}"#.into(),
            r#"{"request":"token","op":"revoke","name":"siti","extra":1}"#.into(),
        ] {
            assert!(Request::parse(&bad).is_err(), "{bad:?} was accepted");
        }
    }
}
