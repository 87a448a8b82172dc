//! The inspectorate's private keys, loaded from an identity file, and
//! decryption with them.
//!
//! An identity file is either plain text as `age-keygen` writes it (`#`
//! comments and one or more `AGE-SECRET-KEY-1…` or post-quantum
//! `AGE-SECRET-KEY-PQ-1…` lines) or that text encrypted with an age
//! passphrase (scrypt), which is what `wbs-inspect keygen` writes by
//! default and what `age -d -i` also accepts.
//!
//! Several keys in one file, or several identity files, is how keys are
//! rotated: old cases stay readable with the old key while new ones use the
//! new key, as when a deployment moves to post-quantum keys. That is also why this
//! module calls `age::Decryptor` itself rather than
//! `wbs_protocol::envelope::decrypt_stream`, which takes a single identity
//! and folds "not a recipient" and "tampered" into one opaque error; here,
//! on the investigator's own machine, the difference is what they need to
//! know to act.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use wbs_protocol::keys::Identity;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Largest identity file read.
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;
/// How an age file starts (binary format).
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// Where the passphrase of an encrypted identity file comes from.
pub enum PassphraseSource<'a> {
    /// Ask on the terminal.
    Terminal,
    /// The first line of this file.
    File(&'a Path),
    /// Already asked for, by the desktop workbench's unlock screen.
    Given(&'a SecretString),
}

/// Why an object could not be decrypted.
#[derive(Debug)]
pub enum DecryptFailure {
    /// None of our keys is among the object's recipients.
    NotRecipient,
    /// The file is not a valid age file, or its authentication failed.
    Damaged,
    /// Reading the ciphertext failed.
    Io(io::Error),
}

/// The private keys of an identity file. Not `Debug`: it holds secrets
/// (age zeroizes each key when dropped).
pub struct Keyring {
    identities: Vec<Identity>,
}

impl Keyring {
    /// Loads an identity file, decrypting it with a passphrase if it is
    /// passphrase-protected.
    pub fn load(path: &Path, passphrase: PassphraseSource<'_>) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::read(path, e))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::read(path, e))?;
        if bytes.len() as u64 > MAX_IDENTITY_FILE {
            return Err(identity_error(path, "too large to be an identity file"));
        }
        let text = if bytes.starts_with(AGE_MAGIC) {
            let passphrase = match passphrase {
                PassphraseSource::File(f) => crate::passphrase::from_file(f)?,
                PassphraseSource::Given(p) => p.clone(),
                PassphraseSource::Terminal => crate::passphrase::prompt(&format!(
                    "Passphrase for identity file {}: ",
                    path.display()
                ))?,
            };
            decrypt_identity_file(path, &bytes, passphrase)?
        } else {
            bytes
        };
        Self::parse(path, &text)
    }

    /// Loads several identity files into one keyring (`--identity` given
    /// more than once): the keys of all of them, in order.
    pub fn load_all(paths: &[PathBuf], passphrase: PassphraseSource<'_>) -> Result<Self> {
        let mut identities = Vec::new();
        for path in paths {
            let source = match &passphrase {
                PassphraseSource::Terminal => PassphraseSource::Terminal,
                PassphraseSource::File(f) => PassphraseSource::File(f),
                PassphraseSource::Given(p) => PassphraseSource::Given(p),
            };
            identities.extend(Self::load(path, source)?.identities);
        }
        if identities.is_empty() {
            return Err(Error::Usage("no identity file given".into()));
        }
        Ok(Keyring { identities })
    }

    /// Parses identity text: `#` comments, blank lines, and
    /// `AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…` lines.
    fn parse(path: &Path, text: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(text)
            .map_err(|_| identity_error(path, "not an age identity file (not text)"))?;
        let mut identities = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The message never repeats the line: it may be a secret key.
            let identity = Identity::from_str(line)
                .map_err(|why| identity_error(path, format!("line {}: {why}", number + 1)))?;
            identities.push(identity);
        }
        if identities.is_empty() {
            return Err(identity_error(
                path,
                "holds no AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1… identity",
            ));
        }
        Ok(Keyring { identities })
    }

    /// Builds a keyring from identities already in memory.
    #[cfg(test)]
    pub fn from_identities(identities: Vec<Identity>) -> Self {
        Keyring { identities }
    }

    /// The public recipients (`age1…` or `age1pq1…`) of every key, in file order. These,
    /// and not the list a server writes into `export.json`, are the
    /// inspectorate recipients of a reply: a compromised server could slip
    /// its own key into that list.
    pub fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in &self.identities {
            let r = id.to_public().to_string();
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// Opens an age file for streaming decryption with any of our keys.
    /// A tampered chunk makes a later `read` fail with `InvalidData`.
    pub fn decrypt<'a, R: Read + 'a>(
        &'a self,
        ciphertext: R,
    ) -> Result<impl Read + 'a, DecryptFailure> {
        let decryptor = wbs_protocol::envelope::age_decryptor(ciphertext).map_err(classify)?;
        // WBS never encrypts an object with a passphrase; such a file was
        // swapped in.
        if decryptor.is_scrypt() {
            return Err(DecryptFailure::Damaged);
        }
        decryptor
            .decrypt(self.identities.iter().map(|i| i as &dyn age::Identity))
            .map_err(classify)
    }
}

