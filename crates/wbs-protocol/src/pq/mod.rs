//! age's hybrid post-quantum recipient type, `mlkem768x25519`
//! (c2sp.org/age, "The MLKEM768-X25519 hybrid post-quantum recipient type";
//! PROTOCOL.md §3.2), on the `age` crate's public [`age::Recipient`] and
//! [`age::Identity`] traits.
//!
//! - recipient `age1pq1…`: Bech32 (HRP `age1pq`) of the 1,216-byte X-Wing
//!   public key; identity `AGE-SECRET-KEY-PQ-1…`: Bech32 (HRP
//!   `AGE-SECRET-KEY-PQ-`) of the 32-byte X-Wing seed. Recipients run to
//!   1,959 characters, past BIP-173's 90: the `bech32` 0.9 decoder and
//!   encoder used here set no limit on the data part, and the checksum is
//!   BIP-173's over the whole string (checked against the specification's
//!   own example, `tests/testdata/pq/age-spec-example.txt`).
//! - stanza `-> mlkem768x25519 <enc>` with a 32-byte body: the file key
//!   sealed with HPKE base mode, X-Wing (KEM id 0x647a), HKDF-SHA256,
//!   ChaCha20-Poly1305, info `age-encryption.org/mlkem768x25519`, empty aad.
//! - the label `postquantum`: the `age` encryptor refuses to put these
//!   stanzas in one file with X25519 ones, as the specification asks.
//!
//! The X-Wing and HPKE pieces are in [`xwing`] and [`hpke`]; both are
//! compositions of the primitives age already builds, checked against their
//! published vectors, and the whole against the C2SP CCTV age vectors
//! (`tests/cctv.rs`) and typage (`tests/typage.rs`).

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use bech32::{FromBase32, ToBase32, Variant};
use zeroize::{Zeroize, Zeroizing};

pub mod hpke;
pub mod xwing;

/// The stanza tag (its first argument in the age header).
pub const STANZA_TAG: &str = "mlkem768x25519";
/// HPKE `info` for the stanza.
pub const HPKE_INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// HPKE KEM identifier of X-Wing (MLKEM768-X25519).
pub const KEM_ID: u16 = 0x647a;
/// The Bech32 HRP of recipients.
pub const RECIPIENT_HRP: &str = "age1pq";
/// The Bech32 HRP of identities (written in upper case).
pub const IDENTITY_HRP: &str = "age-secret-key-pq-";
/// Length of the stanza's argument once decoded: X-Wing's ciphertext.
pub const ENC_LEN: usize = xwing::CIPHERTEXT_LEN;
/// Length of the base64 argument: ⌈1120 × 4 / 3⌉.
pub const ENC_B64_LEN: usize = (ENC_LEN * 4).div_ceil(3);
/// Length of the stanza body: a 16-byte file key and its 16-byte tag.
pub const BODY_LEN: usize = 32;
/// The label these recipients put on the stanzas they write.
pub const LABEL_POSTQUANTUM: &str = "postquantum";

/// An `age1pq1…` recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient(xwing::PublicKey);

/// An `AGE-SECRET-KEY-PQ-1…` identity. Secret: no `Debug`, its seed and
/// expanded keys are zeroized when dropped.
pub struct Identity(xwing::DecapsulationKey);

/// Why a string is not a recipient or identity of this type. The messages
/// never repeat the input, which may be a secret pasted by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// Not Bech32, a bad checksum, or mixed case.
    #[error("not a valid Bech32 string")]
    Bech32,
    /// Bech32, but not with the expected prefix.
    #[error("wrong prefix for this kind of key")]
    Prefix,
    /// The decoded key has the wrong length or is not a valid key.
    #[error("not a valid post-quantum (mlkem768x25519) key")]
    Key,
}

fn bech32_decode(s: &str, hrp: &str) -> Result<Zeroizing<Vec<u8>>, KeyParseError> {
    let (found_hrp, mut data, variant) = bech32::decode(s).map_err(|_| KeyParseError::Bech32)?;
    let result = if variant != Variant::Bech32 {
        Err(KeyParseError::Bech32)
    } else if found_hrp != hrp {
        Err(KeyParseError::Prefix)
    } else {
        Vec::<u8>::from_base32(&data)
            .map(Zeroizing::new)
            .map_err(|_| KeyParseError::Bech32)
    };
    // The 5-bit groups of an identity are the secret too.
    for group in data.iter_mut() {
        *group = bech32::u5::try_from_u8(0).expect("0 is a 5-bit value");
    }
    std::hint::black_box(&data);
    result
}

fn bech32_encode(hrp: &str, bytes: &[u8]) -> Zeroizing<String> {
    let mut groups = bytes.to_base32();
    let encoded = bech32::encode(hrp, &groups, Variant::Bech32)
        .expect("a valid static HRP and no length limit on the data");
    for group in groups.iter_mut() {
        *group = bech32::u5::try_from_u8(0).expect("0 is a 5-bit value");
    }
    std::hint::black_box(&groups);
    Zeroizing::new(encoded)
}

