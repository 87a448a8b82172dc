//! The data directory: what lives where, the marker file that says a store
//! was created here, and the clean-up of crash leftovers at start.
//!
//! ```text
//! <data>/WBS-STORE        marker, JSON {"format":"wbs-store","version":1}
//! <data>/db/              sled: metadata and indexes
//! <data>/blobs/<id[0..2]>/<id>   one file per encrypted object
//! <data>/tmp/             blobs being written
//! ```
//!
//! The directory is mode 0700 and everything in it 0600 (directories 0700):
//! a data directory other users can enter is refused ([`check_private`]),
//! one the store creates gets 0700 whatever the umask, and every open sets
//! the files sled made with the process umask back to 0600
//! ([`make_private`]).
//!
//! The marker is what lets the store tell "a new, empty directory" from "a
//! store whose metadata was lost": sled, asked to open a missing database,
//! would happily create an empty one, and the server would then answer
//! every receipt code with "unknown" as if nothing had ever been filed.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::blob::{create_private_dir, sync_dir};
use crate::error::StoreError;
use crate::ids::is_blob_id;

/// Name of the marker file.
pub const MARKER_FILE: &str = "WBS-STORE";

/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const FORMAT_NAME: &str = "wbs-store";

/// The content of the marker file.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
}

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
    pub marker: PathBuf,
    pub db: PathBuf,
    pub blobs: PathBuf,
    pub tmp: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
            marker: root.join(MARKER_FILE),
            db: root.join("db"),
            blobs: root.join("blobs"),
            tmp: root.join("tmp"),
        }
    }

    /// Reads and checks the marker: `Ok(false)` if there is none.
    pub(crate) fn check_marker(&self) -> Result<bool, StoreError> {
        let bytes = match fs::read(&self.marker) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let marker: Marker = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::Corrupt(format!("{} is unreadable: {e}", self.marker.display()))
        })?;
        if marker.format != FORMAT_NAME {
            return Err(StoreError::Corrupt(format!(
                "{} names format {:?}, not {FORMAT_NAME:?}",
                self.marker.display(),
                marker.format
            )));
        }
        if marker.version != FORMAT_VERSION {
            return Err(StoreError::Invalid(format!(
                "the store in {} has format version {}, this build reads version {FORMAT_VERSION}",
                self.root.display(),
                marker.version
            )));
        }
        Ok(true)
    }

    /// Writes the marker atomically with [`wbs_files::AtomicFile`]:
    /// temporary sibling (0600), fsync, rename, then an fsync of the data
    /// directory that, unlike the helper's, must succeed.
    pub(crate) fn write_marker(&self) -> Result<(), StoreError> {
        let json = serde_json::to_vec(&Marker {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut f = wbs_files::AtomicFile::create(&self.marker).map_err(file_error)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.replace().map_err(file_error)?;
        sync_dir(&self.root)
    }

    /// Whether the sled database directory has the files sled writes when
    /// it creates a database. Checked before opening, because opening a
    /// missing database would create an empty one.
    pub(crate) fn db_files_present(&self) -> bool {
        self.db.join("conf").is_file() && self.db.join("db").is_file()
    }

    /// Whether `blobs/` holds any file at all (blob or not): the sign that
    /// a store has lived here.
    pub(crate) fn blobs_has_files(&self) -> Result<bool, StoreError> {
        for entry in read_dir_or_empty(&self.blobs)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                return Ok(true);
            }
            if fs::read_dir(entry.path())?.next().is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Creates `blobs/` and `tmp/` if they are missing.
    pub(crate) fn create_dirs(&self) -> Result<(), StoreError> {
        create_private_dir(&self.blobs)?;
        create_private_dir(&self.tmp)?;
        sync_dir(&self.root)
    }
}

/// Permission bits that let users other than the owner in.
#[cfg(unix)]
const OTHERS: u32 = 0o077;

/// Refuses a data directory that users other than its owner can enter,
/// list or write (any group or other bit): it holds the encrypted objects,
/// the case records and the token hashes. The message tells the operator
/// what to run.
pub(crate) fn check_private(root: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(root)?.permissions().mode() & 0o7777;
        if mode & OTHERS != 0 {
            return Err(StoreError::NotPrivate(format!(
                "the data directory {dir} is open to other users (mode {mode:04o}); it must be \
                 readable by the server's user only. Run `chmod 700 {dir}` (and consider who \
                 may have read it), then start again",
                dir = root.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    Ok(())
}

/// Sets every directory under `root` (itself included) to mode 0700 and
/// every other file to 0600, where they differ. sled creates its files with
/// the process umask (0644 under the usual 022); blob files and directories
/// are created private already. Symbolic links are left alone (changing
/// their mode would change their target's).
pub(crate) fn make_private(root: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            crate::blob::set_mode(&dir, 0o700)?;
            for entry in read_dir_or_empty(&dir)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if meta.file_type().is_symlink() {
                    continue;
                }
                if meta.is_dir() {
                    stack.push(entry.path());
                } else if meta.permissions().mode() & 0o7777 != 0o600 {
                    fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    Ok(())
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<io::Result<fs::DirEntry>>, StoreError> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd.collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// What the start-up clean-up found.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    /// Temporary files and unreferenced blob files removed.
    pub removed: usize,
    /// Blob ids that metadata references but whose file is missing.
    pub missing: Vec<crate::types::BlobId>,
}

/// Removes crash leftovers: everything in `tmp/`, and every blob file that
/// `referenced` does not contain. Files in `blobs/` whose name is not a
/// blob id in its proper shard are not ours and are left alone.
///
/// Must only run while this process holds the database lock: another
/// process could otherwise be writing the very files it removes.
pub(crate) fn sweep(
    layout: &Layout,
    referenced: &HashSet<crate::types::BlobId>,
) -> Result<Sweep, StoreError> {
    let mut sweep = Sweep::default();
    for entry in read_dir_or_empty(&layout.tmp)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
        sweep.removed += 1;
    }

    let mut present = HashSet::new();
    for shard in read_dir_or_empty(&layout.blobs)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        let shard_name = shard.file_name();
        for entry in fs::read_dir(shard.path())? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_blob_id(name) || shard_name.to_str() != Some(&name[..2]) {
                continue;
            }
            if referenced.contains(name) {
                present.insert(name.to_owned());
            } else {
                fs::remove_file(entry.path())?;
                sweep.removed += 1;
            }
        }
    }
    sweep.missing = referenced
        .iter()
        .filter(|id| !present.contains(id.as_str()))
        .cloned()
        .collect();
    sweep.missing.sort();
    Ok(sweep)
}

/// The I/O error inside a [`wbs_files::FileError`], so a full disk is still
/// [`StoreError::NoSpace`] and the messages stay those of `std::io`.
fn file_error(e: wbs_files::FileError) -> StoreError {
    match e {
        wbs_files::FileError::Io { source, .. } => source.into(),
        other => StoreError::Invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips_and_garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert!(!layout.check_marker().unwrap());
        layout.write_marker().unwrap();
        assert!(layout.check_marker().unwrap());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [MARKER_FILE], "a temporary file stayed behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&layout.marker).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Rewriting replaces it whole.
        layout.write_marker().unwrap();
        assert!(layout.check_marker().unwrap());

        fs::write(&layout.marker, b"\0\0garbage").unwrap();
        assert!(matches!(layout.check_marker(), Err(StoreError::Corrupt(_))));
        fs::write(&layout.marker, br#"{"format":"wbs-store","version":99}"#).unwrap();
        assert!(matches!(layout.check_marker(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn sweep_keeps_referenced_blobs_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create_dirs().unwrap();
        let keep = crate::ids::new_blob_id();
        let stray = crate::ids::new_blob_id();
        let gone = crate::ids::new_blob_id();
        for id in [&keep, &stray] {
            fs::create_dir_all(layout.blobs.join(&id[..2])).unwrap();
            fs::write(layout.blobs.join(&id[..2]).join(id.as_str()), b"x").unwrap();
        }
        fs::write(layout.blobs.join("README"), b"operator's note").unwrap();
        fs::write(layout.tmp.join("half.tmp"), b"partial").unwrap();

        let referenced: HashSet<crate::types::BlobId> = [keep.clone(), gone.clone()].into();
        let sweep = sweep(&layout, &referenced).unwrap();
        assert_eq!(sweep.removed, 2, "the tmp file and the stray blob");
        assert_eq!(sweep.missing, vec![gone]);
        assert!(layout.blobs.join(&keep[..2]).join(keep.as_str()).exists());
        assert!(!layout.blobs.join(&stray[..2]).join(stray.as_str()).exists());
        assert!(layout.blobs.join("README").exists());
        assert_eq!(fs::read_dir(&layout.tmp).unwrap().count(), 0);
    }
}
