//! The structural check the server runs on every uploaded object
//! (PROTOCOL.md §5).
//!
//! The server cannot decrypt anything, but it can refuse what is certainly
//! not a WBS object: it must be an age v1 file (<https://age-encryption.org/v1>)
//! whose header holds as many recipient stanzas of the deployment's kind as
//! the object may have recipients ([`Stanzas`]): `X25519` stanzas in a
//! classic deployment, `mlkem768x25519` ones in a post-quantum deployment,
//! each of its exact shape. Besides them, possibly one `*-grease` stanza
//! (the Rust age library adds one to keep parsers honest), and nothing else
//! — no stanza of the other kind, no passphrase (`scrypt`) stanza, no plugin
//! or SSH stanza. The payload length must be one an age STREAM can have,
//! which catches most truncated uploads.

use base64::Engine;

use crate::keys::RecipientKind;

/// The first line of every age v1 file.
pub const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// Largest header accepted in a classic deployment. One X25519 stanza is
/// about 100 bytes.
pub const MAX_CLASSIC_HEADER_LEN: usize = 16 * 1024;
/// Largest header accepted in any deployment (what a reader of a header
/// must be ready to hold). One mlkem768x25519 stanza is about 1,560 bytes:
/// [`MAX_RECIPIENTS`] of them fit.
pub const MAX_HEADER_LEN: usize = 64 * 1024;

const _: () = assert!(MAX_RECIPIENTS * 1_560 < MAX_HEADER_LEN);

/// Largest header accepted for stanzas of `kind`.
pub const fn max_header_len(kind: RecipientKind) -> usize {
    match kind {
        RecipientKind::Classic => MAX_CLASSIC_HEADER_LEN,
        RecipientKind::PostQuantum => MAX_HEADER_LEN,
    }
}
/// Most recipient stanzas accepted in any object.
pub const MAX_RECIPIENTS: usize = 32;

const STREAM_NONCE_LEN: u64 = 16;
const TAG_LEN: u64 = 16;
const CHUNK_LEN: u64 = 64 * 1024 + TAG_LEN;

/// Why an object is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The object does not start like an age v1 file.
    #[error("not an age v1 file")]
    NotAge,
    /// The header is not well formed.
    #[error("malformed age header: {0}")]
    Malformed(&'static str),
    /// The header is larger than any WBS object needs.
    #[error("age header too large")]
    TooLarge,
    /// A stanza of a kind WBS never writes (passphrase, plugin, SSH, …).
    #[error("age header has a stanza of a kind WBS does not accept")]
    ForeignStanza,
    /// A recipient stanza of the other kind than the deployment's: X25519
    /// in a post-quantum deployment, or the reverse.
    #[error("age file is encrypted to {found} recipients, this server takes only {expected} ones")]
    WrongKind {
        /// The stanza tag the deployment takes.
        expected: &'static str,
        /// The stanza tag found.
        found: &'static str,
    },
    /// The number of X25519 recipients is not the expected one.
    #[error("age file is encrypted to {found} recipients, {expected} expected")]
    RecipientCount {
        /// Expected X25519 stanzas.
        expected: usize,
        /// X25519 stanzas found.
        found: usize,
    },
    /// The number of X25519 recipients is outside the accepted range.
    #[error("age file is encrypted to {found} recipients, {min} to {max} expected")]
    RecipientRange {
        /// Fewest X25519 stanzas accepted.
        min: usize,
        /// Most X25519 stanzas accepted.
        max: usize,
        /// X25519 stanzas found.
        found: usize,
    },
    /// The payload cannot be an age STREAM of this length (truncated?).
    #[error("age payload is truncated or malformed")]
    Payload,
}

/// How many recipient stanzas an object may have, `min` to `max` both
/// included, and of which kind. A bare number (`From<usize>`) means exactly
/// that many X25519 stanzas.
///
/// Both kinds of stanza are anonymous: nothing in one says which recipient
/// it is for, so this is a count and only a count (PROTOCOL.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stanzas {
    /// Fewest accepted.
    pub min: usize,
    /// Most accepted.
    pub max: usize,
    /// The only kind of recipient stanza accepted.
    pub kind: RecipientKind,
}

impl Stanzas {
    /// Exactly `n` X25519 stanzas: reports, attachments and follow-ups,
    /// which go to every inspectorate recipient.
    pub const fn exactly(n: usize) -> Self {
        Stanzas {
            min: n,
            max: n,
            kind: RecipientKind::Classic,
        }
    }

