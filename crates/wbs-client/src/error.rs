//! The one error type of the client library.

use std::io;

use crate::terminal::single_line;

/// Why a client operation failed. Every message is one line that a person can
/// act on; none of them contains a receipt code, a lookup key or a token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{}", http_message(*.status, .code, .message))]
    Http {
        /// HTTP status code.
        status: u16,
        /// The snake_case error code from the body (empty if there was none).
        code: String,
        /// The server's message, or the status' reason when the body was not
        /// a WBS error body.
        message: String,
    },
    /// The server does not know this receipt code (or it expired). The server
    /// answers the same for every unknown code, so nothing more can be said.
    #[error("no report found for this receipt code")]
    UnknownReceipt,
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The input was refused before anything was sent.
    #[error("{0}")]
    Input(String),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Encryption or decryption failed.
    #[error("{0}")]
    Crypto(String),
    /// The server answered something that does not follow the protocol.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status, if the server answered with an error status.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            ClientError::UnknownReceipt => Some(404),
            _ => None,
        }
    }
}

/// Adds, to what the server said, what a person can do about it.
fn http_message(status: u16, code: &str, message: &str) -> String {
    let message = single_line(message);
    let hint = match status {
        300..=399 => " (redirects are not followed: check the server URL)",
        401 | 403 => " (check the token file)",
        413 => " (too large for this server)",
        429 => " (the server is busy: try again later)",
        503 => " (the server is unavailable: try again later)",
        507 => " (the server is out of storage: contact its operator)",
        _ => "",
    };
    if code.is_empty() {
        format!("the server refused the request: {message} (HTTP {status}){hint}")
    } else {
        format!("the server refused the request: {message} (HTTP {status}, {code}){hint}")
    }
}

/// Describes a transport error with its causes, on one line.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "the connection timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = String::new();
    while let Some(s) = source {
        let text = single_line(&s.to_string());
        // Error chains often repeat their inner message; show each once.
        if !text.is_empty() && !last.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_show_the_server_message_on_one_line() {
        let e = ClientError::Http {
            status: 413,
            code: "payload_too_large".into(),
            message: "object too large\nsecond line".into(),
        };
        let shown = e.to_string();
        assert!(shown.contains("object too large second line"), "{shown}");
        assert!(shown.contains("413"));
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn unknown_receipt_has_the_promised_message() {
        assert_eq!(
            ClientError::UnknownReceipt.to_string(),
            "no report found for this receipt code"
        );
    }
}
