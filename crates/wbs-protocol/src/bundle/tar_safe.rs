//! A tar reader that refuses hostile entries before the caller sees them,
//! and a deterministic tar entry writer.
//!
//! The `tar` crate is used in raw mode: it hands over every header as it is,
//! GNU long names and PAX extended headers included, and this module gives
//! them their meaning. (Left to itself, `tar` reads a long name or a PAX
//! header whole into memory, whatever size its header claims, and lets a
//! PAX `size` replace the header's after the limits were checked on the
//! header's.) So an extension header is refused before it is read when it
//! is larger than any legitimate one ([`MAX_LONG_NAME_BYTES`],
//! [`MAX_PAX_HEADER_BYTES`]), and an entry whose PAX `size` is not the size
//! in its header is refused: readers that believe one and readers that
//! believe the other would see different files. The limits then apply to
//! the one size left, which is where the data really ends. Nothing here
//! holds more than one manifest or one extension header in memory.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::BundleError;

/// Longest case or item identifier.
pub const MAX_ID_LEN: usize = 64;
/// Longest path inside a bundle.
pub const MAX_PATH_LEN: usize = 255;
/// Largest GNU long-name entry read: the longest path and its NUL.
pub const MAX_LONG_NAME_BYTES: u64 = MAX_PATH_LEN as u64 + 1;
/// Largest PAX extended header read: a path, a size and the usual times
/// and owners fit many times over.
pub const MAX_PAX_HEADER_BYTES: u64 = 8 * 1024;

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

/// What the extension headers before an entry said about it.
#[derive(Default)]
struct Pending {
    /// From a GNU long-name entry.
    long_name: Option<Vec<u8>>,
    /// From a PAX `path` record.
    pax_path: Option<Vec<u8>>,
    /// From a PAX `size` record.
    pax_size: Option<u64>,
    /// Whether a PAX header was seen.
    pax: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && !self.pax
    }
}

