//! Files the operator commands write (a backup): complete and durable under
//! their final name, or not there at all.
//!
//! The bytes go to a temporary sibling (mode 0600) in the same directory;
//! once complete they are fsynced, the file is given its final name with a
//! hard link (which, unlike a rename, fails instead of replacing a file that
//! appeared meanwhile), and the directory is fsynced so the name survives a
//! crash. Dropped before [`NewFile::publish`], the temporary file is removed.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The final name is taken; output never replaces a file.
    #[error("{0} exists already; choose a new file name (a backup never overwrites a file)")]
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

/// A new file being written under a temporary name next to its final one.
pub struct NewFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: File,
    published: bool,
}

impl NewFile {
    /// Starts writing `dest`, which must not exist.
    pub fn create(dest: &Path) -> Result<NewFile, OutputError> {
        if dest.symlink_metadata().is_ok() {
            return Err(OutputError::Exists(dest.to_path_buf()));
        }
        let name = dest
            .file_name()
            .ok_or_else(|| OutputError::NotAFileName(dest.to_path_buf()))?
            .to_string_lossy()
            .into_owned();
        let tmp = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp).map_err(|source| OutputError::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok(NewFile {
            tmp,
            dest: dest.to_path_buf(),
            file,
            published: false,
        })
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
    pub fn sync(&self) -> Result<(), OutputError> {
        self.file.sync_all().map_err(|source| OutputError::Io {
            path: self.tmp.clone(),
            source,
        })
    }

    /// Syncs the file and gives it its final name, never replacing a file
    /// that appeared there meanwhile, and makes the name durable.
    pub fn publish(mut self) -> Result<(), OutputError> {
        self.sync()?;
        std::fs::hard_link(&self.tmp, &self.dest).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                OutputError::AppearedMeanwhile(self.dest.clone())
            } else {
                OutputError::Io {
                    path: self.dest.clone(),
                    source: e,
                }
            }
        })?;
        self.published = true;
        let _ = std::fs::remove_file(&self.tmp);
        sync_dir_of(&self.dest);
        Ok(())
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Best effort: makes a new directory entry durable (not every file
/// system lets a directory be fsynced).
fn sync_dir_of(path: &Path) {
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
        let f = NewFile::create(&dest).unwrap();
        (&mut &f.file).write_all(b"complete").unwrap();
        assert!(!dest.exists(), "visible before it was published");
        f.sync().unwrap();
        let tmp = f.temporary_path().to_path_buf();
        f.publish().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"complete");
        assert!(!tmp.exists(), "the temporary name stayed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        assert!(matches!(
            NewFile::create(&dest),
            Err(OutputError::Exists(_))
        ));
        let other = dir.path().join("other.tar");
        let f = NewFile::create(&other).unwrap();
        std::fs::write(&other, b"someone else's").unwrap();
        assert!(matches!(
            f.publish(),
            Err(OutputError::AppearedMeanwhile(_))
        ));
        assert_eq!(std::fs::read(&other).unwrap(), b"someone else's");

        let dropped = NewFile::create(&dir.path().join("never.tar")).unwrap();
        let tmp = dropped.temporary_path().to_path_buf();
        drop(dropped);
        assert!(!tmp.exists(), "an unpublished file stayed behind");
        assert!(!dir.path().join("never.tar").exists());
    }
}
