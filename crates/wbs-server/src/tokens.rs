//! `wbs-server token add|list|revoke|totp`: investigator tokens.
//!
//! A token is 32 random bytes, shown once as `wbs_<base64url>`; the store
//! keeps only its SHA-256. The token is made by the `wbs-server token add`
//! process. When a server runs on the data directory, the command hands it
//! the name and the hash through the control socket ([`crate::control`]),
//! so tokens are added and revoked without stopping the drop box and take
//! effect at once; the token itself never crosses the socket. With no
//! server running, the command opens the store itself.
//!
//! A TOTP second factor ([`crate::totp`]) is made by the command too: it
//! draws the secret, seals it under the token and hands over only the
//! sealed bytes, so neither the secret nor the token crosses the socket.
//! Because the secret is sealed under the token, enrolling or resetting
//! the second factor of an existing token (`token totp NAME`) needs the
//! token itself; the store checks that it hashes to NAME's hash.
//!
//! Only `add` may create a store, because an operator may make the first
//! token before the first start; it says so loudly, so that a mistyped
//! `--data` is noticed at once instead of as a 401 at the desk. `list` and
//! `revoke` never create anything.

use std::path::Path;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use wbs_store::{SledStore, Store, StoreError, TokenInfo, TokenName};
use zeroize::Zeroizing;

/// What to do with tokens; the same in the CLI and on the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOp {
    /// Store the hash of a new token under `name`.
    Add {
        /// The investigator's or desk's name.
        name: String,
        /// SHA-256 of the token.
        hash: [u8; 32],
        /// Its TOTP secret sealed under the token, if it has one.
        totp: Option<Vec<u8>>,
    },
    /// Enrol, reset (`Some`) or remove (`None`) the TOTP second factor of
    /// the token called `name`, whose hash must be `hash`.
    Totp {
        /// The token's name.
        name: String,
        /// SHA-256 of the token: proof that the caller holds it.
        hash: [u8; 32],
        /// The new TOTP secret sealed under the token, or `None` to remove.
        totp: Option<Vec<u8>>,
    },
    /// List token names.
    List,
    /// Remove the token called `name`.
    Revoke {
        /// Its name.
        name: String,
    },
}

/// A token name: 1–64 letters, digits, `-`, `_`, `.`, `@`. Names end up in
/// the audit log and on the control socket's one-line requests, so they
/// never hold spaces or control characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

const NAME_RULE: &str = "a token name is 1-64 characters of letters, digits, - _ . @";

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

/// A sealed TOTP secret on a request line: hex, or `-` for none.
fn sealed_word(totp: &Option<Vec<u8>>) -> String {
    match totp {
        Some(sealed) => wbs_protocol::hex(sealed),
        None => "-".into(),
    }
}

