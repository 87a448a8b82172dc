//! Investigator tokens: what `wbs-server token add|list|revoke|totp` does
//! to a store.
//!
//! A token is 32 random bytes, shown once as `wbs_<base64url>`; the store
//! keeps only its SHA-256. The token is made by the `wbs-server token`
//! process, which hands a [`TokenOp`] (a name, the hash, and for TOTP only
//! the sealed secret) to the store: through the running server's control
//! channel or directly ([`crate::access`] decides which). The token itself
//! never leaves the command.
//!
//! A TOTP second factor ([`crate::totp`]) is made by the command too: it
//! draws the secret, seals it under the token and hands over only the
//! sealed bytes. Because the secret is sealed under the token, enrolling or
//! resetting the second factor of an existing token (`token totp NAME`)
//! needs the token itself; the store checks that it hashes to NAME's hash.
//!
//! This module depends on the store alone: [`TokenOp::apply`] is the one
//! place a token operation is carried out, whichever way the command
//! reached the store.

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wbs_store::{Store, StoreError, TokenInfo, TokenName};
use zeroize::Zeroizing;

/// What to do with tokens; the same in the CLI and on the control channel
/// (where it travels as JSON, the hashes and sealed secrets in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenOp {
    /// Store the hash of a new token under `name`.
    Add {
        /// The investigator's or desk's name.
        name: TokenName,
        /// SHA-256 of the token.
        #[serde(with = "hex32")]
        hash: [u8; 32],
        /// Its TOTP secret sealed under the token, if it has one.
        #[serde(with = "sealed_hex")]
        totp: Option<Vec<u8>>,
    },
    /// Enrol, reset (`Some`) or remove (`None`) the TOTP second factor of
    /// the token called `name`, whose hash must be `hash`.
    Totp {
        /// The token's name.
        name: TokenName,
        /// SHA-256 of the token: proof that the caller holds it.
        #[serde(with = "hex32")]
        hash: [u8; 32],
        /// The new TOTP secret sealed under the token, or `None` to remove.
        #[serde(with = "sealed_hex")]
        totp: Option<Vec<u8>>,
    },
    /// List token names.
    List,
    /// Remove the token called `name`.
    Revoke {
        /// Its name.
        name: TokenName,
    },
}

/// A token name as the operator typed it, checked against the store's
/// one rule for names ([`TokenName`]), so that a refused name is refused
/// before anything is made or sent.
pub fn parse_name(name: &str) -> Result<TokenName, TokenError> {
    TokenName::parse(name).map_err(|e| match e {
        StoreError::Invalid(rule) => TokenError::Name(rule),
        other => TokenError::Store(other),
    })
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name does not follow the rule for token names.
    #[error("{0}")]
    Name(String),
    /// `revoke` (or `totp`) of a name that has no token.
    #[error("no token named {:?}", .0.as_str())]
    NoSuchToken(TokenName),
    /// `totp` with a token that is not the named one's (or no such name:
    /// the same answer for both).
    #[error("no token named {:?}, or the token given is not {:?}'s", .0.as_str(), .0.as_str())]
    NotTheirs(TokenName),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new token, as printed once, and its hash, as stored.
pub fn new_token() -> (Zeroizing<String>, [u8; 32]) {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut raw[..]);
    let token = Zeroizing::new(format!(
        "wbs_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..])
    ));
    let hash = Sha256::digest(token.as_bytes()).into();
    (token, hash)
}

/// What an investigator needs to enrol a TOTP secret in an authenticator
/// app: the `otpauth://` URI and the same as a QR code for the terminal.
/// Both hold the secret: show them to the investigator only, never log
/// them (they are zeroized when dropped, and `Debug` shows neither).
pub struct Enrolment {
    /// `otpauth://totp/WBS:NAME?secret=…&issuer=WBS&algorithm=SHA1&digits=6&period=30`.
    pub uri: Zeroizing<String>,
    /// The URI as a QR code in Unicode half blocks, light on dark, with its
    /// quiet zone (scans from a dark or a light terminal).
    pub qr: Zeroizing<String>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(..)")
    }
}

/// The enrolment text for `secret` on the token called `name`.
pub fn enrolment(name: &str, secret: &crate::totp::TotpSecret) -> Enrolment {
    use qrcode::render::unicode::Dense1x2;
    let uri = secret.otpauth_uri(name);
    let qr = match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => Zeroizing::new(
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        ),
        // A URI of ~150 bytes always fits; if not, the URI alone will do.
        Err(_) => Zeroizing::new(String::new()),
    };
    Enrolment { uri, qr }
}