/// Reads an extension header's data, after checking its size: never more
/// than `max` bytes are read or held.
fn read_extension(
    entry: &mut dyn Read,
    size: u64,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, BundleError> {
    if size > max {
        return Err(BundleError::TooLarge(format!(
            "({what} of {size} bytes, at most {max} allowed)"
        )));
    }
    let mut buf = Vec::with_capacity(size as usize);
    entry.take(max).read_to_end(&mut buf).map_err(tar_error)?;
    if buf.len() as u64 != size {
        return Err(BundleError::Tar(format!("{what} is truncated")));
    }
    Ok(buf)
}

/// Gives a PAX extended header its meaning for the entry that follows.
/// Records that could change what the entry is (a link target, sparse
/// maps) are refused; times, owners and comments are ignored.
fn apply_pax(pending: &mut Pending, data: &[u8]) -> Result<(), BundleError> {
    let bad = |why: &str| BundleError::Tar(format!("malformed PAX extended header: {why}"));
    for record in tar::PaxExtensions::new(data) {
        let record = record.map_err(|_| bad("a record is not `LEN KEY=VALUE`"))?;
        let key = record.key().map_err(|_| bad("a key is not UTF-8"))?;
        match key {
            "path" => pending.pax_path = Some(record.value_bytes().to_vec()),
            "size" => {
                let value = record
                    .value()
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad("its size is not a number"))?;
                pending.pax_size = Some(value);
            }
            "linkpath" => {
                return Err(BundleError::Link(
                    String::from_utf8_lossy(record.value_bytes()).into_owned(),
                ))
            }
            k if k.starts_with("GNU.sparse") => {
                return Err(BundleError::UnsupportedEntry(
                    "(a sparse file, described in a PAX header)".into(),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads every entry of a tar, checking each before handing plain files to
/// `visit(path, size, data)`. Folders are checked and skipped.
///
/// GNU long names and PAX extended headers are understood (and bounded,
/// see the module notes); PAX global headers, long link names and every
/// other extension are refused.
pub fn read_entries<R: Read>(
    reader: R,
    limits: &Limits,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), BundleError>,
) -> Result<(), BundleError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(tar_error)?.raw(true);
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut pending = Pending::default();
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(BundleError::TooManyEntries);
        }
        let mut entry = entry.map_err(tar_error)?;
        let kind = entry.header().entry_type();
        // In raw mode this is the size in the header, which is where the
        // tar stream says the data ends.
        let size = entry.size();
        match kind {
            tar::EntryType::GNULongName => {
                if pending.long_name.is_some() {
                    return Err(BundleError::Tar("two GNU long names for one entry".into()));
                }
                let mut name =
                    read_extension(&mut entry, size, MAX_LONG_NAME_BYTES, "GNU long name")?;
                while name.last() == Some(&0) {
                    name.pop();
                }
                pending.long_name = Some(name);
                continue;
            }
            tar::EntryType::XHeader => {
                if pending.pax {
                    return Err(BundleError::Tar(
                        "two PAX extended headers for one entry".into(),
                    ));
                }
                let data = read_extension(
                    &mut entry,
                    size,
                    MAX_PAX_HEADER_BYTES,
                    "PAX extended header",
                )?;
                pending.pax = true;
                apply_pax(&mut pending, &data)?;
                continue;
            }
            tar::EntryType::GNULongLink => {
                return Err(BundleError::Link("(a GNU long link name)".into()))
            }
            tar::EntryType::XGlobalHeader => {
                return Err(BundleError::UnsupportedEntry(
                    "(a PAX global header)".into(),
                ))
            }
            _ => {}
        }
        let extensions = std::mem::take(&mut pending);
        let raw_path = match (extensions.pax_path, extensions.long_name) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => entry.path_bytes().into_owned(),
        };
        let path = validate_path(&raw_path)?;
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(BundleError::Link(path));
        }
        if let Some(pax_size) = extensions.pax_size {
            if pax_size > limits.max_entry_bytes {
                return Err(BundleError::TooLarge(path));
            }
            if pax_size != size {
                return Err(BundleError::Tar(format!(
                    "{path:?}: its PAX size ({pax_size} bytes) is not the size in its header \
                     ({size} bytes); tar readers would disagree where it ends"
                )));
            }
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
    if !pending.is_empty() {
        return Err(BundleError::Tar(
            "an extension header with no entry after it".into(),
        ));
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

    /// A raw 512-byte header of `kind` claiming `size` bytes of data.
    fn header(kind: tar::EntryType, path: &str, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_path(path).unwrap();
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    /// `data` and its padding to a whole block.
    fn block(data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        out.resize(data.len().div_ceil(512) * 512, 0);
        out
    }

    /// A PAX extended header holding `records`, as `(key, value)`.
    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let mut data = Vec::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        let mut out = header(tar::EntryType::XHeader, "PaxHeaders/x", data.len() as u64);
        out.extend(block(&data));
        out
    }

    /// A plain file entry whose header claims `size` and carries `data`.
    fn file(path: &str, size: u64, data: &[u8]) -> Vec<u8> {
        let mut out = header(tar::EntryType::Regular, path, size);
        out.extend(block(data));
        out
    }

    /// Counts what is read, to show a hostile size is refused before its
    /// data is read.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    /// Reads `prefix` followed by an endless stream of `a`s (as much data as
    /// any size could claim) and returns the error and the bytes read.
    fn refuse(prefix: Vec<u8>, limits: &Limits) -> (BundleError, u64) {
        let mut reader = Counting {
            inner: io::Cursor::new(prefix).chain(io::repeat(b'a')),
            read: 0,
        };
        let mut visited = Vec::new();
        let err = read_entries(&mut reader, limits, |path, size, data| {
            visited.push(path.to_string());
            io::copy(&mut data.take(size.min(1 << 20)), &mut io::sink())?;
            Ok(())
        })
        .expect_err("refused");
        assert!(visited.is_empty(), "{visited:?} reached the caller");
        (err, reader.read)
    }

    const TIB: u64 = 1 << 40;

    #[test]
    fn a_huge_gnu_long_name_is_refused_before_it_is_read() {
        let (err, read) = refuse(
            header(tar::EntryType::GNULongName, "././@LongLink", TIB),
            &Limits::EXPORT,
        );
        assert!(
            matches!(&err, BundleError::TooLarge(w) if w.contains("GNU long name")),
            "{err}"
        );
        assert!(read < 64 * 1024, "{read} bytes read");
    }

    #[test]
    fn a_huge_pax_header_is_refused_before_it_is_read() {
        let (err, read) = refuse(
            header(tar::EntryType::XHeader, "PaxHeaders/x", TIB),
            &Limits::EXPORT,
        );
        assert!(
            matches!(&err, BundleError::TooLarge(w) if w.contains("PAX extended header")),
            "{err}"
        );
        assert!(read < 64 * 1024, "{read} bytes read");
        // Just over the bound is refused as well.
        let (err, _) = refuse(
            header(
                tar::EntryType::XHeader,
                "PaxHeaders/x",
                MAX_PAX_HEADER_BYTES + 1,
            ),
            &Limits::REPLIES,
        );
        assert!(matches!(err, BundleError::TooLarge(_)), "{err}");
    }

    #[test]
    fn a_huge_pax_size_is_refused_by_the_limits_whatever_the_header_says() {
        let mut tar = pax(&[("size", &TIB.to_string())]);
        tar.extend(file("replies/x.age", 10, b"0123456789"));
        let (err, read) = refuse(tar, &Limits::REPLIES);
        assert!(
            matches!(&err, BundleError::TooLarge(p) if p == "replies/x.age"),
            "{err}"
        );
        assert!(read < 64 * 1024, "{read} bytes read");
    }

    #[test]
    fn a_pax_size_that_is_not_the_header_size_is_refused_either_way() {
        // Small in the header, larger (but within the limits) in PAX: a
        // reader believing PAX would take the next entries as this one's data.
        let mut tar = pax(&[("size", "4096")]);
        tar.extend(file("a.txt", 10, b"0123456789"));
        let (err, _) = refuse(tar, &Limits::REPLIES);
        assert!(
            matches!(&err, BundleError::Tar(m) if m.contains("PAX size (4096 bytes)")),
            "{err}"
        );
        // Large in the header, small in PAX: what follows the first 10
        // bytes would be read as headers by such a reader.
        let mut tar = pax(&[("size", "10")]);
        tar.extend(file("a.txt", 4096, &[b'x'; 4096]));
        let (err, _) = refuse(tar, &Limits::REPLIES);
        assert!(
            matches!(&err, BundleError::Tar(m) if m.contains("size in its header (4096 bytes)")),
            "{err}"
        );
    }

    #[test]
    fn the_header_size_is_checked_against_the_limits() {
        let (err, read) = refuse(file("a.txt", TIB, b""), &Limits::REPLIES);
        assert!(
            matches!(&err, BundleError::TooLarge(p) if p == "a.txt"),
            "{err}"
        );
        assert!(read < 64 * 1024, "{read} bytes read");
    }

    #[test]
    fn extension_headers_are_understood_and_checked() {
        // A GNU long name and a PAX path name the entry, and are validated.
        let long = format!("cases/{}/x.age", "a".repeat(200));
        let mut tar = header(
            tar::EntryType::GNULongName,
            "././@LongLink",
            long.len() as u64 + 1,
        );
        tar.extend(block(format!("{long}\0").as_bytes()));
        tar.extend(file("short", 3, b"abc"));
        tar.extend(pax(&[
            ("path", "b/pax-name"),
            ("size", "2"),
            ("mtime", "0"),
        ]));
        tar.extend(file("ignored", 2, b"hi"));
        tar.extend([0u8; 1024]);
        let mut seen = Vec::new();
        read_entries(&tar[..], &Limits::REPLIES, |path, size, data| {
            let mut buf = Vec::new();
            data.read_to_end(&mut buf)?;
            seen.push((path.to_string(), size, buf));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (long.clone(), 3, b"abc".to_vec()),
                ("b/pax-name".to_string(), 2, b"hi".to_vec())
            ]
        );

        for (records, expected) in [
            (&[("path", "../../etc/passwd")][..], "unsafe path"),
            (&[("linkpath", "/etc/passwd")][..], "link"),
            (&[("GNU.sparse.map", "0,1")][..], "not a plain file"),
            (&[("size", "-1")][..], "malformed PAX"),
            (&[("size", "0x10")][..], "malformed PAX"),
        ] {
            let mut tar = pax(records);
            tar.extend(file("a.txt", 2, b"hi"));
            let (err, _) = refuse(tar, &Limits::REPLIES);
            assert!(err.to_string().contains(expected), "{records:?}: {err}");
        }
        // Two in a row, one left dangling at the end, a global header, and a
        // long link name.
        let mut two = pax(&[("mtime", "0")]);
        two.extend(pax(&[("mtime", "0")]));
        two.extend(file("a.txt", 2, b"hi"));
        let mut dangling = pax(&[("mtime", "0")]);
        dangling.extend([0u8; 1024]);
        let mut global = header(tar::EntryType::XGlobalHeader, "g", 0);
        global.extend(file("a.txt", 2, b"hi"));
        let link = header(tar::EntryType::GNULongLink, "././@LongLink", 10);
        for (tar, expected) in [
            (two, "two PAX"),
            (dangling, "no entry after it"),
            (global, "global"),
            (link, "link"),
        ] {
            let err = read_entries(&tar[..], &Limits::REPLIES, |_, _, _| Ok(())).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
    }
}