/// Parses [`sealed_word`]'s output.
fn parse_sealed(word: &str) -> Result<Option<Vec<u8>>, String> {
    if word == "-" {
        return Ok(None);
    }
    let bad = || "the sealed TOTP secret must be hex of the right length".to_owned();
    if word.len() != 2 * crate::totp::SEALED_LEN {
        return Err(bad());
    }
    (0..word.len())
        .step_by(2)
        .map(|i| {
            let pair = &word[i..i + 2];
            if pair
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                u8::from_str_radix(pair, 16).map_err(|_| bad())
            } else {
                Err(bad())
            }
        })
        .collect::<Result<Vec<u8>, String>>()
        .map(Some)
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
    /// The control-socket request line for this operation.
    pub fn request_line(&self) -> String {
        match self {
            TokenOp::Add { name, hash, totp } => {
                format!(
                    "token-add {name} {} {}",
                    wbs_protocol::hex(hash),
                    sealed_word(totp)
                )
            }
            TokenOp::Totp { name, hash, totp } => {
                format!(
                    "token-totp {name} {} {}",
                    wbs_protocol::hex(hash),
                    sealed_word(totp)
                )
            }
            TokenOp::List => "token-list".into(),
            TokenOp::Revoke { name } => format!("token-revoke {name}"),
        }
    }

    /// Parses a control-socket request line; `None` if it is not a token
    /// request, `Some(Err)` if it is one but malformed.
    pub fn parse_request(line: &str) -> Option<Result<TokenOp, String>> {
        let mut words = line.split(' ');
        let verb = words.next()?;
        let args: Vec<&str> = words.collect();
        let op = match (verb, args.as_slice()) {
            ("token-list", []) => Ok(TokenOp::List),
            ("token-revoke", [name]) => Ok(TokenOp::Revoke {
                name: (*name).to_owned(),
            }),
            // From a `token add` of before TOTP existed.
            ("token-add", [name, hash]) => wbs_protocol::parse_sha256_hex(hash)
                .map(|hash| TokenOp::Add {
                    name: (*name).to_owned(),
                    hash,
                    totp: None,
                })
                .ok_or_else(|| "token-add: the hash must be 64 hex digits".to_owned()),
            ("token-add" | "token-totp", [name, hash, sealed]) => {
                let name = (*name).to_owned();
                wbs_protocol::parse_sha256_hex(hash)
                    .ok_or_else(|| format!("{verb}: the hash must be 64 hex digits"))
                    .and_then(|hash| {
                        let totp = parse_sealed(sealed).map_err(|e| format!("{verb}: {e}"))?;
                        Ok(if verb == "token-add" {
                            TokenOp::Add { name, hash, totp }
                        } else {
                            TokenOp::Totp { name, hash, totp }
                        })
                    })
            }
            ("token-list" | "token-revoke" | "token-add" | "token-totp", _) => {
                Err(format!("{verb}: wrong number of arguments"))
            }
            _ => return None,
        };
        Some(op.and_then(|op| op.checked()))
    }

    /// The operation, if its name (if any) follows [`valid_name`].
    fn checked(self) -> Result<TokenOp, String> {
        match &self {
            TokenOp::Add { name, .. } | TokenOp::Totp { name, .. } | TokenOp::Revoke { name }
                if !valid_name(name) =>
            {
                Err(NAME_RULE.to_owned())
            }
            _ => Ok(self),
        }
    }

    /// Applies the operation to `store`, audits and flushes it. Returns the
    /// tokens for `List`, nothing otherwise. The name must have been
    /// checked (requests are checked as they are parsed, and by [`run`]).
    pub fn apply(&self, store: &dyn Store) -> Result<Vec<TokenInfo>, String> {
        let durable = |r: Result<(), StoreError>| r.and_then(|()| store.flush());
        match self {
            TokenOp::Add { name, hash, totp } => {
                let name = &TokenName::parse(name).map_err(|e| e.to_string())?;
                store
                    .add_token(name, *hash, totp.clone())
                    .map_err(|e| e.to_string())?;
                let action = if totp.is_some() {
                    "token_add_totp"
                } else {
                    "token_add"
                };
                durable(store.audit("operator", action, name)).map_err(|e| e.to_string())?;
                Ok(Vec::new())
            }
            TokenOp::Totp { name, hash, totp } => {
                let name = &TokenName::parse(name).map_err(|e| e.to_string())?;
                store
                    .set_token_totp(name, *hash, totp.clone())
                    .map_err(|e| match e {
                        StoreError::NotFound => {
                            format!("no token named {name:?}, or the token given is not {name:?}'s")
                        }
                        other => other.to_string(),
                    })?;
                let action = if totp.is_some() {
                    "token_totp_enrol"
                } else {
                    "token_totp_remove"
                };
                durable(store.audit("operator", action, name)).map_err(|e| e.to_string())?;
                Ok(Vec::new())
            }
            TokenOp::List => store.list_tokens().map_err(|e| e.to_string()),
            TokenOp::Revoke { name } => {
                let name = &TokenName::parse(name).map_err(|e| e.to_string())?;
                store.revoke_token(name).map_err(|e| match e {
                    StoreError::NotFound => format!("no token named {name:?}"),
                    other => other.to_string(),
                })?;
                durable(store.audit("operator", "token_revoke", name))
                    .map_err(|e| e.to_string())?;
                Ok(Vec::new())
            }
        }
    }
}