fn classify(e: age::DecryptError) -> DecryptFailure {
    match e {
        age::DecryptError::NoMatchingKeys => DecryptFailure::NotRecipient,
        age::DecryptError::Io(io) => classify_io(io),
        _ => DecryptFailure::Damaged,
    }
}

/// An I/O error from age's reader: data errors mean the authentication of a
/// chunk failed or the file was cut short.
pub fn classify_io(e: io::Error) -> DecryptFailure {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => DecryptFailure::Damaged,
        _ => DecryptFailure::Io(e),
    }
}

fn identity_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Identity {
        path: PathBuf::from(path),
        reason: reason.into(),
    }
}

/// Decrypts a passphrase-protected identity file into zeroizing memory.
fn decrypt_identity_file(
    path: &Path,
    ciphertext: &[u8],
    passphrase: SecretString,
) -> Result<Zeroizing<Vec<u8>>> {
    let decryptor = age::Decryptor::new_buffered(ciphertext)
        .map_err(|_| identity_error(path, "starts like an age file but is not a valid one"))?;
    if !decryptor.is_scrypt() {
        return Err(identity_error(
            path,
            "is an age file, but not one encrypted with a passphrase",
        ));
    }
    let identity = age::scrypt::Identity::new(passphrase);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::ExcessiveWork { required, .. } => identity_error(
                path,
                format!(
                    "its passphrase needs too much work to check on this machine (scrypt 2^{required})"
                ),
            ),
            age::DecryptError::Io(io) => Error::read(path, io),
            _ => Error::WrongPassphrase(path.to_path_buf()),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|_| identity_error(path, "is damaged (its encryption does not authenticate)"))?;
    Ok(plain)
}

/// An identity as the text `age-keygen` writes: a creation comment, the
/// public key comment, then the secret key.
pub fn identity_text(identity: &Identity, created: &str) -> Zeroizing<String> {
    let secret = identity.to_string();
    Zeroizing::new(format!(
        "# created: {created}\n# public key: {}\n{}\n",
        identity.to_public(),
        secret.expose_secret()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use wbs_protocol::keys::RecipientKind;

    #[test]
    fn parses_comments_blank_lines_and_several_keys_of_both_kinds() {
        let a = Identity::generate(RecipientKind::Classic);
        let b = Identity::generate(RecipientKind::PostQuantum);
        let text = format!(
            "# created: now\n\n{}\n  # another\n{}\n",
            a.to_string().expose_secret(),
            b.to_string().expose_secret()
        );
        let ring = Keyring::parse(Path::new("k"), text.as_bytes()).unwrap();
        assert_eq!(
            ring.recipients(),
            vec![a.to_public().to_string(), b.to_public().to_string()]
        );
    }

    #[test]
    fn bad_lines_are_refused_without_echoing_them() {
        let err = Keyring::parse(Path::new("k"), b"AGE-SECRET-KEY-1NOTREALLYAKEY\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("NOTREALLY"), "{err}");
        let err = Keyring::parse(Path::new("k"), b"AGE-SECRET-KEY-PQ-1NOTREALLYAKEY\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("post-quantum"),
            "{err}"
        );
        assert!(!err.contains("NOTREALLY"), "{err}");
        assert!(Keyring::parse(Path::new("k"), b"# only comments\n").is_err());
    }

    #[test]
    fn any_key_of_the_ring_decrypts() {
        let old = Identity::generate(RecipientKind::Classic);
        let new = Identity::generate(RecipientKind::PostQuantum);
        let ct = wbs_protocol::envelope::encrypt_document(&[old.to_public()], b"{}").unwrap();
        let pq_ct = wbs_protocol::envelope::encrypt_document(&[new.to_public()], b"[]").unwrap();
        let ring = Keyring::from_identities(vec![new, old]);
        let mut out = Vec::new();
        ring.decrypt(&pq_ct[..])
            .ok()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.starts_with(b"[]"));
        let mut out = Vec::new();
        ring.decrypt(&ct[..])
            .ok()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.starts_with(b"{}"));
        let stranger =
            Keyring::from_identities(vec![Identity::generate(RecipientKind::PostQuantum)]);
        assert!(matches!(
            stranger.decrypt(&ct[..]).err(),
            Some(DecryptFailure::NotRecipient)
        ));
    }
}
