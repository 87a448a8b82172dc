//! `wbs-inspect keygen`: a new inspectorate key pair.
//!
//! `NAME.key` is the identity as `age-keygen` writes it, encrypted with an
//! age passphrase (scrypt) unless `--no-passphrase`: the same format
//! `age-keygen | age -p > NAME.key` gives, so `age -d -i NAME.key` reads it
//! too and the keys never depend on this tool. `NAME.pub` is the recipient
//! for the server's `keys/` folder. With `--pq` the pair is post-quantum
//! (`AGE-SECRET-KEY-PQ-1…`, `age1pq1…`, PROTOCOL.md §3.2), which Go age 1.3
//! and later read the same way.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use wbs_protocol::keys::{Identity, RecipientKind};

use crate::cli::KeygenArgs;
use crate::error::{Error, Result};
use crate::fsutil::{ensure_dir, TempFile};
use crate::keyring::identity_text;

/// What `keygen` made.
pub struct Generated {
    /// The public key, `age1…`.
    pub recipient: String,
    /// Whether the private key was written without a passphrase.
    pub unprotected: bool,
}

/// Runs `keygen`.
pub fn run(args: &KeygenArgs) -> Result<Generated> {
    check_name(&args.name)?;
    let key_path = args.out.join(format!("{}.key", args.name));
    let pub_path = args.out.join(format!("{}.pub", args.name));
    for path in [&key_path, &pub_path] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(Error::Usage(format!(
                "{} already exists; refusing to overwrite it",
                path.display()
            )));
        }
    }
    // The passphrase is settled before any file is made.
    // A weak one is refused: whoever copies NAME.key can try passphrases
    // offline for as long as they like.
    let passphrase: Option<SecretString> = match (&args.passphrase_file, args.no_passphrase) {
        (_, true) => None,
        (Some(f), false) => {
            let passphrase = crate::passphrase::from_file(f)?;
            if let Some(why) = crate::passphrase::weakness(passphrase.expose_secret()) {
                return Err(Error::Passphrase(format!(
                    "the passphrase in {} is weak: {why}. Choose a stronger one, or run keygen \
                     without --passphrase-file and press Enter at the prompt to have one made",
                    f.display()
                )));
            }
            Some(passphrase)
        }
        (None, false) => Some(crate::passphrase::prompt_new()?),
    };
    ensure_dir(&args.out)?;

    let identity = Identity::generate(if args.pq {
        RecipientKind::PostQuantum
    } else {
        RecipientKind::Classic
    });
    let recipient = identity.to_public().to_string();
    let created = now_rfc3339();
    let text = identity_text(&identity, &created);

    let mut key = TempFile::new_for(&key_path)?;
    match passphrase {
        Some(passphrase) => {
            let encryptor = age::Encryptor::with_user_passphrase(passphrase);
            let mut writer = encryptor
                .wrap_output(&mut key)
                .map_err(|e| Error::Encrypt(e.to_string()))?;
            writer
                .write_all(text.as_bytes())
                .and_then(|()| writer.finish().map(|_| ()))
                .map_err(|e| Error::Encrypt(e.to_string()))?;
        }
        None => key
            .write_all(text.as_bytes())
            .map_err(|e| Error::write(&key_path, e))?,
    }
    drop(text);

    let public = format!(
        "# WBS inspectorate {}recipient {:?}, made by wbs-inspect keygen on {}.\n\
         # Copy this file into the server's keys/ folder. {}.key stays on the air-gapped machine.\n\
         {recipient}\n",
        if args.pq { "post-quantum " } else { "" },
        args.name,
        &created[..10],
        args.name,
    );
    let mut public_file = TempFile::new_for(&pub_path)?;
    public_file
        .write_all(public.as_bytes())
        .map_err(|e| Error::write(&pub_path, e))?;
    // The public key is meant to be copied around; only NAME.key is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(public_file.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::write(&pub_path, e))?;
    }

    // Both are complete before either gets its name; persist_new refuses to
    // replace anything that appeared in the meantime.
    place(key, &key_path)?;
    if let Err(e) = place(public_file, &pub_path) {
        // Only this run made the key: without its .pub it is of no use.
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    Ok(Generated {
        recipient,
        unprotected: args.no_passphrase,
    })
}

fn place(tmp: TempFile, dest: &Path) -> Result<()> {
    match tmp.persist_new() {
        Ok(crate::fsutil::Placed::Written) => Ok(()),
        // Even identical bytes (impossible for a fresh key) are not ours.
        Ok(crate::fsutil::Placed::AlreadyThere) | Err(Error::Exists(_)) => {
            Err(Error::Usage(format!(
                "{} already exists; refusing to overwrite it",
                dest.display()
            )))
        }
        Err(e) => Err(e),
    }
}

/// A key name: a safe file name stem.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid key name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', \
             not starting with '.' or '-'"
        )))
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`, as age-keygen writes it.
/// (An inspectorate key is not a reporter's secret: a time of day is fine.)
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = wbs_protocol::date::date_from_unix_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("inspektorat-2026").is_ok());
        assert!(check_name("a.b_c").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "-x", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
        assert_eq!(&t[10..11], "T");
    }
}
