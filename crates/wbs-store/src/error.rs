//! The one error type of the storage layer.

use std::io;

/// Everything a [`Store`](crate::Store) call can fail with.
///
/// The messages are meant for the operator's log. None of them contains a
/// lookup hash, a token hash or anything a reporter sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A case with this lookup hash already exists (the receipt code is taken).
    #[error("a case with this lookup already exists")]
    LookupExists,
    /// The case, token or blob asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The disk (or the quota of the user running the server) is full.
    /// Whatever the failed call was writing has been removed again.
    #[error("no space left on the storage device (or quota exceeded)")]
    NoSpace,
    /// The data directory is damaged or incomplete; the store refuses to
    /// start over it rather than silently begin again with an empty store.
    #[error("storage is damaged: {0}")]
    Corrupt(String),
    /// Any other I/O failure of the file system.
    #[error("storage I/O error: {0}")]
    Io(io::Error),
    /// The database behind the store failed (or could not be reached).
    /// The message never holds a password.
    #[error("metadata database error: {0}")]
    Backend(String),
    /// The store was written by a newer version of WBS (its schema or
    /// format is newer than this binary knows); the message names both.
    #[error("{0}")]
    Incompatible(String),
    /// The data directory can be entered or read by users other than the
    /// one running the server. The message says how to fix it.
    #[error("{0}")]
    NotPrivate(String),
    /// The caller passed something the store cannot accept (a malformed
    /// date, a blob that was never staged, a duplicate token name, ...).
    #[error("invalid request to storage: {0}")]
    Invalid(String),
}

// Linux errno values. std has `ErrorKind::StorageFull`/`QuotaExceeded`, but
// the raw numbers are what every kernel version reports, so check both.
#[cfg(target_os = "linux")]
const ENOSPC: i32 = 28;
#[cfg(target_os = "linux")]
const EDQUOT: i32 = 122;

/// Whether an I/O error means "the disk or the quota is full".
pub(crate) fn is_no_space(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if matches!(e.raw_os_error(), Some(ENOSPC) | Some(EDQUOT)) {
        return true;
    }
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl From<io::Error> for StoreError {
    /// Maps a full disk or an exceeded quota to [`StoreError::NoSpace`], so
    /// a caller writing into a [`BlobSink`](crate::BlobSink) through
    /// `std::io::Write` can turn its `io::Error` into the right variant
    /// with `StoreError::from`.
    fn from(e: io::Error) -> Self {
        if is_no_space(&e) {
            StoreError::NoSpace
        } else {
            StoreError::Io(e)
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::from(io),
            sled::Error::Corruption { .. } => {
                StoreError::Corrupt(format!("the metadata database reports corruption: {e}"))
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_and_quota_map_to_no_space() {
        #[cfg(target_os = "linux")]
        {
            assert!(matches!(
                StoreError::from(io::Error::from_raw_os_error(ENOSPC)),
                StoreError::NoSpace
            ));
            assert!(matches!(
                StoreError::from(io::Error::from_raw_os_error(EDQUOT)),
                StoreError::NoSpace
            ));
        }
        assert!(matches!(
            StoreError::from(io::Error::from(io::ErrorKind::StorageFull)),
            StoreError::NoSpace
        ));
        assert!(matches!(
            StoreError::from(io::Error::from(io::ErrorKind::PermissionDenied)),
            StoreError::Io(_)
        ));
    }

    #[test]
    fn sled_io_errors_keep_the_no_space_mapping() {
        let e = sled::Error::Io(io::Error::from(io::ErrorKind::StorageFull));
        assert!(matches!(StoreError::from(e), StoreError::NoSpace));
    }
}
