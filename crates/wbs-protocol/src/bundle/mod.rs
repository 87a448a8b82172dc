//! Bundles: what crosses the air gap (PROTOCOL.md §8).
//!
//! - An export bundle (server → air gap) is a tar with `export.json` first,
//!   then for each case `cases/<id>/case.json` followed by the case's age
//!   files.
//! - A reply bundle (air gap → server) is a tar with `replies.json` first,
//!   then the reply age files it lists.
//!
//! Both are read by [`tar_safe`], which refuses absolute paths, `..`, links,
//! device files, duplicates and entries over the size limits before a single
//! byte reaches the caller. Both writers produce deterministic tars (fixed
//! modes, zero times, no owner names), so a bundle reveals nothing about when
//! or by whom it was made.

mod export;
mod replies;
pub mod tar_safe;

pub use export::{
    read_export, CaseManifest, ExportManifest, ExportSummary, ExportVisitor, ExportWriter,
    ManifestCase, ObjectEntry, ObjectKind, EXPORT_FORMAT,
};
pub use replies::{
    read_streaming as read_replies, RepliesManifest, ReplyBundle, ReplyFile, ReplyItem,
    REPLIES_FORMAT,
};
pub use tar_safe::{Limits, MAX_ID_LEN};

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The tar structure itself is broken (truncated, bad checksum, …).
    #[error("not a valid tar archive: {0}")]
    Tar(String),
    /// An entry name that could escape the output folder.
    #[error("unsafe path in bundle: {0:?}")]
    UnsafePath(String),
    /// A symbolic or hard link.
    #[error("bundle contains a link: {0:?}")]
    Link(String),
    /// A device, FIFO, sparse file or other entry that is not a plain file or folder.
    #[error("bundle contains an entry that is not a plain file: {0:?}")]
    UnsupportedEntry(String),
    /// The same path twice.
    #[error("bundle contains {0:?} twice")]
    Duplicate(String),
    /// An entry over the size limit, or the bundle over its total limit.
    #[error("bundle entry {0:?} is larger than allowed")]
    TooLarge(String),
    /// More entries than allowed.
    #[error("bundle has more entries than allowed")]
    TooManyEntries,
    /// A manifest is missing, malformed or contradicts the bundle.
    #[error("bad manifest: {0}")]
    Manifest(String),
    /// A file the manifest does not list, or in the wrong place.
    #[error("unexpected entry in bundle: {0:?}")]
    Unexpected(String),
    /// A file whose bytes do not match the SHA-256 in its manifest.
    #[error("{0:?} does not match its SHA-256 in the manifest: damaged or tampered with")]
    HashMismatch(String),
    /// Files listed in a manifest are missing (a truncated bundle?).
    #[error("bundle is incomplete: {0}")]
    Incomplete(String),
    /// The caller's visitor refused an entry.
    #[error("{0}")]
    Visitor(String),
}

/// Whether `id` is acceptable as a case or item identifier: 1 to
/// [`MAX_ID_LEN`] characters of `[0-9a-z_-]`, so it is always a safe single
/// path component.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_' || b == b'-')
        && !id.starts_with('-')
}
