//! The online investigator desk: list cases, pull export bundles to carry
//! to the air-gapped machine, push reply bundles back, set statuses.
//!
//! A pulled bundle is checked in full (every object's SHA-256 against its
//! manifest) before it is given its final name, so a file at `--out` is
//! always a complete, verified bundle.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reqwest::blocking::{Body, RequestBuilder};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use secrecy::SecretString;
use wbs_protocol::api::{DeskCases, DeskStatusRequest, ImportResult, CURSOR_HEADER, TOTP_HEADER};
use wbs_protocol::bundle::{
    self, read_export, BundleError, CaseManifest, ExportManifest, ExportSummary, ExportVisitor,
    ObjectEntry,
};
use wbs_protocol::Status;
use zeroize::Zeroizing;

use crate::transport::{read_json, ClientOptions, Http};
use crate::{ClientError, Progress};

/// Longest export cursor accepted from the server or the command line.
pub const MAX_CURSOR_LEN: usize = 256;

/// A pulled and verified export bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The cursor the bundle started after, as its `export.json` says.
    pub since: String,
    /// The cursor to pull from next time.
    pub cursor: String,
    /// What the bundle holds.
    pub summary: ExportSummary,
}

/// The blocking HTTP client for the desk routes of API v1, authenticated
/// with an investigator token and, where the token has a TOTP second
/// factor, a code ([`set_totp_code`](DeskClient::set_totp_code)).
///
/// The server accepts each TOTP code once, so a client with a code makes
/// one request with it: each method here is one request (a retry after a
/// network error or a busy answer may resend the code, and is then refused
/// as a used code if the first attempt got through: wait for the next code).
pub struct DeskClient {
    http: Http,
    totp: Option<HeaderValue>,
}

impl DeskClient {
    /// A desk client for `server`, through `proxy` if given.
    pub fn new(
        server: &str,
        proxy: Option<&str>,
        token: &SecretString,
    ) -> Result<Self, ClientError> {
        Self::with_options(server, proxy, token, ClientOptions::desk())
    }

    /// Like [`DeskClient::new`] with explicit network settings.
    pub fn with_options(
        server: &str,
        proxy: Option<&str>,
        token: &SecretString,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let mut http = Http::new(server, proxy, options)?;
        http.set_bearer(token)?;
        Ok(DeskClient { http, totp: None })
    }

