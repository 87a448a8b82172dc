//! TLS to PostgreSQL (rustls), and the rule for when it is required.
//!
//! Stricter than libpq, on purpose:
//!
//! - `sslmode` absent or `disable`: no TLS, and only to a Unix socket or a
//!   loopback address (the password and every record would otherwise cross
//!   the network in the clear).
//! - `sslmode=require`, `verify-ca` or `verify-full`: TLS, with the server's
//!   certificate always verified against `sslrootcert=PATH` (a PEM file of
//!   CA certificates) if given, else the webpki roots, and the host name
//!   always checked. A failed verification refuses the connection.
//! - `allow` and `prefer` (which may fall back to plain text) are refused.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::{Host, SslMode};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::{Config, Socket};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::StoreError;

/// The TLS options WBS reads itself (the driver knows neither `sslrootcert`
/// nor the `verify-*` modes), taken out of the connection string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) sslmode: Option<String>,
    pub(crate) sslrootcert: Option<String>,
}

/// Parses `url` into the driver's configuration and the TLS connector it
/// needs (`None`: no TLS), or refuses it by the rule above. Messages never
/// repeat the connection string (it may hold a password).
pub(crate) fn configure(url: &str) -> Result<(Config, Option<RustlsConnect>), StoreError> {
    let (rest, options) = split_tls_options(url)?;
    let mut config: Config = rest.parse().map_err(|e: postgres::Error| {
        StoreError::Invalid(format!(
            "the database connection string does not parse: {}",
            super::pool::describe(&e)
        ))
    })?;
    let tls = match options.sslmode.as_deref() {
        None | Some("disable") => false,
        Some("require" | "verify-ca" | "verify-full") => true,
        Some(mode @ ("allow" | "prefer")) => {
            return Err(StoreError::Invalid(format!(
                "sslmode={mode} may fall back to an unencrypted connection: use \
                 sslmode=verify-full (with sslrootcert=PATH for a private CA), or \
                 sslmode=disable for a Unix socket or loopback"
            )))
        }
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "unknown sslmode {other:?} in the database connection string (use \
                 verify-full, or disable for a Unix socket or loopback)"
            )))
        }
    };
    if !tls && options.sslrootcert.is_some() {
        return Err(StoreError::Invalid(
            "sslrootcert is set but TLS is not: add sslmode=verify-full".into(),
        ));
    }
    let hostaddrs = config.get_hostaddrs().to_vec();
    for (i, host) in config.get_hosts().iter().enumerate() {
        match host {
            Host::Unix(_) if tls => {
                return Err(StoreError::Invalid(
                    "TLS was asked for, but the database host is a Unix socket (which \
                     carries no TLS and needs none): drop sslmode, or give a TCP host"
                        .into(),
                ))
            }
            Host::Unix(_) => {}
            Host::Tcp(name) if !tls => {
                let local = match hostaddrs.get(i) {
                    Some(addr) => addr.is_loopback(),
                    None => is_loopback_name(name),
                };
                if !local {
                    return Err(StoreError::Invalid(format!(
                        "the database host {name} is not on this machine, and the \
                         connection string asks for no TLS: the password and every \
                         record would cross the network in the clear. Add \
                         sslmode=verify-full (and sslrootcert=PATH for a private CA)"
                    )));
                }
            }
            Host::Tcp(_) => {}
        }
    }
    if !tls {
        config.ssl_mode(SslMode::Disable);
        return Ok((config, None));
    }
    config.ssl_mode(SslMode::Require);
    let roots = match &options.sslrootcert {
        Some(path) => roots_from(path)?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((config, Some(RustlsConnect(Arc::new(client)))))
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The CA certificates in the PEM file at `path`.
fn roots_from(path: &str) -> Result<RootCertStore, StoreError> {
    let pem = std::fs::read(path)
        .map_err(|e| StoreError::Invalid(format!("cannot read sslrootcert {path}: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            StoreError::Invalid(format!(
                "sslrootcert {path} is not a PEM certificate file: {e}"
            ))
        })?;
        roots.add(cert).map_err(|e| {
            StoreError::Invalid(format!(
                "sslrootcert {path} holds an unusable certificate: {e}"
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(StoreError::Invalid(format!(
            "sslrootcert {path} holds no PEM certificate"
        )));
    }
    Ok(roots)
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL or
/// key=value form), giving back the rest for the driver.
pub(crate) fn split_tls_options(url: &str) -> Result<(String, TlsOptions), StoreError> {
    let mut options = TlsOptions::default();
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let Some((main, query)) = rest.split_once('?') else {
                return Ok((url.to_owned(), options));
            };
            let mut kept = Vec::new();
            for pair in query.split('&') {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                match key {
                    "sslmode" => options.sslmode = Some(percent_decode(value)?),
                    "sslrootcert" => options.sslrootcert = Some(percent_decode(value)?),
                    _ => kept.push(pair),
                }
            }
            let mut out = format!("{scheme}{main}");
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
            return Ok((out, options));
        }
    }
    // key=value pairs: a value is bare (up to white space) or quoted with
    // '...' (backslash escapes). Other pairs are kept as written.
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=').ok_or_else(|| {
            StoreError::Invalid("the database connection string does not parse".into())
        })?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let (value, len) = if let Some(quoted) = after.strip_prefix('\'') {
            let mut value = String::new();
            let mut escaped = false;
            let mut end = None;
            for (j, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = Some(j + 1);
                        break;
                    }
                    c => {
                        escaped = false;
                        value.push(c);
                    }
                }
            }
            let end = end.ok_or_else(|| {
                StoreError::Invalid("the database connection string has an unclosed quote".into())
            })?;
            (value, 1 + end)
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let mut value = String::new();
            let mut escaped = false;
            for c in after[..end].chars() {
                if c == '\\' && !escaped {
                    escaped = true;
                } else {
                    escaped = false;
                    value.push(c);
                }
            }
            (value, end)
        };
        let pair_len = (after.as_ptr() as usize - rest.as_ptr() as usize) + len;
        match key {
            "sslmode" => options.sslmode = Some(value),
            "sslrootcert" => options.sslrootcert = Some(value),
            _ => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&rest[..pair_len]);
            }
        }
        rest = &rest[pair_len..];
    }
    Ok((out, options))
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    let bad = || StoreError::Invalid("the database connection string has a bad %-escape".into());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Makes verified rustls connections for the driver.
#[derive(Clone)]
pub(crate) struct RustlsConnect(Arc<ClientConfig>);

