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
//! Protocol: the client sends one line: `backup`, `verify`, `token-list`,
//! `token-add NAME SHA256-HEX SEALED`, `token-totp NAME SHA256-HEX SEALED`
//! or `token-revoke NAME`, where SEALED is a TOTP secret sealed under the
//! token, in hex, or `-` for none (never the secret or the token). The server
//! answers with frames, each a type byte, a big-endian `u32` length and
//! that many bytes:
//!
//! - `D`: backup data (a piece of the tar);
//! - `L`: a line of the verify report;
//! - `K`: the end, success; JSON summary ([`BackupManifest`], [`VerifySummary`],
//!   or for token requests the list of tokens, empty unless `token-list`);
//! - `E`: the end, failure; the message.
//!
//! A connection that ends without `K` or `E` is a failure.

use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::admin::{self, BackupManifest, VerifySummary};
use crate::state::SharedState;
use crate::tokens::TokenOp;

/// File name of the socket inside the data directory.
pub const SOCKET_NAME: &str = "control.sock";

/// Longest request line (`token-totp` with a 64-character name, a hash and
/// a sealed TOTP secret in hex is the longest, 237 bytes).
pub const MAX_REQUEST: usize = 256;

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
    let request = match read_request(&mut stream) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("control socket: bad request: {e}");
            return;
        }
    };
    let mut frames = FrameWriter::new(&mut stream);
    let store = app.store.as_ref();
    let result: Result<String, String> = match request.as_str() {
        "backup" => store
            .snapshot()
            .map_err(|e| format!("cannot take a snapshot of the store: {e}"))
            .and_then(|snapshot| {
                let today = wbs_protocol::date::today_utc();
                admin::write_backup(store, &snapshot, &today, &mut frames)
            })
            .and_then(|mut m| {
                // The summary's counts go to the operator, not next to a
                // time in the journal: counts from one backup to the next
                // would date arrivals.
                tracing::info!("backup taken through the control socket");
                // The file list is in the backup itself; the summary stays small.
                m.files.clear();
                serde_json::to_string(&m).map_err(|e| e.to_string())
            }),
        "verify" => store
            .snapshot()
            .map_err(|e| format!("cannot take a snapshot of the store: {e}"))
            .and_then(|snapshot| {
                let mut failed = None;
                let summary = admin::verify(store, &snapshot, &mut |line| {
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
                serde_json::to_string(&summary).map_err(|e| e.to_string())
            }),
        other => match TokenOp::parse_request(other) {
            Some(op) => op.and_then(|op| {
                let listed = op.apply(store)?;
                if !matches!(op, TokenOp::List) {
                    tracing::info!("token change through the control socket (see the audit log)");
                }
                serde_json::to_string(&listed).map_err(|e| e.to_string())
            }),
            None => Err(format!(
                "unknown request {other:?} (this server knows `backup`, `verify`, \
                 `token-add`, `token-list`, `token-totp` and `token-revoke`)"
            )),
        },
    };
    let end = match result {
        Ok(summary) => frames
            .flush()
            .and_then(|()| frames.frame(b'K', summary.as_bytes())),
        Err(e) => {
            // The verb only: a token request carries a token's hash.
            let verb = request.split(' ').next().unwrap_or_default();
            tracing::error!("control request {verb:?} failed: {e}");
            frames.frame(b'E', e.as_bytes())
        }
    };
    if let Err(e) = end {
        tracing::warn!("control socket: could not answer: {e}");
    }
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

/// Connects to the control socket of a server running on `data`:
/// `Ok(None)` if no server is running there (no socket, or a stale one).
pub fn connect(data: &Path) -> Result<Option<UnixStream>, String> {
    let path = socket_path(data);
    match UnixStream::connect(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(format!(
            "the server is running but its control socket {} is not ours to use: run this as \
             the user wbs-server runs as, or as root",
            path.display()
        )),
        Err(e) => Err(format!(
            "cannot reach the running server's control socket {}: {e}",
            path.display()
        )),
    }
}

/// Sends `request` and reads the answer: data frames go to `on_data`,
/// report lines to `on_line`; returns the success summary (JSON) or the
/// server's error.
pub fn request(
    mut stream: UnixStream,
    request: &str,
    on_data: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    on_line: &mut dyn FnMut(&str),
) -> Result<String, String> {
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("cannot send the request to the server: {e}"))?;
    let mut reader = io::BufReader::with_capacity(FRAME, stream);
    let mut payload = Vec::new();
    let lost = |e: io::Error| {
        format!("the server closed the connection before it was done ({e}); see its log")
    };
    loop {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).map_err(lost)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > FRAME {
            return Err("the server sent a malformed answer".into());
        }
        payload.resize(len, 0);
        reader.read_exact(&mut payload).map_err(lost)?;
        match head[0] {
            b'D' => on_data(&payload).map_err(|e| format!("cannot write the backup: {e}"))?,
            b'L' => on_line(&String::from_utf8_lossy(&payload)),
            b'K' => return Ok(String::from_utf8_lossy(&payload).into_owned()),
            b'E' => return Err(String::from_utf8_lossy(&payload).into_owned()),
            _ => return Err("the server sent a malformed answer".into()),
        }
    }
}

/// Parses the summary of a successful `backup` request.
pub fn backup_summary(json: &str) -> Result<BackupManifest, String> {
    serde_json::from_str(json).map_err(|e| format!("the server's summary does not parse: {e}"))
}

/// Parses the summary of a successful `verify` request.
pub fn verify_summary(json: &str) -> Result<VerifySummary, String> {
    serde_json::from_str(json).map_err(|e| format!("the server's summary does not parse: {e}"))
}