    /// Sends `code` (six digits; spaces are ignored) in the `X-Wbs-Totp`
    /// header of every later request.
    pub fn set_totp_code(&mut self, code: &str) -> Result<(), ClientError> {
        let digits: Zeroizing<String> =
            Zeroizing::new(code.trim().chars().filter(|c| *c != ' ').collect());
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ClientError::Input(
                "a TOTP code is the six digits the authenticator app shows".into(),
            ));
        }
        let mut value = HeaderValue::from_str(&digits).expect("six digits are a header value");
        value.set_sensitive(true);
        self.totp = Some(value);
        Ok(())
    }

    /// Whether a TOTP code is set.
    pub fn has_totp_code(&self) -> bool {
        self.totp.is_some()
    }

    /// Whether `e` is the server asking for a TOTP code (401
    /// `totp_required`): the token has a second factor and no code was
    /// sent.
    pub fn totp_required(e: &ClientError) -> bool {
        matches!(e, ClientError::Http { status: 401, code, .. } if code == "totp_required")
    }

    /// A request with the token and, if set, the TOTP code.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, path);
        match &self.totp {
            Some(code) => request.header(TOTP_HEADER, code.clone()),
            None => request,
        }
    }

    /// Calls `f` for each step of long operations.
    pub fn on_progress(&mut self, f: impl Fn(Progress) + Send + Sync + 'static) {
        self.http.set_progress(std::sync::Arc::new(f));
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        self.http.base()
    }

    /// `GET /api/v1/desk/cases`.
    pub fn cases(&self) -> Result<DeskCases, ClientError> {
        let response = self
            .http
            .send_ok(&mut || Ok(self.request(Method::GET, "api/v1/desk/cases")))?;
        read_json(response)
    }

    /// Downloads the export bundle of everything stored after `since`
    /// (everything if `None`), verifies it in full and only then gives it
    /// the name `out`. Refuses if `out` exists; never leaves a partial file
    /// there.
    pub fn pull_to(&self, out: &Path, since: Option<&str>) -> Result<Pulled, ClientError> {
        if let Some(since) = since {
            validate_cursor(since)
                .map_err(|why| ClientError::Input(format!("invalid cursor {since:?}: {why}")))?;
        }
        if out.symlink_metadata().is_ok() {
            return Err(exists(out));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(ClientError::Input(format!(
                "cannot write {}: folder {} does not exist",
                out.display(),
                parent.display()
            )));
        }
        let mut partial = tempfile::Builder::new()
            .prefix(".wbs-pull-")
            .suffix(".part")
            .tempfile_in(&parent)
            .map_err(|e| {
                ClientError::io(format!("cannot create a file in {}", parent.display()), e)
            })?;

        let mut response = self.http.send_ok(&mut || {
            let mut request = self.request(Method::GET, "api/v1/desk/export");
            if let Some(since) = since {
                request = request.query(&[("since", since)]);
            }
            Ok(request)
        })?;
        let cursor = response
            .headers()
            .get(CURSOR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                ClientError::Protocol(format!("the export has no {CURSOR_HEADER} header"))
            })?;
        validate_cursor(&cursor).map_err(|why| {
            ClientError::Protocol(format!("the export's cursor is invalid: {why}"))
        })?;
        self.http.progress(Progress::Downloading {
            bytes: response.content_length(),
        });
        {
            let write_error =
                |e: io::Error| ClientError::io(format!("cannot write in {}", parent.display()), e);
            let mut writer = BufWriter::new(partial.as_file_mut());
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match response.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(ClientError::Network(format!("the export broke off: {e}")))
                    }
                };
                writer.write_all(&buf[..n]).map_err(write_error)?;
            }
            writer.flush().map_err(write_error)?;
        }
        partial
            .as_file()
            .sync_all()
            .map_err(|e| ClientError::io(format!("cannot write in {}", parent.display()), e))?;

        self.http.progress(Progress::Verifying);
        partial
            .as_file_mut()
            .seek(SeekFrom::Start(0))
            .map_err(|e| ClientError::io("cannot read the downloaded bundle", e))?;
        let mut verifier = Verifier::default();
        let summary = read_export(
            BufReader::new(partial.as_file()),
            &bundle::Limits::EXPORT,
            &mut verifier,
        )
        .map_err(|e| {
            ClientError::Protocol(format!("the downloaded export bundle is invalid: {e}"))
        })?;
        let manifest = verifier
            .manifest
            .expect("read_export succeeds only after export.json");
        if manifest.cursor != cursor {
            return Err(ClientError::Protocol(format!(
                "the export's {CURSOR_HEADER} header ({cursor}) does not match its export.json ({})",
                manifest.cursor
            )));
        }

        partial.persist_noclobber(out).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                exists(out)
            } else {
                ClientError::io(format!("cannot write {}", out.display()), e.error)
            }
        })?;
        wbs_files::sync_dir_of(out);
        Ok(Pulled {
            since: manifest.since,
            cursor,
            summary,
        })
    }

    /// Uploads a reply bundle made by the air-gapped tool. The bundle is
    /// checked locally first, so a damaged file is refused before upload.
    /// Pushing the same bundle twice is harmless: the server skips items it
    /// has applied.
    pub fn push(&self, bundle_path: &Path) -> Result<ImportResult, ClientError> {
        let shown = bundle_path.display();
        let file = File::open(bundle_path)
            .map_err(|e| ClientError::io(format!("cannot read {shown}"), e))?;
        let len = file
            .metadata()
            .map_err(|e| ClientError::io(format!("cannot read {shown}"), e))?
            .len();
        bundle::read_replies(
            BufReader::new(file),
            &bundle::Limits::REPLIES,
            |_| Ok(()),
            |item, data| {
                io::copy(data, &mut io::sink())
                    .map(drop)
                    .map_err(|_| BundleError::HashMismatch(item.reply_path()))
            },
        )
        .map_err(|e| ClientError::Input(format!("{shown} is not a valid reply bundle: {e}")))?;

        self.http.progress(Progress::Uploading { bytes: len });
        let response = self.http.send_ok(&mut || {
            let file = File::open(bundle_path)
                .map_err(|e| ClientError::io(format!("cannot read {shown}"), e))?;
            Ok(self
                .request(Method::POST, "api/v1/desk/import")
                .timeout(self.http.options().upload_timeout(len))
                .header(CONTENT_TYPE, "application/x-tar")
                .body(Body::sized(file, len)))
        })?;
        read_json(response)
    }

    /// Sets a case's status.
    pub fn set_status(&self, case_id: &str, status: Status) -> Result<(), ClientError> {
        if !bundle::is_valid_id(case_id) {
            return Err(ClientError::Input(format!(
                "invalid case id {:?}: case ids are lower-case letters, digits, '-' and '_'",
                crate::terminal::single_line(case_id)
            )));
        }
        let request = DeskStatusRequest { status };
        let path = format!("api/v1/desk/cases/{case_id}/status");
        let sent = self
            .http
            .send(&mut || Ok(self.request(Method::POST, &path).json(&request)))?;
        if sent.response.status() == StatusCode::NOT_FOUND {
            return Err(ClientError::Input(format!(
                "no case with id {case_id} on this server"
            )));
        }
        sent.success().map(drop)
    }
}