/// Reads a token as given to `token totp` (a file's or standard input's
/// first line): trimmed, `wbs_` and 43 base64url characters.
pub fn parse_token(text: &str) -> Result<Zeroizing<String>, String> {
    let token = text.lines().next().unwrap_or_default().trim();
    let ok = token.len() == 4 + 43
        && token.starts_with("wbs_")
        && token[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(Zeroizing::new(token.to_owned()))
    } else {
        Err(
            "that is not a WBS token (wbs_ and 43 more characters, as `token add` printed it)"
                .into(),
        )
    }
}

impl TokenOp {
    /// Whether the operation changes the store (everything but `List`).
    pub fn changes(&self) -> bool {
        !matches!(self, TokenOp::List)
    }

    /// Carries the operation out on `store`, audited and flushed. Returns
    /// the tokens for `List`, nothing otherwise.
    pub fn apply(&self, store: &dyn Store) -> Result<Vec<TokenInfo>, TokenError> {
        let audit = |action: &str, name: &TokenName| -> Result<(), TokenError> {
            store.audit("operator", action, name)?;
            store.flush()?;
            Ok(())
        };
        match self {
            TokenOp::Add { name, hash, totp } => {
                store.add_token(name, *hash, totp.clone())?;
                let action = if totp.is_some() {
                    "token_add_totp"
                } else {
                    "token_add"
                };
                audit(action, name)?;
                Ok(Vec::new())
            }
            TokenOp::Totp { name, hash, totp } => {
                store
                    .set_token_totp(name, *hash, totp.clone())
                    .map_err(|e| match e {
                        StoreError::NotFound => TokenError::NotTheirs(name.clone()),
                        other => other.into(),
                    })?;
                let action = if totp.is_some() {
                    "token_totp_enrol"
                } else {
                    "token_totp_remove"
                };
                audit(action, name)?;
                Ok(Vec::new())
            }
            TokenOp::List => Ok(store.list_tokens()?),
            TokenOp::Revoke { name } => {
                store.revoke_token(name).map_err(|e| match e {
                    StoreError::NotFound => TokenError::NoSuchToken(name.clone()),
                    other => other.into(),
                })?;
                audit("token_revoke", name)?;
                Ok(Vec::new())
            }
        }
    }
}

/// `[u8; 32]` as 64 lower-case hex digits.
mod hex32 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&wbs_protocol::hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        wbs_protocol::parse_sha256_hex(&text)
            .ok_or_else(|| D::Error::custom("a token hash must be 64 hex digits"))
    }
}

/// A sealed TOTP secret as lower-case hex of exactly
/// [`SEALED_LEN`](crate::totp::SEALED_LEN) bytes, or null for none.
mod sealed_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(sealed) => s.serialize_str(&wbs_protocol::hex(sealed)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let bad = || D::Error::custom("the sealed TOTP secret must be hex of the right length");
        if text.len() != 2 * crate::totp::SEALED_LEN
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| bad()))
            .collect::<Result<Vec<u8>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_shows_the_uri_and_a_qr_code() {
        let secret = crate::totp::TotpSecret::generate();
        let e = enrolment("siti", &secret);
        assert!(
            e.uri.starts_with("otpauth://totp/WBS:siti?secret="),
            "{}",
            *e.uri
        );
        assert!(e.uri.contains(&*secret.base32()));
        assert!(e.qr.lines().count() > 10, "{}", *e.qr);
        assert!(e.qr.contains('\u{2580}') || e.qr.contains('\u{2584}'));
        assert_eq!(format!("{e:?}"), "Enrolment(..)");
    }

    #[test]
    fn tokens_are_read_from_their_first_line_only_if_well_formed() {
        let (token, _) = new_token();
        assert_eq!(*parse_token(&format!("{}\n", *token)).unwrap(), *token);
        assert_eq!(
            *parse_token(&format!("  {}  \nrest", *token)).unwrap(),
            *token
        );
        for bad in ["", "wbs_", "token", &token[..40], &format!("{}x", *token)] {
            assert!(parse_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_random_and_their_hash_is_sha256() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(*a, *b);
        assert!(a.starts_with("wbs_") && a.len() == 4 + 43, "{}", *a);
        let expect: [u8; 32] = Sha256::digest(a.as_bytes()).into();
        assert_eq!(ha, expect);
    }
}
