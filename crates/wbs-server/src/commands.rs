//! The operator commands `wbs-server verify`, `backup`, `restore` and
//! `token`, each written once: [`crate::access`] reaches the store, and
//! the operation is the one in [`crate::admin`] or [`crate::tokens`],
//! run here or, through the control channel, in the running server.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use wbs_store::{StoreError, StoreLocation, TokenInfo};

use crate::access::{self, AccessError, Opening, StoreAccess};
use crate::admin::{self, BackupError, BackupManifest, VerifySummary};
#[cfg(unix)]
use crate::control::ControlError;
use crate::tokens::{TokenError, TokenOp};
use wbs_files::{AtomicFile, FileError};

/// Why an operator command failed. The message is for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The store could not be reached.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The running server could not be asked, or refused.
    #[cfg(unix)]
    #[error(transparent)]
    Control(#[from] ControlError),
    /// A snapshot of the store could not be taken.
    #[error("cannot read the store: {0}")]
    Snapshot(#[source] StoreError),
    /// Backup, restore or their checks.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A backup written and read back did not check out.
    #[error("the backup just written does not check out: {0}")]
    BackupUnchecked(#[source] BackupError),
    /// A token operation.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The output file.
    #[error(transparent)]
    Output(#[from] FileError),
    /// What the operator gave cannot be used (a token file, a token).
    #[error("{0}")]
    Input(String),
    /// `verify` found problems (listed before).
    #[error("{}", .0.line())]
    Problems(VerifySummary),
}

/// `wbs-server verify`: `on_line` receives one line per missing or damaged
/// object; fails if there is any.
pub fn verify(
    location: &StoreLocation,
    on_line: &mut dyn FnMut(&str),
    on_note: &mut dyn FnMut(&str),
) -> Result<VerifySummary, CommandError> {
    let summary = match access::reach(location, Opening::Existing, on_note)? {
        #[cfg(unix)]
        StoreAccess::Running(server) => server.verify(on_line)?,
        StoreAccess::Direct(store) => {
            let snapshot = store.snapshot().map_err(CommandError::Snapshot)?;
            admin::verify(&snapshot, on_line)
        }
    };
    if summary.problems > 0 {
        return Err(CommandError::Problems(summary));
    }
    Ok(summary)
}

/// `wbs-server backup --out FILE`: writes the backup to a temporary file
/// next to `out`, reads it back completely to check it, and only then gives
/// it its name. Never overwrites a file.
pub fn backup(
    location: &StoreLocation,
    out: &Path,
    on_note: &mut dyn FnMut(&str),
) -> Result<BackupManifest, CommandError> {
    let file = AtomicFile::create_new(out)?;
    let tmp: PathBuf = file.temporary_path().to_path_buf();
    let write_error = |source: io::Error| FileError::Io {
        path: tmp.clone(),
        source,
    };
    {
        let mut w = io::BufWriter::with_capacity(256 * 1024, file.file());
        match access::reach(location, Opening::Existing, on_note)? {
            #[cfg(unix)]
            StoreAccess::Running(server) => {
                server.backup(&mut w)?;
            }
            StoreAccess::Direct(store) => {
                let snapshot = store.snapshot().map_err(CommandError::Snapshot)?;
                let today = wbs_protocol::date::today_utc();
                admin::write_backup(&snapshot, &today, &mut w)?;
            }
        }
        w.flush().map_err(write_error)?;
    }
    file.sync()?;
    let manifest = admin::check_backup(&tmp).map_err(CommandError::BackupUnchecked)?;
    file.publish_new()?;
    Ok(manifest)
}

/// `wbs-server restore FILE`: see [`admin::restore`].
pub fn restore(file: &Path, target: &StoreLocation) -> Result<BackupManifest, CommandError> {
    Ok(admin::restore(file, target)?)
}

/// `wbs-server token …`: carries out `op` (see [`crate::access`] for how
/// the store is reached; only `add` may create one). Returns the tokens for
/// `List`.
pub fn token(
    location: &StoreLocation,
    op: &TokenOp,
    on_note: &mut dyn FnMut(&str),
) -> Result<Vec<TokenInfo>, CommandError> {
    let opening = match op {
        TokenOp::Add { .. } => Opening::CreateIfMissing,
        _ => Opening::Existing,
    };
    Ok(match access::reach(location, opening, on_note)? {
        #[cfg(unix)]
        StoreAccess::Running(server) => server.token(op)?,
        StoreAccess::Direct(store) => op.apply(store.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::new_token;

    fn n(name: &str) -> wbs_store::TokenName {
        wbs_store::TokenName::parse(name).unwrap()
    }
    use wbs_store::{MetaStore, SledStore};

    fn run(
        data: &Path,
        op: &TokenOp,
        on_note: &mut dyn FnMut(&str),
    ) -> Result<Vec<TokenInfo>, String> {
        let location = StoreLocation::Sled {
            data: data.to_path_buf(),
        };
        token(&location, op, on_note).map_err(|e| e.to_string())
    }

    #[test]
    fn list_and_revoke_never_create_a_store_but_add_does() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("wbs-dat");
        let mut notes = Vec::new();
        let err = run(&data, &TokenOp::List, &mut |n| notes.push(n.to_owned())).unwrap_err();
        assert!(err.contains("no WBS store"), "{err}");
        let err = run(&data, &TokenOp::Revoke { name: n("siti") }, &mut |n| {
            notes.push(n.to_owned())
        })
        .unwrap_err();
        assert!(err.contains("no WBS store"), "{err}");
        assert!(!data.exists(), "list/revoke created {}", data.display());
        let err = crate::tokens::parse_name("siti\ntoken-list").unwrap_err();
        assert!(err.to_string().contains("1-64"), "{err}");
        assert!(!data.exists(), "a refused add created {}", data.display());

        let (_, hash) = new_token();
        let add = TokenOp::Add {
            name: n("siti"),
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
        run(&data, &TokenOp::Revoke { name: n("siti") }, &mut |_| {}).unwrap();
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
            name: n("siti"),
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
                name: n("siti"),
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
                name: n("nobody"),
                hash,
                totp: None,
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.contains("no token named"), "{err}");

        let second = TotpSecret::generate();
        let reset = TokenOp::Totp {
            name: n("siti"),
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
            .audit_log(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(log, ["token_add_totp", "token_totp_enrol"]);
        drop(store);

        let remove = TokenOp::Totp {
            name: n("siti"),
            hash,
            totp: None,
        };
        run(&data, &remove, &mut |_| {}).unwrap();
        let listed = run(&data, &TokenOp::List, &mut |_| {}).unwrap();
        assert!(!listed[0].totp, "{listed:?}");
    }
}