/// Reads every object to the end, so that [`read_export`] checks each
/// SHA-256, and keeps `export.json`.
#[derive(Default)]
struct Verifier {
    manifest: Option<ExportManifest>,
}

impl ExportVisitor for Verifier {
    fn manifest(&mut self, manifest: &ExportManifest) -> Result<(), BundleError> {
        self.manifest = Some(manifest.clone());
        Ok(())
    }

    fn object(
        &mut self,
        case: &CaseManifest,
        entry: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        io::copy(data, &mut io::sink()).map(drop).map_err(|e| {
            let path = format!("cases/{}/{}", case.id, entry.path);
            if e.kind() == io::ErrorKind::InvalidData {
                BundleError::HashMismatch(path)
            } else {
                BundleError::Tar(format!("{path}: {e}"))
            }
        })
    }
}

fn exists(out: &Path) -> ClientError {
    ClientError::Input(format!(
        "{} already exists: refusing to overwrite it",
        out.display()
    ))
}

/// Checks an export cursor: 1 to [`MAX_CURSOR_LEN`] visible ASCII
/// characters, so it is safe in a file, a query string and on a terminal.
pub fn validate_cursor(cursor: &str) -> Result<(), &'static str> {
    if cursor.is_empty() {
        return Err("it is empty");
    }
    if cursor.len() > MAX_CURSOR_LEN {
        return Err("it is too long");
    }
    if !cursor.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("it has characters a cursor cannot have");
    }
    Ok(())
}

/// Where the cursor of the last successful pull is kept: next to the token
/// file, `<token-file>.cursor`.
pub fn cursor_file_for(token_file: &Path) -> PathBuf {
    let mut name = token_file.as_os_str().to_os_string();
    name.push(".cursor");
    PathBuf::from(name)
}

/// Reads a saved cursor; `None` if there is no cursor file yet.
pub fn read_saved_cursor(path: &Path) -> Result<Option<String>, ClientError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ClientError::io(
                format!("cannot read {}", path.display()),
                e,
            ))
        }
    };
    let cursor = text.trim();
    validate_cursor(cursor).map_err(|why| {
        ClientError::Input(format!(
            "{} does not hold a valid cursor ({why}); pass --since CURSOR or --all",
            path.display()
        ))
    })?;
    Ok(Some(cursor.to_string()))
}

/// Saves a cursor atomically (written aside, then renamed over the old one).
pub fn save_cursor(path: &Path, cursor: &str) -> Result<(), ClientError> {
    validate_cursor(cursor).map_err(|why| ClientError::Input(format!("invalid cursor: {why}")))?;
    let context = || format!("cannot save the cursor to {}", path.display());
    let failed = |e: wbs_files::FileError| ClientError::io(context(), std::io::Error::other(e));
    let mut file = wbs_files::AtomicFile::create(path).map_err(failed)?;
    writeln!(file, "{cursor}").map_err(|e| ClientError::io(context(), e))?;
    file.replace().map_err(failed)?;
    Ok(())
}

/// The token in a token file's text: its first non-empty line, trimmed.
pub fn parse_token(text: &str) -> Result<SecretString, ClientError> {
    let token = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| ClientError::Input("the token file is empty".into()))?;
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ClientError::Input(
            "the token file's first line has characters a token cannot have".into(),
        ));
    }
    Ok(SecretString::from(token.to_string()))
}

/// Reads the token from a token file.
pub fn read_token_file(path: &Path) -> Result<SecretString, ClientError> {
    let mut bytes = Zeroizing::new(Vec::new());
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| {
            ClientError::io(format!("cannot read the token file {}", path.display()), e)
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ClientError::Input(format!("the token file {} is not text", path.display()))
    })?;
    parse_token(text).map_err(|e| ClientError::Input(format!("{}: {e}", path.display())))
}