impl Recipient {
    /// The encoded X-Wing public key.
    pub fn as_bytes(&self) -> &[u8; xwing::PUBLIC_KEY_LEN] {
        self.0.as_bytes()
    }

    /// Wraps `file_key` with randomness from the operating system.
    fn wrap(&self, file_key: &[u8; 16]) -> Result<Stanza, xwing::XWingError> {
        let (shared_secret, enc) = self.0.encapsulate()?;
        let body = hpke::Suite::new(KEM_ID)
            .key_schedule(&shared_secret[..], HPKE_INFO)
            .seal(b"", file_key);
        Ok(Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![base64::engine::general_purpose::STANDARD_NO_PAD.encode(&enc[..])],
            body,
        })
    }
}

impl FromStr for Recipient {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bech32_decode(s, RECIPIENT_HRP)?;
        xwing::PublicKey::from_bytes(&bytes)
            .map(Recipient)
            .map_err(|_| KeyParseError::Key)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(RECIPIENT_HRP, self.0.as_bytes()))
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        // Unreachable for a parsed key (low-order X25519 keys are refused
        // when parsing), but never panic on a key.
        let stanza = self.wrap(file_key.expose_secret()).map_err(|e| {
            age::EncryptError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                e.to_string(),
            ))
        })?;
        Ok((vec![stanza], HashSet::from([LABEL_POSTQUANTUM.to_owned()])))
    }
}

impl Identity {
    /// A fresh identity from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Identity(xwing::DecapsulationKey::generate())
    }

    /// The identity whose X-Wing seed is `seed` (for instance derived from
    /// a receipt code, PROTOCOL.md §2.1).
    pub fn from_seed(seed: &[u8; xwing::SEED_LEN]) -> Self {
        Identity(xwing::DecapsulationKey::from_seed(seed))
    }

    /// The matching recipient.
    pub fn to_public(&self) -> Recipient {
        Recipient(self.0.public_key().clone())
    }

    /// The `AGE-SECRET-KEY-PQ-1…` string.
    pub fn to_string(&self) -> SecretString {
        let lower = bech32_encode(IDENTITY_HRP, self.0.seed());
        SecretString::from(lower.to_uppercase())
    }

    /// Unwraps a stanza known to be `mlkem768x25519`: `Err` for a malformed
    /// stanza or a low-order X25519 share (a broken file), `Ok(None)` when
    /// it is not for this identity.
    fn unwrap(&self, stanza: &Stanza) -> Result<Option<FileKey>, age::DecryptError> {
        let [arg] = &stanza.args[..] else {
            return Err(age::DecryptError::InvalidHeader);
        };
        let enc = decode_canonical_b64(arg).ok_or(age::DecryptError::InvalidHeader)?;
        let enc: &[u8; ENC_LEN] = enc[..]
            .try_into()
            .map_err(|_| age::DecryptError::InvalidHeader)?;
        // Checked before any decryption: partitioning oracles (c2sp.org/age).
        if stanza.body.len() != BODY_LEN {
            return Err(age::DecryptError::InvalidHeader);
        }
        let shared_secret = self
            .0
            .decapsulate(enc)
            .map_err(|_| age::DecryptError::InvalidHeader)?;
        let opened = hpke::Suite::new(KEM_ID)
            .key_schedule(&shared_secret[..], HPKE_INFO)
            .open(b"", &stanza.body);
        // A stanza for another key fails here: not an error, since stanzas
        // do not say whom they are for.
        Ok(opened.map(|file_key| FileKey::init_with_mut(|k| k.copy_from_slice(&file_key))))
    }
}

fn decode_canonical_b64(s: &str) -> Option<Vec<u8>> {
    // base64's standard engine refuses padding and non-zero trailing bits:
    // only the canonical encoding decodes.
    let engine = &base64::engine::general_purpose::STANDARD_NO_PAD;
    let decoded = engine.decode(s).ok()?;
    (engine.encode(&decoded) == s).then_some(decoded)
}

impl FromStr for Identity {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = bech32_decode(s, IDENTITY_HRP)?;
        let seed: &[u8; xwing::SEED_LEN] = bytes[..].try_into().map_err(|_| KeyParseError::Key)?;
        let identity = Identity::from_seed(seed);
        bytes.zeroize();
        Ok(identity)
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        self.unwrap(stanza).transpose()
    }
}

/// Whether `s` looks like a post-quantum recipient (by its prefix only).
pub fn is_pq_recipient(s: &str) -> bool {
    s.trim().starts_with("age1pq1")
}

