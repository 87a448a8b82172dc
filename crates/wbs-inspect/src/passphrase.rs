//! Getting a passphrase: from the terminal (never echoed) or from the first
//! line of a file. Passphrases live in `SecretString` from the moment they
//! are read, and every intermediate buffer is zeroized.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Longest passphrase file read (a passphrase is one line).
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The first line of `path`, without its line ending.
pub fn from_file(path: &Path) -> Result<SecretString> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_LEN)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::read(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::Passphrase(format!(
            "passphrase file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(Error::Passphrase(format!(
            "passphrase file {} has an empty first line",
            path.display()
        )));
    }
    Ok(SecretString::from(line))
}

/// Asks once on the terminal.
pub fn prompt(question: &str) -> Result<SecretString> {
    // Copied out of a zeroizing buffer: converting the String itself could
    // reallocate and leave a copy behind.
    let answer = rpassword::prompt_password(question)
        .map(|s| SecretString::from(Zeroizing::new(s).as_str()))
        .map_err(|e| {
            Error::Passphrase(format!(
                "cannot read a passphrase from the terminal ({e}); use --passphrase-file"
            ))
        })?;
    if answer.expose_secret().is_empty() {
        return Err(Error::Passphrase("the passphrase is empty".into()));
    }
    Ok(answer)
}

/// Asks twice for a new passphrase and checks both agree.
pub fn prompt_new() -> Result<SecretString> {
    let first = prompt("New passphrase for the identity file: ")?;
    let second = prompt("Same passphrase again: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Error::Passphrase("the two passphrases differ".into()));
    }
    Ok(first)
}