    /// A reply, with `inspectorate` recipients configured: the reporter
    /// plus at least one and at most all of the inspectorate's keys, so
    /// from 2 to `inspectorate + 1` X25519 stanzas.
    pub const fn reply(inspectorate: usize) -> Self {
        Stanzas {
            min: 2,
            max: inspectorate + 1,
            kind: RecipientKind::Classic,
        }
    }

    /// The same count, of `kind` stanzas.
    pub const fn of(self, kind: RecipientKind) -> Self {
        Stanzas {
            min: self.min,
            max: self.max,
            kind,
        }
    }

    fn refuse(self, found: usize) -> HeaderError {
        if self.min == self.max {
            HeaderError::RecipientCount {
                expected: self.min,
                found,
            }
        } else {
            HeaderError::RecipientRange {
                min: self.min,
                max: self.max,
                found,
            }
        }
    }
}

impl From<usize> for Stanzas {
    fn from(n: usize) -> Self {
        Stanzas::exactly(n)
    }
}

/// A complete, acceptable header, as found by [`scan_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Length of the header, MAC line included.
    pub header_len: usize,
    /// Recipient stanzas in it (all of the expected kind).
    pub recipients: usize,
}

/// Result of feeding a prefix of an object to [`check_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// The header is complete and acceptable; it is this many bytes long.
    Complete {
        /// Length of the header, MAC line included.
        header_len: usize,
    },
    /// The prefix ends inside the header and nothing wrong was found yet.
    NeedMore,
}

fn b64_decode_exact(s: &[u8]) -> Option<Vec<u8>> {
    // age uses canonical unpadded standard base64.
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .ok()
}

fn is_arg_char(b: u8) -> bool {
    (33..=126).contains(&b)
}

/// Checks the header at the start of `prefix`, which may be a partial upload.
///
/// `expected` is the number of recipient stanzas the object must have (a
/// number of X25519 stanzas, or a range and kind as [`Stanzas`]).
pub fn check_header(
    prefix: &[u8],
    expected: impl Into<Stanzas>,
) -> Result<HeaderCheck, HeaderError> {
    Ok(match scan_header(prefix, expected.into())? {
        Some(HeaderInfo { header_len, .. }) => HeaderCheck::Complete { header_len },
        None => HeaderCheck::NeedMore,
    })
}

