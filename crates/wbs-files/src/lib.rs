//! Files written whole or not at all: the one atomic-write helper of the
//! workspace.
//!
//! The bytes go to a temporary sibling (mode 0600) in the same directory;
//! once complete they are fsynced, the file gets its final name, and the
//! directory is fsynced so the name survives a crash. A new file gets its
//! name with a hard link ([`AtomicFile::publish_new`]), which, unlike a
//! rename, fails instead of replacing a file that appeared meanwhile; a file
//! the program owns and rewrites is renamed over the old one
//! ([`AtomicFile::replace`]). Dropped before either, the temporary file is
//! removed.
//!
//! It never writes outside the destination's directory and never follows
//! the temporary name to anything it did not create (`create_new`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The final name of a new file is taken ([`AtomicFile::create_new`]).
    #[error("{0} exists already; choose a new file name (it is never overwritten)")]
    Exists(PathBuf),
    /// The final name appeared while the file was being written.
    #[error("{0} appeared meanwhile; not overwriting it")]
    AppearedMeanwhile(PathBuf),
    /// The path has no file name.
    #[error("{0} is not a file name")]
    NotAFileName(PathBuf),
    /// Writing, syncing or naming failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A file being written under a temporary name next to its final one.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: File,
    published: bool,
}

impl AtomicFile {
    /// Starts writing `dest`, which must not exist (it is checked again
    /// when the file is published).
    pub fn create_new(dest: &Path) -> Result<AtomicFile, FileError> {
        if dest.symlink_metadata().is_ok() {
            return Err(FileError::Exists(dest.to_path_buf()));
        }
        Self::create(dest)
    }

    /// Starts writing `dest`, which may exist (for [`replace`](Self::replace)).
    pub fn create(dest: &Path) -> Result<AtomicFile, FileError> {
        let name = dest
            .file_name()
            .ok_or_else(|| FileError::NotAFileName(dest.to_path_buf()))?
            .to_string_lossy()
            .into_owned();
        // Unique within the process too: two writers of one name never share
        // a temporary file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = dest.with_file_name(format!(".{name}.partial-{}-{n}", std::process::id()));
            match options.open(&tmp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        tmp,
                        dest: dest.to_path_buf(),
                        file,
                        published: false,
                    })
                }
                // A leftover of a crashed run that had the same process id:
                // never reused, the next name is tried.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(source) => return Err(FileError::Io { path: tmp, source }),
            }
        }
    }

    /// The file being written (under its temporary name).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The temporary name, to read the file back before publishing it.
    pub fn temporary_path(&self) -> &Path {
        &self.tmp
    }

    /// Makes the bytes written so far durable.
    pub fn sync(&self) -> Result<(), FileError> {
        self.file.sync_all().map_err(|source| FileError::Io {
            path: self.tmp.clone(),
            source,
        })
    }

    /// Syncs the file and gives it its final name, never replacing a file
    /// that appeared there meanwhile, and makes the name durable.
    pub fn publish_new(self) -> Result<(), FileError> {
        match self.try_publish_new()? {
            Ok(()) => Ok(()),
            Err(unpublished) => Err(FileError::AppearedMeanwhile(unpublished.dest.clone())),
        }
    }

    /// Like [`publish_new`](Self::publish_new), but when the final name is
    /// taken the file comes back unpublished (`Ok(Err(file))`), so the
    /// caller can compare it with what is there before dropping it.
    ///
    /// A hard link gives the name without any window in which another file
    /// could be replaced. On a file system without hard links (FAT on a USB
    /// stick) it falls back to checking that the name is free, then renaming.
    pub fn try_publish_new(mut self) -> Result<Result<(), AtomicFile>, FileError> {
        self.sync()?;
        match std::fs::hard_link(&self.tmp, &self.dest) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.tmp);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Err(self)),
            Err(_) if self.dest.symlink_metadata().is_ok() => return Ok(Err(self)),
            Err(_) => {
                std::fs::rename(&self.tmp, &self.dest).map_err(|source| FileError::Io {
                    path: self.dest.clone(),
                    source,
                })?;
            }
        }
        self.published = true;
        sync_dir_of(&self.dest);
        Ok(Ok(()))
    }

    /// Syncs the file and renames it over `dest` (whatever was there is
    /// replaced in one step), and makes the name durable.
    pub fn replace(mut self) -> Result<(), FileError> {
        self.sync()?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| FileError::Io {
            path: self.dest.clone(),
            source,
        })?;
        self.published = true;
        sync_dir_of(&self.dest);
        Ok(())
    }
}

impl std::io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.file).flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Best effort: makes a new directory entry durable (not every file
/// system lets a directory be fsynced).
pub fn sync_dir_of(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_new_file_appears_only_when_published_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.tar");
        let f = AtomicFile::create_new(&dest).unwrap();
        (&mut &f.file).write_all(b"complete").unwrap();
        assert!(!dest.exists(), "visible before it was published");
        f.sync().unwrap();
        let tmp = f.temporary_path().to_path_buf();
        f.publish_new().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"complete");
        assert!(!tmp.exists(), "the temporary name stayed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        assert!(matches!(
            AtomicFile::create_new(&dest),
            Err(FileError::Exists(_))
        ));
        let other = dir.path().join("other.tar");
        let f = AtomicFile::create_new(&other).unwrap();
        std::fs::write(&other, b"someone else's").unwrap();
        assert!(matches!(
            f.publish_new(),
            Err(FileError::AppearedMeanwhile(_))
        ));
        assert_eq!(std::fs::read(&other).unwrap(), b"someone else's");

        let dropped = AtomicFile::create_new(&dir.path().join("never.tar")).unwrap();
        let tmp = dropped.temporary_path().to_path_buf();
        drop(dropped);
        assert!(!tmp.exists(), "an unpublished file stayed behind");
        assert!(!dir.path().join("never.tar").exists());
    }

    #[test]
    fn a_taken_name_gives_the_file_back_unpublished() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("evidence");
        let mut f = AtomicFile::create_new(&dest).unwrap();
        f.write_all(b"mine").unwrap();
        std::fs::write(&dest, b"theirs").unwrap();
        let back = match f.try_publish_new().unwrap() {
            Ok(()) => panic!("published over a file that appeared meanwhile"),
            Err(back) => back,
        };
        assert_eq!(std::fs::read(back.temporary_path()).unwrap(), b"mine");
        assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
        drop(back);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_leftover_temporary_name_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let first = AtomicFile::create(&dest).unwrap();
        let leftover = first.temporary_path().to_path_buf();
        std::mem::forget(first);
        // The next names this process would pick, taken by "a crashed run".
        let (stem, n) = leftover.to_str().unwrap().rsplit_once('-').unwrap();
        let n: u64 = n.parse().unwrap();
        for k in 1..4 {
            // create_new: a name another test took meanwhile stays its own.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(format!("{stem}-{}", n + k));
        }
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new").unwrap();
        f.replace().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::read(&leftover).unwrap(), b"");
    }

    #[test]
    fn replacing_swaps_the_whole_file_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("cursor");
        std::fs::write(&dest, b"old").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new, longer").unwrap();
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            b"old",
            "changed before replace"
        );
        f.replace().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new, longer");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "a temporary file stayed"
        );
    }
}
