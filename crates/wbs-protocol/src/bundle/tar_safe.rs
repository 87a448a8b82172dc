//! A tar reader that refuses hostile entries before the caller sees them,
//! and a deterministic tar entry writer.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::BundleError;

/// Longest case or item identifier.
pub const MAX_ID_LEN: usize = 64;
/// Longest path inside a bundle.
pub const MAX_PATH_LEN: usize = 255;

/// Limits applied while reading a bundle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries (files and folders).
    pub max_entries: usize,
    /// Largest single file.
    pub max_entry_bytes: u64,
    /// Largest sum of all files.
    pub max_total_bytes: u64,
    /// Largest JSON manifest.
    pub max_manifest_bytes: u64,
}

impl Limits {
    /// Limits for export bundles: large evidence files are expected.
    pub const EXPORT: Limits = Limits {
        max_entries: 4_000_000,
        max_entry_bytes: 64 << 30,
        max_total_bytes: 4 << 40,
        max_manifest_bytes: 256 << 20,
    };
    /// Limits for reply bundles: text replies only.
    pub const REPLIES: Limits = Limits {
        max_entries: 100_000,
        max_entry_bytes: 16 << 20,
        max_total_bytes: 1 << 30,
        max_manifest_bytes: 16 << 20,
    };
}

/// Checks an entry name and returns it normalised (`a/b/c`, no trailing
/// slash). Refuses absolute paths, `..`, `.`, empty components, backslashes,
/// control characters and anything not UTF-8.
pub fn validate_path(raw: &[u8]) -> Result<String, BundleError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let s = std::str::from_utf8(raw).map_err(|_| BundleError::UnsafePath(shown.clone()))?;
    let s = s.strip_suffix('/').unwrap_or(s);
    if s.is_empty()
        || s.len() > MAX_PATH_LEN
        || s.starts_with('/')
        || s.contains('\\')
        || s.chars().any(|c| c.is_control())
    {
        return Err(BundleError::UnsafePath(shown));
    }
    for part in s.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(':') {
            return Err(BundleError::UnsafePath(shown));
        }
    }
    Ok(s.to_string())
}

/// Reads every entry of a tar, checking each before handing plain files to
/// `visit(path, size, data)`. Folders are checked and skipped.
pub fn read_entries<R: Read>(
    reader: R,
    limits: &Limits,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), BundleError>,
) -> Result<(), BundleError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(tar_error)?;
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(BundleError::TooManyEntries);
        }
        let mut entry = entry.map_err(tar_error)?;
        let raw_path = entry.path_bytes().into_owned();
        let path = validate_path(&raw_path)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(BundleError::Link(path));
        }
        if !seen.insert(path.clone()) {
            return Err(BundleError::Duplicate(path));
        }
        if kind.is_dir() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(BundleError::UnsupportedEntry(path));
        }
        let size = entry.header().entry_size().map_err(tar_error)?;
        if size > limits.max_entry_bytes {
            return Err(BundleError::TooLarge(path));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(BundleError::TooLarge(path));
        }
        visit(&path, size, &mut entry)?;
        // Whatever the visitor left unread is drained, so a short read can
        // never shift the tar stream.
        io::copy(&mut entry, &mut io::sink()).map_err(tar_error)?;
    }
    Ok(())
}

fn tar_error(e: io::Error) -> BundleError {
    BundleError::Tar(e.to_string())
}

/// Reads a JSON manifest entry within the size limit.
pub fn read_manifest<T: for<'de> serde::Deserialize<'de>>(
    path: &str,
    size: u64,
    data: &mut dyn Read,
    limits: &Limits,
) -> Result<T, BundleError> {
    if size > limits.max_manifest_bytes {
        return Err(BundleError::TooLarge(path.to_string()));
    }
    let mut buf = Vec::with_capacity(size as usize);
    data.read_to_end(&mut buf).map_err(tar_error)?;
    serde_json::from_slice(&buf).map_err(|e| BundleError::Manifest(format!("{path}: {e}")))
}

/// Wraps an entry's reader: counts and hashes what passes, and at the end of
/// the data turns a SHA-256 mismatch into an `InvalidData` error instead of
/// end-of-file, so every consumer that reads to the end notices tampering.
pub struct VerifyingReader<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    expected: [u8; 32],
    /// Whether the end was reached and the digest matched.
    pub verified: bool,
}

impl<'a> VerifyingReader<'a> {
    /// Verifies `inner` against `expected`.
    pub fn new(inner: &'a mut dyn Read, expected: [u8; 32]) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            expected,
            verified: false,
        }
    }
}

impl Read for VerifyingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if !self.verified {
                let digest: [u8; 32] = self.hasher.clone().finalize().into();
                if digest != self.expected {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "file does not match its SHA-256 in the manifest",
                    ));
                }
                self.verified = true;
            }
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Appends one regular file with a deterministic header.
pub fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> Result<(), BundleError> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
        .set_path(path)
        .map_err(|e| BundleError::Manifest(format!("cannot store path {path:?}: {e}")))?;
    header.set_cksum();
    // A reader shorter than `size` would corrupt the archive: refuse it.
    let mut limited = data.take(size);
    let mut counted = CountingReader {
        inner: &mut limited,
        count: 0,
    };
    builder.append(&header, &mut counted)?;
    if counted.count != size {
        return Err(BundleError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{path}: source ended early"),
        )));
    }
    Ok(())
}

struct CountingReader<'a, R> {
    inner: &'a mut R,
    count: u64,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            validate_path(b"cases/abc/case.json").unwrap(),
            "cases/abc/case.json"
        );
        assert_eq!(validate_path(b"cases/").unwrap(), "cases");
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"a/../../x",
            b"a//b",
            b"./a",
            b"a\\..\\b",
            b"a/\x00b",
            b"\xff\xfe",
            b"C:/x",
            b"",
        ] {
            assert!(
                validate_path(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