/// Runs `op` on the store of `data`: through the running server if there
/// is one, else directly (see the module doc for which may create a store).
/// `on_note` receives lines for the operator (stderr).
pub fn run(
    data: &Path,
    op: &TokenOp,
    on_note: &mut dyn FnMut(&str),
) -> Result<Vec<TokenInfo>, String> {
    let op = &op.clone().checked()?;
    #[cfg(unix)]
    if let Some(stream) = crate::control::connect(data)? {
        let json =
            crate::control::request(stream, &op.request_line(), &mut |_| Ok(()), &mut |_| {})?;
        on_note("(done by the running server)");
        return match op {
            TokenOp::List => serde_json::from_str(&json)
                .map_err(|e| format!("the server's answer does not parse: {e}")),
            _ => Ok(Vec::new()),
        };
    }
    let existed = data.join(wbs_store::MARKER_FILE).exists();
    let store = match op {
        TokenOp::Add { .. } => SledStore::create_or_open(data),
        _ => SledStore::open(data),
    }
    .map_err(|e| {
        format!(
            "cannot open storage in {} ({e}); check --data or the config's `data`",
            data.display()
        )
    })?;
    if !existed {
        on_note(&format!(
            "note: there was no store in {}; a new, empty one was created there. \
             If that is not where wbs-server keeps its data, check --data or the config's `data`.",
            data.display()
        ));
    }
    op.apply(&store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_store::MetaStore;

    #[test]
    fn request_lines_round_trip() {
        let (token, hash) = new_token();
        let sealed = crate::totp::TotpSecret::generate().seal(&token);
        for op in [
            TokenOp::Add {
                name: "siti.r@desk-1".into(),
                hash,
                totp: None,
            },
            TokenOp::Add {
                name: "siti.r@desk-1".into(),
                hash,
                totp: Some(sealed.clone()),
            },
            TokenOp::Totp {
                name: "budi".into(),
                hash,
                totp: Some(sealed.clone()),
            },
            TokenOp::Totp {
                name: "budi".into(),
                hash,
                totp: None,
            },
            TokenOp::List,
            TokenOp::Revoke {
                name: "budi_2".into(),
            },
        ] {
            let line = op.request_line();
            assert!(line.len() <= crate::control::MAX_REQUEST, "{line}");
            assert_eq!(TokenOp::parse_request(&line), Some(Ok(op)), "{line}");
        }
        // The two-word form of before TOTP.
        assert_eq!(
            TokenOp::parse_request(&format!("token-add siti {}", wbs_protocol::hex(&hash))),
            Some(Ok(TokenOp::Add {
                name: "siti".into(),
                hash,
                totp: None
            }))
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert_eq!(TokenOp::parse_request("backup"), None);
        assert_eq!(TokenOp::parse_request("verify"), None);
        for bad in [
            "token-add siti",
            "token-add siti abc",
            &format!("token-add siti {}", "g".repeat(64)),
            &format!("token-add siti {} extra", "a".repeat(64)),
            &format!("token-add {} {}", "x".repeat(65), "a".repeat(64)),
            "token-revoke",
            "token-revoke a b",
            "token-revoke ../x",
            "token-list now",
            &format!("token-add siti {} 00ff", "a".repeat(64)),
            &format!("token-totp siti {} {}", "a".repeat(64), "A".repeat(96)),
            &format!("token-totp siti {} {}", "a".repeat(64), "g".repeat(96)),
            &format!("token-totp siti {}", "a".repeat(64)),
            &format!("token-totp ../x {} -", "a".repeat(64)),
        ] {
            assert!(
                matches!(TokenOp::parse_request(bad), Some(Err(_))),
                "{bad:?} was accepted"
            );
        }
    }

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

    #[test]
    fn list_and_revoke_never_create_a_store_but_add_does() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("wbs-dat");
        let mut notes = Vec::new();
        let err = run(&data, &TokenOp::List, &mut |n| notes.push(n.to_owned())).unwrap_err();
        assert!(err.contains("no WBS store"), "{err}");
        let err = run(
            &data,
            &TokenOp::Revoke {
                name: "siti".into(),
            },
            &mut |n| notes.push(n.to_owned()),
        )
        .unwrap_err();
        assert!(err.contains("no WBS store"), "{err}");
        assert!(!data.exists(), "list/revoke created {}", data.display());
        let (_, hash) = new_token();
        let bad = TokenOp::Add {
            name: "siti\ntoken-list".into(),
            hash,
            totp: None,
        };
        assert_eq!(run(&data, &bad, &mut |_| {}).unwrap_err(), NAME_RULE);
        assert!(!data.exists(), "a refused add created {}", data.display());

        let (_, hash) = new_token();
        let add = TokenOp::Add {
            name: "siti".into(),
            hash,
            totp: None,
        };
        run(&data, &add, &mut |n| notes.push(n.to_owned())).unwrap();
        assert!(
            notes.iter().any(|n| n.contains("new, empty one")),
            "{notes:?}"
        );
        let listed = run(&data, &TokenOp::List, &mut |_| {}).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "siti");
        let err = run(&data, &add, &mut |_| {}).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        run(
            &data,
            &TokenOp::Revoke {
                name: "siti".into(),
            },
            &mut |_| {},
        )
        .unwrap();
        assert!(run(&data, &TokenOp::List, &mut |_| {}).unwrap().is_empty());
    }

    #[test]
    fn totp_is_enrolled_reset_and_removed_only_with_the_token() {
        use crate::totp::{check_login, LoginError, TotpSecret};
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("wbs-data");
        let (token, hash) = new_token();
        let first = TotpSecret::generate();
        let add = TokenOp::Add {
            name: "siti".into(),
            hash,
            totp: Some(first.seal(&token)),
        };
        run(&data, &add, &mut |_| {}).unwrap();
        let listed = run(&data, &TokenOp::List, &mut |_| {}).unwrap();
        assert!(listed[0].totp, "{listed:?}");

        // Someone with another token cannot reset siti's second factor.
        let (other, other_hash) = new_token();
        let mine = TotpSecret::generate();
        let err = run(
            &data,
            &TokenOp::Totp {
                name: "siti".into(),
                hash: other_hash,
                totp: Some(mine.seal(&other)),
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.contains("not \"siti\"'s"), "{err}");
        let err = run(
            &data,
            &TokenOp::Totp {
                name: "nobody".into(),
                hash,
                totp: None,
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.contains("no token named"), "{err}");

        let second = TotpSecret::generate();
        let reset = TokenOp::Totp {
            name: "siti".into(),
            hash,
            totp: Some(second.seal(&token)),
        };
        run(&data, &reset, &mut |_| {}).unwrap();
        let store = SledStore::open(&data).unwrap();
        let now = 1_800_000_000;
        if first.code_at(now) != second.code_at(now) {
            assert!(matches!(
                check_login(&store, false, &token, Some(&first.code_at(now)), now),
                Err(LoginError::TotpWrong)
            ));
        }
        check_login(&store, false, &token, Some(&second.code_at(now)), now).unwrap();
        let log: Vec<String> = store
            .all_audit()
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(log, ["token_add_totp", "token_totp_enrol"]);
        drop(store);

        let remove = TokenOp::Totp {
            name: "siti".into(),
            hash,
            totp: None,
        };
        run(&data, &remove, &mut |_| {}).unwrap();
        let listed = run(&data, &TokenOp::List, &mut |_| {}).unwrap();
        assert!(!listed[0].totp, "{listed:?}");
    }
}