/// Whether other users may read the token file (group or other permission
/// bits set). Always `false` where there are no such bits.
pub fn token_file_is_exposed(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn totp_codes_are_six_digits_and_totp_required_is_recognised() {
        let token = SecretString::from("wbs_x".to_string());
        let mut desk = DeskClient::new("http://127.0.0.1:9/", None, &token).unwrap();
        assert!(!desk.has_totp_code());
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert!(desk.set_totp_code(bad).is_err(), "{bad:?}");
        }
        assert!(!desk.has_totp_code());
        desk.set_totp_code(" 123 456\n").unwrap();
        assert!(desk.has_totp_code());
        let request = desk
            .request(Method::GET, "api/v1/desk/cases")
            .build()
            .unwrap();
        assert_eq!(request.headers()[TOTP_HEADER], "123456");
        assert!(request.headers()[TOTP_HEADER].is_sensitive());
        let http = |status, code: &str| ClientError::Http {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(DeskClient::totp_required(&http(401, "totp_required")));
        assert!(!DeskClient::totp_required(&http(401, "unauthorized")));
        assert!(!DeskClient::totp_required(&http(401, "totp_wrong")));
    }

    #[test]
    fn token_is_the_first_non_empty_line_trimmed() {
        let token = parse_token("\n   \n  abc123DEF  \nsecond line\n").unwrap();
        assert_eq!(token.expose_secret(), "abc123DEF");
        let token = parse_token("wbs_tok_0123\r\n").unwrap();
        assert_eq!(token.expose_secret(), "wbs_tok_0123");
    }

    #[test]
    fn empty_or_odd_token_files_are_refused() {
        assert!(parse_token("").is_err());
        assert!(parse_token("\n \n\t\n").is_err());
        assert!(parse_token("two words").is_err());
        assert!(parse_token("tökén").is_err());
    }

    #[test]
    fn token_file_errors_name_the_file_but_not_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.token");
        std::fs::write(&path, "secret with space\n").unwrap();
        let msg = read_token_file(&path).unwrap_err().to_string();
        assert!(msg.contains("desk.token"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        std::fs::write(&path, "  good-token \n").unwrap();
        assert_eq!(
            read_token_file(&path).unwrap().expose_secret(),
            "good-token"
        );
    }

    #[cfg(unix)]
    #[test]
    fn readable_token_files_are_noticed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.token");
        std::fs::write(&path, "t\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!token_file_is_exposed(&path));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(token_file_is_exposed(&path));
    }

    #[test]
    fn cursor_file_sits_next_to_the_token_file() {
        assert_eq!(
            cursor_file_for(Path::new("/etc/wbs/desk.token")),
            PathBuf::from("/etc/wbs/desk.token.cursor")
        );
    }

    #[test]
    fn cursors_are_saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.cursor");
        assert_eq!(read_saved_cursor(&path).unwrap(), None);
        save_cursor(&path, "000000000042").unwrap();
        assert_eq!(
            read_saved_cursor(&path).unwrap().as_deref(),
            Some("000000000042")
        );
        save_cursor(&path, "000000000043").unwrap();
        assert_eq!(
            read_saved_cursor(&path).unwrap().as_deref(),
            Some("000000000043")
        );
        std::fs::write(&path, "bad cursor\n").unwrap();
        assert!(read_saved_cursor(&path).is_err());
    }

    #[test]
    fn cursor_validation() {
        assert!(validate_cursor("0").is_ok());
        assert!(validate_cursor("a-b_c.1~").is_ok());
        assert!(validate_cursor("").is_err());
        assert!(validate_cursor("a b").is_err());
        assert!(validate_cursor("a\nb").is_err());
        assert!(validate_cursor(&"9".repeat(MAX_CURSOR_LEN + 1)).is_err());
    }

    #[test]
    fn pull_refuses_an_existing_output_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle.tar");
        std::fs::write(&out, "mine").unwrap();
        // Port 1 on loopback: a request would fail with a network error.
        let desk = DeskClient::new("http://127.0.0.1:1", None, &SecretString::from("t")).unwrap();
        let err = desk.pull_to(&out, None).unwrap_err();
        assert!(matches!(err, ClientError::Input(_)), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    }

    #[test]
    fn set_status_refuses_bad_case_ids_before_any_request() {
        let desk = DeskClient::new("http://127.0.0.1:1", None, &SecretString::from("t")).unwrap();
        for bad in ["../config", "ABC", "", "a/b", "-x"] {
            let err = desk.set_status(bad, Status::InReview).unwrap_err();
            assert!(matches!(err, ClientError::Input(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn push_refuses_a_file_that_is_not_a_reply_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replies.tar");
        std::fs::write(&path, b"not a tar at all").unwrap();
        let desk = DeskClient::new("http://127.0.0.1:1", None, &SecretString::from("t")).unwrap();
        let err = desk.push(&path).unwrap_err();
        assert!(
            err.to_string().contains("not a valid reply bundle"),
            "{err}"
        );
    }
}