/// [`check_header`], which also tells how many recipient stanzas a complete
/// header has: `Ok(None)` when the prefix ends inside the header and
/// nothing wrong was found yet.
pub fn scan_header(prefix: &[u8], allowed: Stanzas) -> Result<Option<HeaderInfo>, HeaderError> {
    // The version line.
    let n = prefix.len().min(VERSION_LINE.len());
    if prefix[..n] != VERSION_LINE[..n] {
        return Err(HeaderError::NotAge);
    }
    if prefix.len() < VERSION_LINE.len() {
        return Ok(None);
    }
    let mut pos = VERSION_LINE.len();
    let mut recipients = 0usize;
    let mut grease = 0usize;
    let limit = max_header_len(allowed.kind);
    loop {
        if pos > limit {
            return Err(HeaderError::TooLarge);
        }
        let Some(line_end) = find_newline(prefix, pos, limit)? else {
            return Ok(None);
        };
        let line = &prefix[pos..line_end];
        if let Some(mac) = line.strip_prefix(b"--- ") {
            match b64_decode_exact(mac) {
                Some(m) if m.len() == 32 => {}
                _ => return Err(HeaderError::Malformed("bad header MAC")),
            }
            if !(allowed.min..=allowed.max).contains(&recipients) {
                return Err(allowed.refuse(recipients));
            }
            return Ok(Some(HeaderInfo {
                header_len: line_end + 1,
                recipients,
            }));
        }
        let Some(stanza) = line.strip_prefix(b"-> ") else {
            return Err(HeaderError::Malformed("expected a stanza or the MAC line"));
        };
        let args: Vec<&[u8]> = stanza.split(|&b| b == b' ').collect();
        if args
            .iter()
            .any(|a| a.is_empty() || !a.iter().all(|&b| is_arg_char(b)))
        {
            return Err(HeaderError::Malformed("bad stanza argument"));
        }
        let tag = args[0];
        let kind = match tag {
            b"X25519" => Some(RecipientKind::Classic),
            b"mlkem768x25519" => Some(RecipientKind::PostQuantum),
            _ => None,
        };
        let body_len_needed = match kind {
            Some(kind) if kind != allowed.kind => {
                return Err(HeaderError::WrongKind {
                    expected: allowed.kind.stanza_tag(),
                    found: kind.stanza_tag(),
                })
            }
            Some(RecipientKind::Classic) => {
                if args.len() != 2 || b64_decode_exact(args[1]).map(|v| v.len()) != Some(32) {
                    return Err(HeaderError::Malformed("bad X25519 stanza"));
                }
                Some(32)
            }
            Some(RecipientKind::PostQuantum) => {
                if args.len() != 2
                    || b64_decode_exact(args[1]).map(|v| v.len()) != Some(crate::pq::ENC_LEN)
                {
                    return Err(HeaderError::Malformed("bad mlkem768x25519 stanza"));
                }
                Some(crate::pq::BODY_LEN)
            }
            None => None,
        };
        if kind.is_some() {
            recipients += 1;
            if recipients > MAX_RECIPIENTS {
                return Err(HeaderError::TooLarge);
            }
        } else if tag.ends_with(b"-grease") && args.len() <= 5 && grease == 0 {
            grease += 1;
        } else {
            return Err(HeaderError::ForeignStanza);
        }
        // The body: lines of 64 base64 characters, ended by a shorter line.
        pos = line_end + 1;
        let mut body_len = 0usize;
        loop {
            if pos > limit {
                return Err(HeaderError::TooLarge);
            }
            let Some(end) = find_newline(prefix, pos, limit)? else {
                return Ok(None);
            };
            let body_line = &prefix[pos..end];
            if body_line.len() > 64 {
                return Err(HeaderError::Malformed("stanza body line too long"));
            }
            let decoded = b64_decode_exact(body_line)
                .ok_or(HeaderError::Malformed("stanza body is not base64"))?;
            body_len += decoded.len();
            pos = end + 1;
            if body_line.len() < 64 {
                break;
            }
        }
        if body_len_needed.is_some_and(|needed| body_len != needed) {
            return Err(HeaderError::Malformed(match kind {
                Some(RecipientKind::PostQuantum) => "bad mlkem768x25519 stanza body",
                _ => "bad X25519 stanza body",
            }));
        }
    }
}

fn find_newline(buf: &[u8], from: usize, limit: usize) -> Result<Option<usize>, HeaderError> {
    let window_end = buf.len().min(limit + 1);
    if from >= window_end {
        return if buf.len() > limit {
            Err(HeaderError::TooLarge)
        } else {
            Ok(None)
        };
    }
    match buf[from..window_end].iter().position(|&b| b == b'\n') {
        Some(i) => Ok(Some(from + i)),
        None if buf.len() > limit => Err(HeaderError::TooLarge),
        None => Ok(None),
    }
}

/// Whether `payload_len` bytes after the header can be an age payload: a
/// 16-byte nonce, then STREAM chunks of 64 KiB + 16, the last one shorter or
/// full but at least a tag long, and empty only when it is the only chunk.
pub fn payload_len_is_valid(payload_len: u64) -> bool {
    if payload_len < STREAM_NONCE_LEN + TAG_LEN {
        return false;
    }
    let stream = payload_len - STREAM_NONCE_LEN;
    let rem = stream % CHUNK_LEN;
    if rem == 0 {
        return true;
    }
    if rem < TAG_LEN {
        return false;
    }
    // An empty final chunk is only allowed when it is the only chunk.
    !(rem == TAG_LEN && stream > TAG_LEN)
}

