//! Resumable uploads of large attachments (PROTOCOL.md §7.4).
//!
//! An attachment whose plaintext is larger than
//! [`ClientOptions::resumable_threshold`](crate::ClientOptions) is encrypted
//! once into a private pending folder, then sent with
//! `POST /api/v1/uploads`, `PATCH` and `HEAD`: after a broken connection the
//! client asks how much the server holds and sends the rest, as many times
//! as the connection keeps making progress. The submission or follow-up
//! then names the finished upload in an `attachment_upload` part.
//!
//! The pending folder (`<state>/pending-<kind>-<server digest>/`, mode 0700)
//! keeps the encrypted objects (0600) and `state.json` until the server has
//! confirmed the submission, so that `wbs-report … --resume` can go on after
//! the program was stopped. `state.json` holds only what resuming needs:
//! the server's address, the upload ids (capabilities for those uploads and
//! nothing else), the objects' lengths, and for each attachment a digest of
//! its size and SHA-256 under a random salt, which tells whether the files
//! given again are the ones encrypted, but cannot be looked up in a list of
//! known files' hashes. Never the receipt code, the message, the file names
//! or the reply key: the document is sealed afresh each time.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngCore;
use reqwest::blocking::Body;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wbs_protocol::api::PowSolution;
use wbs_protocol::message::AttachmentMeta;

use crate::transport::{error_from_response, read_json, Http};
use crate::{ClientError, Progress};

/// The name of the state file in a pending folder.
pub const STATE_FILE: &str = "state.json";

/// Consecutive failed attempts (no byte gained) before giving up.
const MAX_FRUITLESS_ATTEMPTS: u32 = 8;
/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Where pending uploads are kept: `WBS_REPORT_STATE_DIR`, else
/// `$XDG_STATE_HOME/wbs-report`, else `$HOME/.local/state/wbs-report`.
pub fn default_state_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = var("WBS_REPORT_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return Some(PathBuf::from(dir).join("wbs-report"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".local/state/wbs-report"))
}

/// The saved state of one pending submission or follow-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingState {
    /// Format version: 1.
    pub version: u32,
    /// `report` or `follow-up`.
    pub kind: String,
    /// The server's base URL.
    pub server: String,
    /// Random salt of the attachment checks, hex.
    pub salt: String,
    /// The attachments, in order.
    pub attachments: Vec<PendingObject>,
}

/// One encrypted attachment of a pending state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingObject {
    /// Its file in the pending folder.
    pub object: String,
    /// Its length in bytes.
    pub len: u64,
    /// SHA-256 of salt, size and plaintext digest, hex.
    pub check: String,
    /// The upload id, once the upload was opened.
    pub upload: Option<String>,
}

/// A pending folder: its path and state.
pub(crate) struct Pending {
    pub dir: PathBuf,
    pub state: PendingState,
}

fn hex(bytes: &[u8]) -> String {
    wbs_protocol::hex(bytes)
}

/// The salted check of an attachment's description.
pub(crate) fn check_of(salt: &str, meta: &AttachmentMeta) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(meta.size.to_be_bytes());
    h.update(meta.sha256.as_bytes());
    hex(&h.finalize())
}

/// The pending folder of `kind` for `server` under `root`.
pub(crate) fn pending_dir(root: &Path, kind: &str, server: &str) -> PathBuf {
    let digest = Sha256::digest(server.as_bytes());
    root.join(format!("pending-{kind}-{}", &hex(&digest)[..16]))
}