/// Hex to bytes, for the known-answer tests of the submodules.
#[cfg(test)]
pub(crate) fn test_unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_example() -> (String, String) {
        let text = include_str!("../../tests/testdata/pq/age-spec-example.txt");
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        (
            lines.next().unwrap().to_owned(),
            lines.next().unwrap().to_owned(),
        )
    }

    #[test]
    fn the_specifications_example_key_pair() {
        let (identity, recipient) = spec_example();
        assert_eq!(recipient.len(), 1959);
        let id: Identity = identity.parse().unwrap();
        assert_eq!(id.to_string().expose_secret(), identity);
        assert_eq!(id.to_public().to_string(), recipient);
        let parsed: Recipient = recipient.parse().unwrap();
        assert_eq!(parsed.to_string(), recipient);
        // Lower-case identities are the same Bech32 string.
        assert!(identity.to_lowercase().parse::<Identity>().is_ok());
    }

    #[test]
    fn a_typo_in_a_long_recipient_is_caught() {
        let (_, recipient) = spec_example();
        let mut bytes = recipient.clone().into_bytes();
        for pos in [10, 500, 1000, 1950] {
            let original = bytes[pos];
            bytes[pos] = if original == b'q' { b'p' } else { b'q' };
            let typo = std::str::from_utf8(&bytes).unwrap();
            assert_eq!(typo.parse::<Recipient>(), Err(KeyParseError::Bech32));
            bytes[pos] = original;
        }
        let truncated = &recipient[..recipient.len() - 1];
        assert!(truncated.parse::<Recipient>().is_err());
        let mixed = format!("AGE1PQ1{}", &recipient[7..]);
        assert_eq!(mixed.parse::<Recipient>(), Err(KeyParseError::Bech32));
    }

    #[test]
    fn prefixes_and_lengths_are_checked() {
        let (identity, recipient) = spec_example();
        assert_eq!(identity.parse::<Recipient>(), Err(KeyParseError::Prefix));
        assert_eq!(
            recipient.parse::<Identity>().err(),
            Some(KeyParseError::Prefix)
        );
        let x25519 = age::x25519::Identity::generate();
        assert_eq!(
            x25519.to_public().to_string().parse::<Recipient>(),
            Err(KeyParseError::Prefix)
        );
        let short = bech32_encode(RECIPIENT_HRP, &[1u8; 32]);
        assert_eq!(short.parse::<Recipient>(), Err(KeyParseError::Key));
        let long = bech32_encode(IDENTITY_HRP, &[1u8; 33]).to_uppercase();
        assert_eq!(long.parse::<Identity>().err(), Some(KeyParseError::Key));
    }

    #[test]
    fn errors_do_not_repeat_the_input() {
        let identity = Identity::generate().to_string();
        let secret = identity.expose_secret();
        let mut typo = secret.to_owned();
        typo.pop();
        typo.push(if secret.ends_with('Q') { 'P' } else { 'Q' });
        let err = typo.parse::<Identity>().err().unwrap().to_string();
        assert!(!err.contains(&secret[20..40]), "{err}");
    }

    #[test]
    fn stanza_shape_and_round_trip() {
        let id = Identity::generate();
        let r = id.to_public();
        let file_key = FileKey::init_with_mut(|k| k.copy_from_slice(&[7u8; 16]));
        let (stanzas, labels) = age::Recipient::wrap_file_key(&r, &file_key).unwrap();
        assert_eq!(labels, HashSet::from(["postquantum".to_owned()]));
        let [stanza] = &stanzas[..] else { panic!() };
        assert_eq!(stanza.tag, "mlkem768x25519");
        assert_eq!(stanza.args.len(), 1);
        assert_eq!(stanza.args[0].len(), ENC_B64_LEN);
        assert_eq!(stanza.body.len(), BODY_LEN);
        let back = age::Identity::unwrap_stanza(&id, stanza).unwrap().unwrap();
        assert_eq!(back.expose_secret(), &[7u8; 16]);
        let other = Identity::generate();
        assert!(age::Identity::unwrap_stanza(&other, stanza).is_none());
        let copy = |tag: &str, args: Vec<String>, body: &[u8]| Stanza {
            tag: tag.to_owned(),
            args,
            body: body.to_vec(),
        };
        let x25519 = copy("X25519", stanza.args.clone(), &stanza.body);
        assert!(age::Identity::unwrap_stanza(&id, &x25519).is_none());
        for broken in [
            copy(
                STANZA_TAG,
                vec![stanza.args[0].clone(), "x".into()],
                &stanza.body,
            ),
            copy(STANZA_TAG, stanza.args.clone(), &stanza.body[..31]),
            copy(
                STANZA_TAG,
                vec![stanza.args[0][..ENC_B64_LEN - 4].to_owned()],
                &stanza.body,
            ),
        ] {
            assert!(matches!(
                age::Identity::unwrap_stanza(&id, &broken),
                Some(Err(age::DecryptError::InvalidHeader))
            ));
        }
    }

    #[test]
    fn the_age_encryptor_refuses_to_mix_with_x25519() {
        let pq = Identity::generate().to_public();
        let classic = age::x25519::Identity::generate().to_public();
        for pair in [
            [&pq as &dyn age::Recipient, &classic],
            [&classic as &dyn age::Recipient, &pq],
        ] {
            assert!(matches!(
                age::Encryptor::with_recipients(pair.into_iter()),
                Err(age::EncryptError::IncompatibleRecipients { .. })
            ));
        }
    }
}
