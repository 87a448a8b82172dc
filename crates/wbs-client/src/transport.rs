//! The HTTP layer: server and proxy URLs, the `reqwest` client with its
//! privacy settings, error answers, timeouts and the retry policy.
//!
//! What a reporter's client sends must not say who or what it runs on: a
//! fixed User-Agent, no cookies, no `Referer`, no redirects (a redirect could
//! move an onion connection to the clear web), no proxy from the environment
//! (only the one given on the command line, so behaviour is what the command
//! says).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use wbs_protocol::api::ErrorBody;

use crate::error::{describe_reqwest, ClientError};
use crate::Progress;

/// The User-Agent of `wbs-report`: the same for everyone, no version, no OS.
pub const REPORTER_USER_AGENT: &str = "wbs-report";
/// The User-Agent of `wbs-desk`.
pub const DESK_USER_AGENT: &str = "wbs-desk";

/// Largest error or JSON answer read into memory. A status answer carries
/// every reply as base64, so it can be a few megabytes.
const MAX_JSON_ANSWER: u64 = 64 << 20;
/// Largest error body read.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Default of [`ClientOptions::resumable_threshold`]: 8 MiB.
pub const DEFAULT_RESUMABLE_THRESHOLD: u64 = 8 << 20;
/// Wait when the server is busy and gives no `Retry-After`.
const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(2);

/// Network settings. [`ClientOptions::default`] suits the reporter;
/// [`ClientOptions::desk`] the investigator desk.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The User-Agent header sent with every request.
    pub user_agent: String,
    /// Longest time to open a connection (through the proxy, if any).
    pub connect_timeout: Duration,
    /// Longest time for a small request, and for each read of a download.
    pub request_timeout: Duration,
    /// Slowest upload rate tolerated, bytes per second: an upload of `n`
    /// bytes may take `request_timeout + n / min_upload_rate`. Large uploads
    /// over Tor are slow, so there is no fixed total timeout, only this bound
    /// that cuts a stalled transfer.
    pub min_upload_rate: u64,
    /// Longest `Retry-After` honoured when the server is busy (429/503);
    /// a longer one ends the operation with the server's message.
    pub max_retry_wait: Duration,
    /// How many times a busy answer is retried.
    pub busy_retries: u32,
    /// Pause before repeating a request whose connection broke (a fresh Tor
    /// circuit, a restarting server).
    pub retry_pause: Duration,
    /// Attachments larger than this (bytes, before encryption) go through
    /// resumable uploads (PROTOCOL.md §7.4) when the server offers them.
    pub resumable_threshold: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: REPORTER_USER_AGENT.into(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            min_upload_rate: 8 * 1024,
            max_retry_wait: Duration::from_secs(60),
            busy_retries: 3,
            retry_pause: Duration::from_secs(1),
            resumable_threshold: DEFAULT_RESUMABLE_THRESHOLD,
        }
    }
}

impl ClientOptions {
    /// Settings for the investigator desk.
    pub fn desk() -> Self {
        ClientOptions {
            user_agent: DESK_USER_AGENT.into(),
            ..ClientOptions::default()
        }
    }

    /// The time allowed for an upload of `bytes`.
    pub fn upload_timeout(&self, bytes: u64) -> Duration {
        let rate = self.min_upload_rate.max(1);
        self.request_timeout + Duration::from_secs(bytes / rate)
    }
}