pub(crate) struct RustlsConnectOne {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

pub(crate) struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl MakeTlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnectOne;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnectOne, io::Error> {
        let name = ServerName::try_from(domain.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{domain:?} is not a host name TLS can check"),
            )
        })?;
        Ok(RustlsConnectOne {
            config: self.0.clone(),
            name,
        })
    }
}

impl TlsConnect<Socket> for RustlsConnectOne {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream, io::Error>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(RustlsStream)
        })
    }
}

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match configure(url) {
            Err(StoreError::Invalid(m)) => m,
            other => panic!("{url}: {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn tls_options_come_out_of_both_forms() {
        let (rest, o) = split_tls_options(
            "postgresql://wbs@db.example/wbs?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://wbs@db.example/wbs?connect_timeout=5");
        assert_eq!(o.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(o.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let (rest, o) = split_tls_options(
            "host=db.example sslrootcert='/etc/my ca.pem' password='a b' sslmode=require user=wbs",
        )
        .unwrap();
        assert_eq!(rest, "host=db.example password='a b' user=wbs");
        assert_eq!(o.sslmode.as_deref(), Some("require"));
        assert_eq!(o.sslrootcert.as_deref(), Some("/etc/my ca.pem"));
    }

    #[test]
    fn a_remote_host_without_tls_is_refused_naming_verify_full_not_the_password() {
        for url in [
            "postgresql://wbs:s3cret@db.example/wbs",
            "postgresql://wbs:s3cret@db.example/wbs?sslmode=disable",
            "host=10.0.0.5 user=wbs password=s3cret",
            "host=localhost hostaddr=192.0.2.7 user=wbs password=s3cret",
        ] {
            let m = refused(url);
            assert!(m.contains("sslmode=verify-full"), "{m}");
            assert!(!m.contains("s3cret"), "{m}");
        }
    }

    #[test]
    fn loopback_and_unix_sockets_need_no_tls() {
        for url in [
            "postgresql://wbs:s3cret@localhost/wbs",
            "postgresql://wbs@127.0.0.1:5433/wbs?sslmode=disable",
            "postgresql://wbs@[::1]/wbs",
            "host=/run/postgresql user=wbs",
            "host=db.internal hostaddr=127.0.0.1 user=wbs",
        ] {
            let (_, tls) = configure(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(tls.is_none(), "{url}");
        }
    }

    #[test]
    fn modes_that_may_fall_back_or_cannot_apply_are_refused() {
        assert!(refused("postgresql://wbs@localhost/wbs?sslmode=prefer").contains("fall back"));
        assert!(refused("host=localhost sslmode=allow").contains("fall back"));
        assert!(refused("host=localhost sslmode=verify-everything").contains("unknown sslmode"));
        assert!(refused("host=/run/postgresql sslmode=verify-full").contains("Unix socket"));
        assert!(refused("host=localhost sslrootcert=/etc/ca.pem").contains("sslmode=verify-full"));
        assert!(
            refused("host=db.example sslmode=verify-full sslrootcert=/nonexistent/ca.pem")
                .contains("cannot read sslrootcert")
        );
    }

    #[test]
    fn tls_modes_give_a_verifying_connector() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("postgresql://wbs@db.example/wbs?sslmode={mode}");
            let (config, tls) = configure(&url).unwrap();
            assert!(tls.is_some(), "{mode}");
            assert_eq!(config.get_ssl_mode(), SslMode::Require, "{mode}");
        }
    }
}
