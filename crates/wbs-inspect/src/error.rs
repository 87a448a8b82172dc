//! The one error type of the tool. Each variant is a sentence an investigator
//! can act on; `main` prints it as a single line prefixed `wbs-inspect: `.
//!
//! Anything a reporter or the server controls (attachment names, object
//! paths) is shown with `{:?}`, which escapes control characters, so an error
//! message can never carry terminal escape sequences.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use wbs_protocol::bundle::BundleError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments that make no sense together, or a bad value.
    #[error("{0}")]
    Usage(String),

    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// A file or folder could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// An output file is already there with other content.
    #[error("{} already exists with different content; refusing to overwrite it", .0.display())]
    Exists(PathBuf),

    /// A path that is in the way (a file where a folder should be, a link).
    #[error("{} is in the way: {reason}", .path.display())]
    InTheWay {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The passphrase does not open the identity file.
    #[error("wrong passphrase for identity file {}", .0.display())]
    WrongPassphrase(PathBuf),

    /// The identity file cannot be used.
    #[error("identity file {}: {reason}", .path.display())]
    Identity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// No passphrase could be obtained.
    #[error("{0}")]
    Passphrase(String),

    /// None of our identities can open this case's objects.
    #[error("cannot decrypt case {case}: this identity is not one of its recipients")]
    NotRecipient {
        /// The case.
        case: String,
    },

    /// age refused the ciphertext: its authentication failed.
    #[error("case {case}: {object:?} is damaged or was tampered with (its encryption does not authenticate)")]
    Tampered {
        /// The case.
        case: String,
        /// The object path inside the case.
        object: String,
    },

    /// The bytes in the bundle do not match the SHA-256 that `case.json` gives.
    #[error("case {case}: {object:?} does not match its SHA-256 in case.json: the bundle is damaged or was tampered with")]
    BundleHash {
        /// The case.
        case: String,
        /// The object path inside the case.
        object: String,
    },

    /// A decrypted attachment does not match the SHA-256 the reporter's
    /// device put in the (authenticated) report or follow-up.
    #[error("case {case}: attachment {index} {name:?} ({object}) does not match the SHA-256 in the {source_doc}; it was not written")]
    AttachmentHash {
        /// The case.
        case: String,
        /// The object path inside the case.
        object: String,
        /// Position in the attachment list, from 1.
        index: u32,
        /// The name the reporter gave it.
        name: String,
        /// `report` or `follow-up N`.
        source_doc: String,
    },

    /// Something about one case is wrong (missing context, bad metadata…).
    #[error("case {case}: {message}")]
    Case {
        /// The case.
        case: String,
        /// What is wrong.
        message: String,
    },

    /// The bundle itself was refused (structure, manifests, limits).
    #[error("bundle {}: {source}", .path.display())]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// Why.
        source: BundleError,
    },

    /// Encryption failed.
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
}

impl Error {
    /// A read error on `path`.
    pub fn read(path: &Path, source: io::Error) -> Self {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A write error on `path`.
    pub fn write(path: &Path, source: io::Error) -> Self {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An error about one case.
    pub fn case(case: &str, message: impl fmt::Display) -> Self {
        Error::Case {
            case: case.to_string(),
            message: message.to_string(),
        }
    }

    /// The process exit code for this error: 2 for usage, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Makes any message safe to print as one terminal line: newlines become
/// spaces, and every other character a terminal could act on (controls, C1
/// controls such as U+009B, bidi controls: `wbs_protocol::text`) is shown
/// escaped, `\u{1b}`.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if wbs_protocol::text::is_unsafe_char(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_newlines_and_escapes() {
        assert_eq!(one_line("a\nb"), "a b");
        assert_eq!(one_line("x\u{1b}[31m"), "x\\u{1b}[31m");
        assert_eq!(one_line("e\u{202e}xe"), "e\\u{202e}xe");
        // OSC 52 (clipboard), its C1 form, and a line separator.
        assert_eq!(
            one_line("\u{1b}]52;c;eA==\u{7}\u{9d}52;c\u{2028}"),
            "\\u{1b}]52;c;eA==\\u{7}\\u{9d}52;c\\u{2028}"
        );
    }
}