/// Parses the server's base URL: `http` or `https`, no user name or
/// password, no query or fragment. The result ends with `/` so that API
/// paths are joined under it (a server may live under a path prefix).
pub fn parse_server_url(s: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::Input(format!("invalid server URL {:?}: {why}", s));
    if !s.contains("://") {
        return Err(bad("it must start with http:// or https://"));
    }
    let mut url = Url::parse(s.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("it must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not contain a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not contain a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Whether talking to `server` sends the fact of using the drop box over
/// the open internet in clear text: plain `http://` to something that is
/// neither an onion service nor this machine. (The content is end-to-end
/// encrypted either way.)
pub fn is_cleartext_to_internet(server: &Url) -> bool {
    if server.scheme() != "http" {
        return false;
    }
    let host = server.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return !ip.is_loopback();
    }
    let domain = host.trim_end_matches('.').to_ascii_lowercase();
    !(domain == "localhost" || domain.ends_with(".localhost") || domain.ends_with(".onion"))
}

/// Parses a `--proxy` URL. Only `socks5h://HOST:PORT` is accepted: with
/// `socks5h` the proxy (Tor) resolves host names, while `socks5` would look
/// them up through the local resolver and tell it which server is contacted.
pub fn parse_proxy(s: &str) -> Result<Url, ClientError> {
    let url = Url::parse(s.trim()).map_err(|_| {
        ClientError::Input(format!(
            "invalid proxy {s:?}: expected socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050)"
        ))
    })?;
    match url.scheme() {
        "socks5h" => {}
        "socks5" => {
            return Err(ClientError::Input(
                "refusing a socks5:// proxy: it resolves host names locally and leaks them; \
                 use socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050)"
                    .into(),
            ))
        }
        other => {
            return Err(ClientError::Input(format!(
                "unsupported proxy scheme {other:?}: only socks5h://HOST:PORT is accepted \
                 (Tor: socks5h://127.0.0.1:9050)"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) || url.port().is_none() {
        return Err(ClientError::Input(format!(
            "invalid proxy {s:?}: expected socks5h://HOST:PORT"
        )));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Input(format!(
            "invalid proxy {s:?}: expected socks5h://HOST:PORT and nothing after the port"
        )));
    }
    Ok(url)
}

/// The progress callback, shared between the client's parts.
pub(crate) type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The answer to a request, after busy answers and transport errors were
/// retried.
pub(crate) struct Sent {
    /// The answer; its status is any but a retried busy one.
    pub response: Response,
    /// Whether an earlier attempt broke after the request may have reached
    /// the server.
    pub after_transport_error: bool,
}

impl Sent {
    /// The response if its status is a success, else the server's error.
    pub fn success(self) -> Result<Response, ClientError> {
        if self.response.status().is_success() {
            Ok(self.response)
        } else {
            Err(error_from_response(self.response))
        }
    }
}

/// A `reqwest` client bound to one server.
pub(crate) struct Http {
    client: reqwest::blocking::Client,
    base: Url,
    options: ClientOptions,
    bearer: Option<HeaderValue>,
    progress: Option<ProgressFn>,
}

impl Http {
    pub fn new(
        server: &str,
        proxy: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let base = parse_server_url(server)?;
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            // Each request sets its own bound (see `ClientOptions`).
            .timeout(None::<Duration>)
            .redirect(reqwest::redirect::Policy::none())
            // No cookie store exists: reqwest is built without its `cookies` feature.
            .referer(false);
        builder = match proxy {
            Some(p) => {
                let url = parse_proxy(p)?;
                let proxy = reqwest::Proxy::all(url.as_str())
                    .map_err(|e| ClientError::Input(format!("invalid proxy: {e}")))?;
                builder.proxy(proxy)
            }
            None => builder.no_proxy(),
        };
        let client = builder
            .build()
            .map_err(|e| ClientError::Network(describe_reqwest(&e)))?;
        Ok(Http {
            client,
            base,
            options,
            bearer: None,
            progress: None,
        })
    }

    pub fn set_bearer(&mut self, token: &SecretString) -> Result<(), ClientError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                ClientError::Input("the token contains characters a token cannot have".into())
            })?;
        value.set_sensitive(true);
        self.bearer = Some(value);
        Ok(())
    }

    pub fn set_progress(&mut self, progress: ProgressFn) {
        self.progress = Some(progress);
    }

    pub fn progress(&self, event: Progress) {
        if let Some(p) = &self.progress {
            p(event);
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A request to `path` (relative to the server's base URL, no leading
    /// slash) with the bound for small requests.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = self
            .base
            .join(path)
            .expect("API paths are valid relative URLs");
        let mut builder = self
            .client
            .request(method, url)
            .timeout(self.options.request_timeout);
        if let Some(bearer) = &self.bearer {
            builder = builder.header(AUTHORIZATION, bearer.clone());
        }
        builder
    }

    /// Sends the request `build` makes, building a fresh one for each
    /// attempt. Busy answers (429, 503) are retried after `Retry-After`,
    /// within the bounds of [`ClientOptions`]; a transport error (refused,
    /// reset, timed out) once. Every request WBS makes is safe to send
    /// twice: reads are reads, a resent submission meets its own lookup
    /// (409, which the caller recognises), a resent follow-up is stored once
    /// by the server, and a reply bundle is applied once per item. Any
    /// other answer is returned, error statuses included.
    pub fn send(
        &self,
        build: &mut dyn FnMut() -> Result<RequestBuilder, ClientError>,
    ) -> Result<Sent, ClientError> {
        let mut transport_retried = false;
        let mut busy_retries = 0;
        loop {
            let request = build()?;
            let response = match request.send() {
                Ok(r) => r,
                Err(e) => {
                    if !e.is_builder() && !transport_retried {
                        transport_retried = true;
                        self.progress(Progress::Retrying {
                            reason: describe_reqwest(&e),
                        });
                        std::thread::sleep(self.options.retry_pause);
                        continue;
                    }
                    return Err(ClientError::Network(describe_reqwest(&e)));
                }
            };
            let status = response.status();
            if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) && busy_retries < self.options.busy_retries
            {
                let wait = retry_after(&response).unwrap_or(DEFAULT_BUSY_WAIT);
                if wait <= self.options.max_retry_wait {
                    busy_retries += 1;
                    self.progress(Progress::Waiting {
                        seconds: wait.as_secs(),
                    });
                    drop(response);
                    std::thread::sleep(wait);
                    continue;
                }
            }
            return Ok(Sent {
                response,
                after_transport_error: transport_retried,
            });
        }
    }

    /// Sends and expects a success status.
    pub fn send_ok(
        &self,
        build: &mut dyn FnMut() -> Result<RequestBuilder, ClientError>,
    ) -> Result<Response, ClientError> {
        self.send(build)?.success()
    }
}

/// The delay a `Retry-After` header asks for (delta-seconds form only; an
/// HTTP date is ignored, as the client's clock is not to be trusted).
pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    parse_retry_after(response.headers().get(RETRY_AFTER)?.to_str().ok()?)
}

/// Parses a `Retry-After` value in seconds.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Turns an error answer into [`ClientError::Http`] with the server's message.
pub(crate) fn error_from_response(response: Response) -> ClientError {
    let status = response.status();
    let mut body = Vec::new();
    // The body is only for the message: a broken one still leaves the status.
    let _ = response.take(MAX_ERROR_BODY).read_to_end(&mut body);
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => ClientError::Http {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
        },
        Err(_) => ClientError::Http {
            status: status.as_u16(),
            code: String::new(),
            message: status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_string(),
        },
    }
}

/// Reads a JSON answer of a bounded size.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    response: Response,
) -> Result<T, ClientError> {
    let mut body = Vec::new();
    response
        .take(MAX_JSON_ANSWER + 1)
        .read_to_end(&mut body)
        .map_err(|e| ClientError::Network(format!("the answer broke off: {e}")))?;
    if body.len() as u64 > MAX_JSON_ANSWER {
        return Err(ClientError::Protocol("the answer is too large".into()));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ClientError::Protocol(format!("invalid JSON answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_socks5h_proxies_are_accepted() {
        assert!(parse_proxy("socks5h://127.0.0.1:9050").is_ok());
        assert!(parse_proxy("socks5h://tor.internal:9150/").is_ok());
        let socks5 = parse_proxy("socks5://127.0.0.1:9050")
            .unwrap_err()
            .to_string();
        assert!(socks5.contains("socks5h"), "{socks5}");
        assert!(socks5.contains("leaks"), "{socks5}");
        for bad in [
            "http://127.0.0.1:8118",
            "https://proxy:443",
            "socks4://127.0.0.1:9050",
            "127.0.0.1:9050",
            "socks5h://127.0.0.1",
            "socks5h://127.0.0.1:9050/path",
            "",
        ] {
            assert!(parse_proxy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_urls_get_a_trailing_slash_and_bad_ones_are_refused() {
        assert_eq!(
            parse_server_url("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        let prefixed = parse_server_url("https://wbs.example.go.id/wbs").unwrap();
        assert_eq!(
            prefixed.join("api/v1/config").unwrap().as_str(),
            "https://wbs.example.go.id/wbs/api/v1/config"
        );
        for bad in [
            "wbs.example.go.id",
            "ftp://example.org/",
            "https://user:pw@example.org/",
            "https://example.org/?x=1",
            "https://example.org/#top",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cleartext_warning_only_for_the_open_internet() {
        let warn = |s: &str| is_cleartext_to_internet(&parse_server_url(s).unwrap());
        assert!(warn("http://wbs.example.go.id"));
        assert!(warn("http://203.0.113.7:8080"));
        assert!(!warn("https://wbs.example.go.id"));
        assert!(!warn(
            "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion"
        ));
        assert!(!warn("http://127.0.0.1:8080"));
        assert!(!warn("http://[::1]:8080"));
        assert!(!warn("http://localhost:8080"));
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn upload_timeout_grows_with_size() {
        let o = ClientOptions::default();
        assert_eq!(o.upload_timeout(0), o.request_timeout);
        assert!(o.upload_timeout(1 << 30) > o.request_timeout + Duration::from_secs(60 * 60));
    }

    #[test]
    fn clients_build_with_and_without_a_proxy() {
        assert!(Http::new("http://127.0.0.1:1", None, ClientOptions::default()).is_ok());
        assert!(Http::new(
            "http://example.onion",
            Some("socks5h://127.0.0.1:9050"),
            ClientOptions::default()
        )
        .is_ok());
        assert!(Http::new(
            "http://127.0.0.1:1",
            Some("socks5://127.0.0.1:9050"),
            ClientOptions::default()
        )
        .is_err());
    }
}