fn private_dir(path: &Path) -> Result<(), ClientError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
        .map_err(|e| ClientError::io(format!("cannot create {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ClientError::io(format!("cannot protect {}", path.display()), e))?;
    }
    Ok(())
}

impl Pending {
    /// A fresh, empty pending folder (an older one of the same kind for the
    /// same server is removed first).
    pub fn create(root: &Path, kind: &str, server: &str) -> Result<Pending, ClientError> {
        private_dir(root)?;
        let dir = pending_dir(root, kind, server);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| ClientError::io(format!("cannot remove {}", dir.display()), e))?;
        }
        private_dir(&dir)?;
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Ok(Pending {
            dir,
            state: PendingState {
                version: 1,
                kind: kind.into(),
                server: server.into(),
                salt: hex(&salt),
                attachments: Vec::new(),
            },
        })
    }

    /// The pending folder of `kind` for `server`, if a complete one exists.
    pub fn load(root: &Path, kind: &str, server: &str) -> Result<Option<Pending>, ClientError> {
        let dir = pending_dir(root, kind, server);
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ClientError::io(
                    format!("cannot read {}", path.display()),
                    e,
                ))
            }
        };
        let state: PendingState = serde_json::from_slice(&text)
            .map_err(|e| ClientError::Input(format!("{} is damaged: {e}", path.display())))?;
        if state.version != 1 || state.kind != kind || state.server != server {
            return Ok(None);
        }
        Ok(Some(Pending { dir, state }))
    }

    /// Writes `state.json` (0600), replacing the old one in one step.
    pub fn save(&self) -> Result<(), ClientError> {
        let path = self.dir.join(STATE_FILE);
        let failed = |e: wbs_files::FileError| match e {
            wbs_files::FileError::Io { source, .. } => {
                ClientError::io(format!("cannot write {}", path.display()), source)
            }
            other => ClientError::io(
                format!("cannot write {}", path.display()),
                std::io::Error::other(other.to_string()),
            ),
        };
        // A 0600 sibling, synced, renamed over the old state, and the
        // folder synced: a crash leaves the old state or the new one.
        let mut f = wbs_files::AtomicFile::create(&path).map_err(failed)?;
        f.write_all(&serde_json::to_vec_pretty(&self.state).expect("state serializes"))
            .map_err(|e| ClientError::io(format!("cannot write {}", path.display()), e))?;
        f.replace().map_err(failed)
    }

    /// The path of an object.
    pub fn object_path(&self, i: usize) -> PathBuf {
        self.dir.join(&self.state.attachments[i].object)
    }

    /// Removes the folder and everything in it.
    pub fn remove(self) -> Result<(), ClientError> {
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| ClientError::io(format!("cannot remove {}", self.dir.display()), e))
    }
}

/// `POST /api/v1/uploads` answer.
#[derive(Deserialize)]
struct Opened {
    upload: String,
}

/// The path of an upload.
fn upload_path(id: &str) -> String {
    format!("api/v1/uploads/{id}")
}

