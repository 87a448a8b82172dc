//! age encryption and decryption as streams (PROTOCOL.md §3–4).
//!
//! Every object WBS encrypts is a standard age v1 file with X25519
//! recipients: anything written here can be read by `age`, `rage` or the
//! `age-encryption` npm package with the same identity. Plaintext is padded
//! to its PADMÉ length before encryption, so the ciphertext size reveals
//! little about the content.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::str::FromStr;

use age::x25519;
use bech32::{ToBase32, Variant};
use zeroize::Zeroizing;

use crate::padding::padme;

/// Why encryption failed.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// No recipient was given.
    #[error("there is no recipient to encrypt to")]
    NoRecipients,
    /// Post-quantum and classic recipients given together: the age
    /// specification forbids it, since the classic stanzas would undo what
    /// the post-quantum ones protect.
    #[error("post-quantum (age1pq1…) and classic (age1…) recipients cannot be mixed in one file")]
    MixedRecipients,
    /// Reading the plaintext or writing the ciphertext failed.
    #[error("I/O error while encrypting: {0}")]
    Io(#[from] io::Error),
}

/// Why decryption failed. Every cryptographic failure is one opaque variant
/// so that nothing about the key or the file leaks through error messages.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// Wrong key, or a damaged or tampered file.
    #[error("cannot decrypt: wrong key, or the file is damaged or was tampered with")]
    Failed,
    /// Reading the ciphertext or writing the plaintext failed.
    #[error("I/O error while decrypting: {0}")]
    Io(io::Error),
}

/// Builds an age X25519 identity from 32 raw secret bytes.
///
/// age 0.12 has no constructor from raw bytes, so the Bech32 string
/// `AGE-SECRET-KEY-1…` is built (in zeroized memory) and parsed.
pub fn identity_from_secret_bytes(secret: &[u8; 32]) -> x25519::Identity {
    let encoded = Zeroizing::new(
        bech32::encode("age-secret-key-", secret.to_base32(), Variant::Bech32)
            .expect("static HRP is valid"),
    );
    let upper = Zeroizing::new(encoded.to_uppercase());
    x25519::Identity::from_str(&upper).expect("a Bech32 secret key of 32 bytes is a valid identity")
}

/// Parses an `age1…` X25519 recipient.
pub fn parse_recipient(s: &str) -> Result<x25519::Recipient, String> {
    x25519::Recipient::from_str(s.trim()).map_err(|e| format!("not an age X25519 recipient: {e}"))
}

/// A writer that counts the bytes going through it.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Encrypts everything read from `plaintext` to every recipient (all
/// classic X25519 or all post-quantum: the age encryptor refuses a mix),
/// appending
/// `pad_byte` until the plaintext reaches its PADMÉ length, and writes the age
/// file to `out`. Memory use is constant whatever the size.
///
/// Returns the plaintext length before padding.
pub fn encrypt_padded<K: age::Recipient, R: Read, W: Write>(
    recipients: &[K],
    mut plaintext: R,
    pad_byte: u8,
    out: W,
) -> Result<u64, EncryptError> {
    if recipients.is_empty() {
        return Err(EncryptError::NoRecipients);
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| match e {
                age::EncryptError::IncompatibleRecipients { .. } => EncryptError::MixedRecipients,
                age::EncryptError::Io(io) => EncryptError::Io(io),
                _ => EncryptError::NoRecipients,
            })?;
    let mut writer = encryptor.wrap_output(out)?;
    let mut counting = Counting {
        inner: &mut writer,
        count: 0,
    };
    io::copy(&mut plaintext, &mut counting)?;
    let len = counting.count;
    let mut remaining = padme(len) - len;
    let pad = [pad_byte; 8192];
    while remaining > 0 {
        let n = remaining.min(pad.len() as u64) as usize;
        writer.write_all(&pad[..n])?;
        remaining -= n as u64;
    }
    writer.finish()?;
    Ok(len)
}

/// Encrypts an in-memory document (a JSON message) with space padding.
pub fn encrypt_document<K: age::Recipient>(
    recipients: &[K],
    document: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let mut out = Vec::with_capacity(document.len() + 512);
    encrypt_padded(recipients, document, crate::padding::JSON_PAD, &mut out)?;
    Ok(out)
}

/// A reader for age's buffered header parser whose header lines cannot grow
/// without bound.
///
/// `age::Decryptor::new` re-parses the header from its start each time it
/// needs more bytes, which costs about 0.6 ms for one 1,560-byte
/// `mlkem768x25519` stanza; `Decryptor::new_buffered` reads a line at a time
/// instead (5 µs), but with `read_until`, which would follow a hostile file
/// with no newline to its end. Through this reader, the line-by-line reads
/// (`fill_buf`/`consume`) stop with an error past [`MAX_HEADER_LEN`] bytes;
/// the payload is read through `Read`, which is not counted.
///
/// [`MAX_HEADER_LEN`]: crate::header::MAX_HEADER_LEN
pub struct HeaderBounded<R> {
    inner: BufReader<R>,
    header_bytes: usize,
}

impl<R: Read> Read for HeaderBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read> BufRead for HeaderBounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.header_bytes > crate::header::MAX_HEADER_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "age header too large",
            ));
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.header_bytes += amt;
        self.inner.consume(amt);
    }
}

