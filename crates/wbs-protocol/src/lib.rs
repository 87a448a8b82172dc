//! The WBS protocol: everything the server, the reporter's clients, the desk
//! and the air-gapped tool must agree on.
//!
//! - [`receipt`]: receipt codes and the keys derived from them.
//! - [`padding`]: PADMÉ padding lengths.
//! - [`envelope`]: age encryption and decryption as streams, with padding.
//! - [`header`]: the structural check the server runs on every uploaded age file.
//! - [`keys`]: recipients and identities of either kind, the no-mixing rule, the `.pub` reader.
//! - [`message`]: the JSON documents that get encrypted (report, follow-up, reply).
//! - [`status`]: case statuses and their labels.
//! - [`api`]: the JSON bodies of the HTTP API, shared by server and clients.
//! - [`pow`]: the proof-of-work puzzle that clients solve.
//! - [`pq`]: age's post-quantum `mlkem768x25519` recipients (X-Wing through HPKE).
//! - [`thread`]: the thread key and the authenticators of follow-ups and replies.
//! - [`bundle`]: export bundles (server → air gap) and reply bundles (air gap → server).
//! - [`text`]: text from elsewhere made safe to show on a terminal.
//!
//! This crate must stay pure: functions over bytes and over `Read`/`Write`.
//! It never opens a socket, never starts an async runtime and never touches
//! the file system on its own; the one exception is [`keys::read_pub_files`],
//! which reads the `.pub` files at the path its caller names, so that every
//! program reads them by the same rules. The specification it implements is
//! `docs/PROTOCOL.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod bundle;
pub mod date;
pub mod envelope;
pub mod header;
pub mod keys;
pub mod message;
pub mod padding;
pub mod pow;
pub mod pq;
pub mod receipt;
pub mod status;
pub mod text;
pub mod thread;

pub use envelope::{DecryptError, EncryptError};
pub use receipt::{LookupKey, ReceiptCode, ReceiptError};
pub use status::Status;

/// Hex encoding of bytes, lower case (used for SHA-256 digests in manifests).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Parses a 64-character lower- or upper-case hex SHA-256 digest.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}