/// Whether an id has the shape the server gives (it is put in a URL path).
fn id_is_sane(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Opens an upload of `len` bytes; `None` when the server has no resumable
/// uploads (an older server: 404 or 405) or no room for one now (507
/// `staging_full`), so the object goes inline, as a one-shot upload.
pub(crate) fn open_upload(
    http: &Http,
    len: u64,
    pow: &mut dyn FnMut() -> Result<Option<PowSolution>, ClientError>,
) -> Result<Option<String>, ClientError> {
    let sent = http.send(&mut || {
        let body = serde_json::json!({ "length": len, "pow": pow()? });
        Ok(http.request(Method::POST, "api/v1/uploads").json(&body))
    })?;
    let status = sent.response.status();
    if status == StatusCode::NOT_FOUND
        || status == StatusCode::METHOD_NOT_ALLOWED
        || status == StatusCode::INSUFFICIENT_STORAGE
    {
        return Ok(None);
    }
    let opened: Opened = read_json(sent.success()?)?;
    if !id_is_sane(&opened.upload) {
        return Err(ClientError::Protocol("the upload id is malformed".into()));
    }
    Ok(Some(opened.upload))
}

/// What the server holds of an upload: `None` if it has no such upload.
fn held(http: &Http, id: &str) -> Result<Option<(u64, bool)>, reqwest::Error> {
    let r = http.request(Method::HEAD, &upload_path(id)).send()?;
    if r.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let offset = header_u64(&r, "upload-offset");
    let complete = r
        .headers()
        .get("upload-complete")
        .is_some_and(|v| v.as_bytes() == b"?1");
    Ok(offset.map(|o| (o, complete)))
}

fn header_u64(r: &reqwest::blocking::Response, name: &str) -> Option<u64> {
    r.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How one attempt ended.
enum Attempt {
    /// The server holds it all.
    Done,
    /// The server has no such upload (expired, or the server restarted).
    Gone,
    /// It broke; the server holds this many bytes, if it said.
    Broke(Option<u64>),
}

/// Sends the object at `path` (`len` bytes) into upload `id` from wherever
/// the server is, resuming after every break as long as breaks let bytes
/// through. `Ok(false)` when the server no longer has the upload.
pub(crate) fn send_object(
    http: &Http,
    id: &str,
    path: &Path,
    len: u64,
) -> Result<bool, ClientError> {
    let mut fruitless = 0u32;
    let mut best = 0u64;
    let mut pause = http.options().retry_pause;
    let mut known: Option<u64> = None;
    loop {
        let attempt = attempt(http, id, path, len, known);
        let at = match attempt {
            Ok(Attempt::Done) => return Ok(true),
            Ok(Attempt::Gone) => return Ok(false),
            Ok(Attempt::Broke(at)) => at,
            Err(e) => return Err(e),
        };
        known = at;
        if let Some(at) = at {
            if at > best {
                best = at;
                fruitless = 0;
                pause = http.options().retry_pause;
            }
        }
        fruitless += 1;
        if fruitless > MAX_FRUITLESS_ATTEMPTS {
            return Err(ClientError::Network(
                "the upload keeps breaking off; run the same command again with --resume \
                 to continue where it stopped"
                    .into(),
            ));
        }
        http.progress(Progress::Resuming {
            offset: best,
            total: len,
        });
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One attempt: ask the offset (unless known), then send the rest.
fn attempt(
    http: &Http,
    id: &str,
    path: &Path,
    len: u64,
    known: Option<u64>,
) -> Result<Attempt, ClientError> {
    let offset = match known {
        Some(o) => o,
        None => match held(http, id) {
            Ok(None) => return Ok(Attempt::Gone),
            Ok(Some((_, true))) => return Ok(Attempt::Done),
            Ok(Some((o, false))) => o,
            Err(_) => return Ok(Attempt::Broke(None)),
        },
    };
    if offset > len {
        return Err(ClientError::Protocol(
            "the server says it holds more bytes than the attachment has".into(),
        ));
    }
    let mut file =
        File::open(path).map_err(|e| ClientError::io("cannot read the pending upload", e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| ClientError::io("cannot read the pending upload", e))?;
    let rest = len - offset;
    http.progress(Progress::UploadingFrom { offset, total: len });
    let response = http
        .request(Method::PATCH, &upload_path(id))
        .timeout(http.options().upload_timeout(rest))
        .header("Upload-Offset", offset.to_string())
        .header("Upload-Complete", "?1")
        .header("Content-Type", "application/partial-upload")
        .body(Body::sized(file, rest))
        .send();
    let response = match response {
        Ok(r) => r,
        Err(_) => return Ok(Attempt::Broke(None)),
    };
    let status = response.status();
    if status.is_success() {
        let complete = response
            .headers()
            .get("upload-complete")
            .is_some_and(|v| v.as_bytes() == b"?1");
        return Ok(if complete {
            Attempt::Done
        } else {
            Attempt::Broke(header_u64(&response, "upload-offset"))
        });
    }
    if status == StatusCode::NOT_FOUND {
        return Ok(Attempt::Gone);
    }
    let at = header_u64(&response, "upload-offset");
    if status == StatusCode::CONFLICT || status == StatusCode::REQUEST_TIMEOUT {
        // The server holds another offset than thought, or the request was
        // cut: go on from where it is.
        let err = error_from_response(response);
        if matches!(&err, ClientError::Http { code, .. } if code == "upload_conflict") {
            return Err(err);
        }
        return Ok(Attempt::Broke(at));
    }
    if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
        return Ok(Attempt::Broke(at));
    }
    Err(error_from_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, sha256: &str) -> AttachmentMeta {
        AttachmentMeta {
            name: "a.bin".into(),
            media_type: "application/octet-stream".into(),
            size,
            sha256: sha256.into(),
            metadata: None,
        }
    }

    #[test]
    fn a_pending_state_is_private_found_again_for_its_server_only_and_removed() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().join("state");
        let server = "http://127.0.0.1:8080/";
        let mut p = Pending::create(&root, "report", server).unwrap();
        let m = meta(5, "ab");
        p.state.attachments.push(PendingObject {
            object: "1.age".into(),
            len: 200,
            check: check_of(&p.state.salt, &m),
            upload: Some("x".repeat(43)),
        });
        p.save().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p.dir), 0o700);
            assert_eq!(mode(&p.dir.join(STATE_FILE)), 0o600);
        }
        let again = Pending::load(&root, "report", server).unwrap().unwrap();
        assert_eq!(again.state.attachments[0].upload, Some("x".repeat(43)));
        // The check is salted: the plain digest is nowhere in the file, and
        // another salt gives another check.
        let text = std::fs::read_to_string(p.dir.join(STATE_FILE)).unwrap();
        assert!(!text.contains("\"ab\""));
        assert_ne!(check_of("00", &m), check_of("01", &m));
        assert_ne!(check_of("00", &m), check_of("00", &meta(6, "ab")));
        // Another server or kind finds nothing.
        assert!(Pending::load(&root, "report", "http://other/")
            .unwrap()
            .is_none());
        assert!(Pending::load(&root, "follow-up", server).unwrap().is_none());
        let dir = again.dir.clone();
        again.remove().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn only_ids_of_the_servers_shape_are_put_in_a_path() {
        assert!(id_is_sane(&"A".repeat(43)));
        assert!(!id_is_sane(&"A".repeat(42)));
        assert!(!id_is_sane(&format!("{}/", "A".repeat(42))));
        assert!(!id_is_sane(&format!("{}?", "A".repeat(42))));
    }
}