/// An age decryptor over `ciphertext`, its header read line by line and
/// bounded ([`HeaderBounded`]).
pub fn age_decryptor<R: Read>(
    ciphertext: R,
) -> Result<age::Decryptor<HeaderBounded<R>>, age::DecryptError> {
    age::Decryptor::new_buffered(HeaderBounded {
        inner: BufReader::with_capacity(64 * 1024, ciphertext),
        header_bytes: 0,
    })
}

/// Opens an age file for streaming decryption with `identity`.
///
/// The returned reader yields the padded plaintext; the caller truncates it
/// to the real size it learned elsewhere (attachments) or parses it as JSON,
/// which ignores the trailing spaces (documents). A tampered chunk makes a
/// later `read` fail with `io::ErrorKind::InvalidData`.
pub fn decrypt_stream<'a, R: Read + 'a>(
    identity: &'a dyn age::Identity,
    ciphertext: R,
) -> Result<impl Read + 'a, DecryptError> {
    let decryptor = age_decryptor(ciphertext).map_err(map_decrypt_error)?;
    if decryptor.is_scrypt() {
        return Err(DecryptError::Failed);
    }
    decryptor
        .decrypt(std::iter::once(identity))
        .map_err(map_decrypt_error)
}

/// Decrypts an in-memory document, refusing plaintext over `max_len` bytes.
pub fn decrypt_document(
    identity: &dyn age::Identity,
    ciphertext: &[u8],
    max_len: u64,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let reader = decrypt_stream(identity, ciphertext)?;
    let mut out = Zeroizing::new(Vec::new());
    let mut limited = reader.take(max_len + 1);
    limited.read_to_end(&mut out).map_err(map_io)?;
    if out.len() as u64 > max_len {
        return Err(DecryptError::Failed);
    }
    Ok(out)
}

fn map_decrypt_error(e: age::DecryptError) -> DecryptError {
    match e {
        age::DecryptError::Io(io) => map_io(io),
        _ => DecryptError::Failed,
    }
}

/// Maps an I/O error from a decrypting reader: data errors are the AEAD
/// failing (tampering or truncation) and become the opaque [`DecryptError::Failed`].
pub fn map_io(e: io::Error) -> DecryptError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => DecryptError::Failed,
        _ => DecryptError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> (x25519::Identity, x25519::Recipient) {
        let id = x25519::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    #[test]
    fn round_trip_with_padding() {
        let (id, r) = keypair();
        let data = vec![7u8; 1000];
        let mut ct = Vec::new();
        let len = encrypt_padded(&[r], &data[..], 0, &mut ct).unwrap();
        assert_eq!(len, 1000);
        let mut out = Vec::new();
        decrypt_stream(&id, &ct[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len() as u64, padme(1000));
        assert_eq!(&out[..1000], &data[..]);
        assert!(out[1000..].iter().all(|&b| b == 0));
    }

    #[test]
    fn every_recipient_can_decrypt() {
        let (id1, r1) = keypair();
        let (id2, r2) = keypair();
        let ct = encrypt_document(&[r1, r2], b"{\"a\":1}").unwrap();
        for id in [&id1, &id2] {
            let pt = decrypt_document(id, &ct, 1024).unwrap();
            assert!(pt.starts_with(b"{\"a\":1}"));
        }
        let (other, _) = keypair();
        assert!(matches!(
            decrypt_document(&other, &ct, 1024),
            Err(DecryptError::Failed)
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let (id, r) = keypair();
        let mut ct = encrypt_document(&[r], &[b'x'; 70_000]).unwrap();
        let n = ct.len();
        ct[n - 100] ^= 1;
        let result = decrypt_stream(&id, &ct[..]).and_then(|mut rd| {
            let mut v = Vec::new();
            rd.read_to_end(&mut v).map_err(map_io)
        });
        assert!(matches!(result, Err(DecryptError::Failed)));
    }

    #[test]
    fn truncation_is_detected() {
        let (id, r) = keypair();
        let ct = encrypt_document(&[r], &[b'x'; 70_000]).unwrap();
        let cut = &ct[..ct.len() - 10];
        let result = decrypt_stream(&id, cut).and_then(|mut rd| {
            let mut v = Vec::new();
            rd.read_to_end(&mut v).map_err(map_io)
        });
        assert!(matches!(result, Err(DecryptError::Failed)));
    }

    #[test]
    fn a_header_line_without_end_is_refused_early() {
        // A stanza argument that never ends: refused once the header bound
        // is passed, not read to the end of the file.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let start = b"age-encryption.org/v1\n-> X25519 ";
                let n = buf.len().min(4096);
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    let at = self.0 as usize + i;
                    *b = if at < start.len() { start[at] } else { b'A' };
                }
                self.0 += n as u64;
                assert!(self.0 < 1 << 20, "read far past any header bound");
                Ok(n)
            }
        }
        let (id, _) = keypair();
        assert!(decrypt_stream(&id, Endless(0)).is_err());
    }

    #[test]
    fn document_size_limit() {
        let (id, r) = keypair();
        let ct = encrypt_document(&[r], &[b'x'; 5000]).unwrap();
        assert!(decrypt_document(&id, &ct, 100).is_err());
    }

    #[test]
    fn identity_from_bytes_matches_generated_identity_format() {
        let id = identity_from_secret_bytes(&[42u8; 32]);
        use secrecy::ExposeSecret;
        let s = id.to_string();
        assert!(s.expose_secret().starts_with("AGE-SECRET-KEY-1"));
        assert!(id.to_public().to_string().starts_with("age1"));
        assert!(parse_recipient(&id.to_public().to_string()).is_ok());
        assert!(parse_recipient("age1notakey").is_err());
    }
}