/// Checks a whole object held in memory: header and payload length.
pub fn check_object(object: &[u8], expected: impl Into<Stanzas>) -> Result<usize, HeaderError> {
    match check_header(object, expected)? {
        HeaderCheck::Complete { header_len } => {
            if payload_len_is_valid((object.len() - header_len) as u64) {
                Ok(header_len)
            } else {
                Err(HeaderError::Payload)
            }
        }
        HeaderCheck::NeedMore => Err(HeaderError::Malformed("truncated header")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::encrypt_document;
    use age::x25519::Identity;

    fn recipients(n: usize) -> Vec<age::x25519::Recipient> {
        (0..n).map(|_| Identity::generate().to_public()).collect()
    }

    #[test]
    fn accepts_objects_written_by_wbs() {
        for n in 1..4 {
            for size in [0usize, 1, 100, 65_536, 65_537, 200_000] {
                let ct = encrypt_document(&recipients(n), &vec![b'a'; size]).unwrap();
                check_object(&ct, n).unwrap();
            }
        }
    }

    #[test]
    fn wrong_recipient_count_is_refused() {
        let ct = encrypt_document(&recipients(2), b"x").unwrap();
        assert_eq!(
            check_object(&ct, 1),
            Err(HeaderError::RecipientCount {
                expected: 1,
                found: 2
            })
        );
    }

    #[test]
    fn replies_go_to_the_reporter_and_a_non_empty_subset_of_the_keys() {
        // Two inspectorate keys configured: 2 or 3 stanzas.
        let reply = Stanzas::reply(2);
        for n in [2, 3] {
            let ct = encrypt_document(&recipients(n), b"x").unwrap();
            check_object(&ct, reply).unwrap();
            let Ok(Some(info)) = scan_header(&ct, reply) else {
                panic!("{n} stanzas refused")
            };
            assert_eq!(info.recipients, n);
        }
        for n in [1, 4] {
            let ct = encrypt_document(&recipients(n), b"x").unwrap();
            assert_eq!(
                check_object(&ct, reply),
                Err(HeaderError::RecipientRange {
                    min: 2,
                    max: 3,
                    found: n
                })
            );
        }
    }

    #[test]
    fn every_prefix_of_the_header_needs_more_or_completes() {
        let ct = encrypt_document(&recipients(2), b"hello").unwrap();
        let header_len = check_object(&ct, 2).unwrap();
        for i in 0..header_len {
            assert_eq!(check_header(&ct[..i], 2), Ok(HeaderCheck::NeedMore), "{i}");
        }
        assert_eq!(
            check_header(&ct[..header_len], 2),
            Ok(HeaderCheck::Complete { header_len })
        );
    }

    #[test]
    fn truncated_payload_is_refused() {
        let ct = encrypt_document(&recipients(1), &[b'a'; 100_000]).unwrap();
        let header_len = check_object(&ct, 1).unwrap();
        // Cut inside the second chunk's tag, and inside the nonce.
        let cut = header_len + 16 + 65_552 + 5;
        assert_eq!(check_object(&ct[..cut], 1), Err(HeaderError::Payload));
        assert_eq!(
            check_object(&ct[..header_len + 10], 1),
            Err(HeaderError::Payload)
        );
    }

    #[test]
    fn non_age_and_foreign_stanzas_are_refused() {
        assert_eq!(check_header(b"PK\x03\x04", 1), Err(HeaderError::NotAge));
        assert_eq!(
            check_header(b"age-encryption.org/v2\n", 1),
            Err(HeaderError::NotAge)
        );
        let scrypt = b"age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\nAAAA\n";
        assert_eq!(check_header(scrypt, 1), Err(HeaderError::ForeignStanza));
        let junk = b"age-encryption.org/v1\nhello\n";
        assert!(matches!(
            check_header(junk, 1),
            Err(HeaderError::Malformed(_))
        ));
    }

    fn pq_recipients(n: usize) -> Vec<crate::pq::Recipient> {
        (0..n)
            .map(|_| crate::pq::Identity::generate().to_public())
            .collect()
    }

    #[test]
    fn post_quantum_objects_pass_only_in_a_post_quantum_deployment() {
        let pq = RecipientKind::PostQuantum;
        for n in [1, 3] {
            let ct = encrypt_document(&pq_recipients(n), &[b'a'; 70_000]).unwrap();
            let header_len = check_object(&ct, Stanzas::exactly(n).of(pq)).unwrap();
            // Every prefix of the header asks for more.
            for i in (0..header_len).step_by(97) {
                assert_eq!(
                    check_header(&ct[..i], Stanzas::exactly(n).of(pq)),
                    Ok(HeaderCheck::NeedMore)
                );
            }
            assert_eq!(
                check_object(&ct, n),
                Err(HeaderError::WrongKind {
                    expected: "X25519",
                    found: "mlkem768x25519"
                })
            );
        }
        let classic = encrypt_document(&recipients(2), b"x").unwrap();
        assert_eq!(
            check_object(&classic, Stanzas::exactly(2).of(pq)),
            Err(HeaderError::WrongKind {
                expected: "mlkem768x25519",
                found: "X25519"
            })
        );
        // A reply: the reporter's PQ key and a subset of the inspectorate's.
        let reply = Stanzas::reply(2).of(pq);
        let ct = encrypt_document(&pq_recipients(3), b"x").unwrap();
        assert_eq!(scan_header(&ct, reply).unwrap().unwrap().recipients, 3);
        let ct = encrypt_document(&pq_recipients(1), b"x").unwrap();
        assert!(check_object(&ct, reply).is_err());
        // The largest allowed header fits.
        let ct = encrypt_document(&pq_recipients(MAX_RECIPIENTS), b"x").unwrap();
        check_object(&ct, Stanzas::exactly(MAX_RECIPIENTS).of(pq)).unwrap();
    }

    #[test]
    fn malformed_post_quantum_stanzas_are_refused() {
        let pq = Stanzas::exactly(1).of(RecipientKind::PostQuantum);
        let ct = encrypt_document(&pq_recipients(1), b"x").unwrap();
        let text = String::from_utf8_lossy(&ct[..check_object(&ct, pq).unwrap()]).into_owned();
        let stanza_line = text
            .lines()
            .find(|l| l.starts_with("-> mlkem768x25519 "))
            .unwrap()
            .to_owned();
        let enc = stanza_line.trim_start_matches("-> mlkem768x25519 ");
        let variants = [
            // An extra argument, a short enc, a non-canonical enc.
            text.replace(&stanza_line, &format!("{stanza_line} extra")),
            text.replace(&stanza_line, &format!("-> mlkem768x25519 {}", &enc[4..])),
            text.replace(
                &stanza_line,
                &format!("-> mlkem768x25519 {}", {
                    let mut e = enc.to_owned();
                    // 1,120 bytes end in a 2-character group whose last
                    // character has 4 unused bits: set the lowest.
                    const B64: &[u8] =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    let last = e.pop().unwrap() as u8;
                    let value = B64.iter().position(|&c| c == last).unwrap();
                    e.push(B64[value ^ 1] as char);
                    e
                }),
            ),
        ];
        for (i, bad) in variants.iter().enumerate() {
            let mut object = bad.clone().into_bytes();
            object.extend_from_slice(&ct[text.len()..]);
            assert!(
                matches!(check_object(&object, pq), Err(HeaderError::Malformed(_))),
                "variant {i}: {:?}",
                check_object(&object, pq)
            );
        }
        // A 16-byte body (the stanza line is followed by its body line).
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| *l == stanza_line).unwrap();
        let mut short = lines.clone();
        short[at + 1] = "AAAAAAAAAAAAAAAAAAAAAA";
        let mut object = (short.join("\n") + "\n").into_bytes();
        object.extend_from_slice(&ct[text.len()..]);
        assert_eq!(
            check_object(&object, pq),
            Err(HeaderError::Malformed("bad mlkem768x25519 stanza body"))
        );
    }

    #[test]
    fn the_header_limit_is_the_kinds() {
        // A classic object behind a grease stanza with a 20 KiB body: past
        // the classic limit, refused while the header is still being read.
        let ct = encrypt_document(&recipients(1), b"x").unwrap();
        let mut object = VERSION_LINE.to_vec();
        object.extend_from_slice(b"-> x-grease\n");
        for _ in 0..(20 * 1024 / 48) {
            object.extend_from_slice(&[b'A'; 64]);
            object.push(b'\n');
        }
        object.extend_from_slice(b"AAAA\n");
        assert!(object.len() > MAX_CLASSIC_HEADER_LEN);
        object.extend_from_slice(&ct[VERSION_LINE.len()..]);
        assert_eq!(check_header(&object, 1), Err(HeaderError::TooLarge));
        // 32 post-quantum stanzas are over 48 KiB, and accepted
        // (post_quantum_objects_pass_only_in_a_post_quantum_deployment).
    }

    #[test]
    fn huge_header_is_refused() {
        let mut big = VERSION_LINE.to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEADER_LEN + 10));
        assert!(check_header(&big, 1).is_err());
    }

    #[test]
    fn payload_shapes() {
        assert!(!payload_len_is_valid(0));
        assert!(payload_len_is_valid(32)); // empty plaintext
        assert!(!payload_len_is_valid(16 + 5));
        assert!(payload_len_is_valid(16 + 65_552));
        assert!(!payload_len_is_valid(16 + 65_552 + 16)); // empty final chunk after a full one
        assert!(payload_len_is_valid(16 + 65_552 + 17));
        assert!(!payload_len_is_valid(16 + 65_552 + 5));
    }
}
