//! `wbs-server token add|list|revoke`: investigator tokens.
//!
//! A token is 32 random bytes, shown once as `wbs_<base64url>`; the store
//! keeps only its SHA-256. The token is made by the `wbs-server token add`
//! process. When a server runs on the data directory, the command hands it
//! the name and the hash through the control socket ([`crate::control`]),
//! so tokens are added and revoked without stopping the drop box and take
//! effect at once; the token itself never crosses the socket. With no
//! server running, the command opens the store itself.
//!
//! Only `add` may create a store, because an operator may make the first
//! token before the first start; it says so loudly, so that a mistyped
//! `--data` is noticed at once instead of as a 401 at the desk. `list` and
//! `revoke` never create anything.

use std::path::Path;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use wbs_store::{SledStore, Store, StoreError, TokenInfo};
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

impl TokenOp {
    /// The control-socket request line for this operation.
    pub fn request_line(&self) -> String {
        match self {
            TokenOp::Add { name, hash } => {
                format!("token-add {name} {}", wbs_protocol::hex(hash))
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
            ("token-add", [name, hash]) => wbs_protocol::parse_sha256_hex(hash)
                .map(|hash| TokenOp::Add {
                    name: (*name).to_owned(),
                    hash,
                })
                .ok_or_else(|| "token-add: the hash must be 64 hex digits".to_owned()),
            ("token-list" | "token-revoke" | "token-add", _) => {
                Err(format!("{verb}: wrong number of arguments"))
            }
            _ => return None,
        };
        Some(op.and_then(|op| op.checked()))
    }

    /// The operation, if its name (if any) follows [`valid_name`].
    fn checked(self) -> Result<TokenOp, String> {
        match &self {
            TokenOp::Add { name, .. } | TokenOp::Revoke { name } if !valid_name(name) => {
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
            TokenOp::Add { name, hash } => {
                store.add_token(name, *hash).map_err(|e| e.to_string())?;
                durable(store.audit("operator", "token_add", name)).map_err(|e| e.to_string())?;
                Ok(Vec::new())
            }
            TokenOp::List => store.list_tokens().map_err(|e| e.to_string()),
            TokenOp::Revoke { name } => {
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

    #[test]
    fn request_lines_round_trip() {
        let (_, hash) = new_token();
        for op in [
            TokenOp::Add {
                name: "siti.r@desk-1".into(),
                hash,
            },
            TokenOp::List,
            TokenOp::Revoke {
                name: "budi_2".into(),
            },
        ] {
            let line = op.request_line();
            assert_eq!(TokenOp::parse_request(&line), Some(Ok(op)), "{line}");
        }
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
        ] {
            assert!(
                matches!(TokenOp::parse_request(bad), Some(Err(_))),
                "{bad:?} was accepted"
            );
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
        };
        assert_eq!(run(&data, &bad, &mut |_| {}).unwrap_err(), NAME_RULE);
        assert!(!data.exists(), "a refused add created {}", data.display());

        let (_, hash) = new_token();
        let add = TokenOp::Add {
            name: "siti".into(),
            hash,
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
}
