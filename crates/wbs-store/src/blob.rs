//! Blob files: one file per encrypted object under `<data>/blobs/`.
//!
//! A blob is streamed into `<data>/tmp/<random>.tmp` through a [`BlobSink`],
//! which hashes and counts the bytes as they pass. [`BlobSink::finish`]
//! fsyncs the file, renames it to `<data>/blobs/<id[0..2]>/<id>` and fsyncs
//! that directory, so that a [`StagedBlob`] is on disk for good before any
//! metadata points at it (DESIGN.md, "Storage"). Until a store call commits
//! metadata that references it, a staged blob is a leftover that the next
//! start removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::ids::{is_blob_id, new_blob_id, random_id};
use crate::types::BlobId;

/// A blob that is on disk and durable, but referenced by nothing yet.
///
/// Hand it to a store call (`create_case`, `add_followup`, `apply_import`)
/// to attach it to a case. Deliberately not `Clone`: each staged blob is
/// meant to be used once.
#[derive(Debug, PartialEq, Eq)]
pub struct StagedBlob {
    /// The blob's id; its file is `blobs/<id[0..2]>/<id>`.
    pub id: BlobId,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    pub sha256: [u8; 32],
}

/// Where blob files live. Shared by the store and every open sink.
#[derive(Debug)]
pub(crate) struct BlobFiles {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobFiles {
    pub(crate) fn new(blobs: PathBuf, tmp: PathBuf) -> Self {
        Self { blobs, tmp }
    }

    pub(crate) fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// The shard directory of a blob: two symbols spread the files over up
    /// to 1024 directories, so no directory grows unreasonably large.
    fn shard_dir(&self, id: &str) -> PathBuf {
        self.blobs.join(&id[..2])
    }

    /// The path of a blob; refuses anything that is not a blob id, so no
    /// caller can make the store open or delete a file outside `blobs/`.
    pub(crate) fn path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !is_blob_id(id) {
            return Err(StoreError::Invalid(format!("{id:?} is not a blob id")));
        }
        Ok(self.shard_dir(id).join(id))
    }

    /// Moves the inode change times (`ctime`) of recent blob files to now,
    /// all together, and sets the times of the directories that hold them
    /// back to midnight. See [`crate::Store::blur_file_times`].
    pub(crate) fn blur_times(&self, today_days: i64) -> Result<usize, StoreError> {
        // Yesterday too: a file written just before midnight is caught by
        // the first sweep of the next day.
        let recent = midnight(today_days - 1);
        let mut touched = 0;
        let mut shards = Vec::new();
        for entry in read_dir_or_empty(&self.blobs)? {
            let shard = entry?;
            if shard.file_type()?.is_dir() {
                shards.push(shard.path());
            }
        }
        for dir in &shards {
            for entry in read_dir_or_empty(dir)? {
                let entry = entry?;
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    // Deleted by retention meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let modified = meta.modified()?;
                if !meta.is_file() || modified < recent {
                    continue;
                }
                // Setting the times moves the ctime to now. The access time
                // goes back to the midnight the mtime already holds: a read
                // (an export, a reporter fetching a reply) may have set it
                // to the moment of that read.
                let times = fs::FileTimes::new()
                    .set_modified(modified)
                    .set_accessed(modified);
                match File::open(entry.path()).and_then(|f| f.set_times(times)) {
                    Ok(()) => touched += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // A directory's mtime is the moment of the last file added to it
        // (or renamed out of it, for tmp/): back to midnight of that day.
        for dir in [&self.blobs, &self.tmp].into_iter().chain(&shards) {
            let meta = match fs::metadata(dir) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let modified = meta.modified()?;
            if modified < recent {
                continue;
            }
            let days = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| (d.as_secs() / 86_400) as i64)
                .unwrap_or(0);
            let day = midnight(days);
            File::open(dir)?.set_times(fs::FileTimes::new().set_modified(day).set_accessed(day))?;
        }
        Ok(touched)
    }

    /// Opens a blob for reading, without updating its access time where
    /// the system allows (the time of a read, an export or a reporter
    /// fetching a reply, is no business of the disk).
    pub(crate) fn open(&self, id: &str) -> Result<File, StoreError> {
        match open_noatime(&self.path(id)?) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a staged blob's file is really there, with the size it claims.
    /// `StagedBlob` has public fields, so this catches a forged or stale one
    /// before metadata is made to point at a file that does not exist.
    pub(crate) fn check_staged(&self, blob: &StagedBlob) -> Result<(), StoreError> {
        let path = self.path(&blob.id)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == blob.size => Ok(()),
            Ok(_) => Err(StoreError::Invalid(format!(
                "blob {} does not match its staged size",
                blob.id
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Invalid(format!(
                "blob {} was never staged (or was already removed)",
                blob.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a blob file; a file that is already gone is not an error.
    pub(crate) fn remove(&self, id: &str) -> Result<(), StoreError> {
        match fs::remove_file(self.path(id)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Writes a new blob, as a stream. Implements [`std::io::Write`]; call
/// [`finish`](BlobSink::finish) to make it durable. Dropping a sink without
/// finishing it removes what it wrote.
///
/// Write errors are plain `io::Error`s; `StoreError::from` maps a full disk
/// to [`StoreError::NoSpace`].
pub struct BlobSink(Box<dyn BlobWrite>);

/// What a backend implements to stream a blob in (see [`BlobSink`]).
pub trait BlobWrite: Write + Send {
    /// Bytes written so far.
    fn size(&self) -> u64;
    /// Makes the blob durable and staged (see [`BlobSink::finish`]).
    fn finish(self: Box<Self>) -> Result<StagedBlob, StoreError>;
}

impl std::fmt::Debug for BlobSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobSink")
            .field("size", &self.0.size())
            .finish()
    }
}

impl BlobSink {
    /// A sink writing through a backend's writer.
    pub fn new(inner: Box<dyn BlobWrite>) -> BlobSink {
        BlobSink(inner)
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.0.size()
    }

    /// Makes the blob durable (for files: flushed, fsynced, renamed, the
    /// directory fsynced; for a database: committed) and returns it as a
    /// [`StagedBlob`], before any record points at it. On any error,
    /// nothing partial stays behind.
    pub fn finish(self) -> Result<StagedBlob, StoreError> {
        self.0.finish()
    }
}

impl Write for BlobSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The file backend's blob writer (see [`BlobSink`]): a temporary file in
/// `tmp/`, renamed into `blobs/` when finished. Dropping it without
/// finishing deletes its temporary file.
pub(crate) struct FileSink {
    files: Arc<BlobFiles>,
    /// `None` only after `finish` took it.
    out: Option<BufWriter<File>>,
    /// The temporary file, until it has been renamed into `blobs/`.
    tmp_path: Option<PathBuf>,
    hasher: Sha256,
    size: u64,
}

impl BlobWrite for FileSink {
    fn size(&self) -> u64 {
        self.size
    }

    fn finish(self: Box<Self>) -> Result<StagedBlob, StoreError> {
        (*self).finish()
    }
}

impl FileSink {
    /// Creates the temporary file. `create_new` guards against ever reusing
    /// a name, and on Unix the file is readable by the server user only.
    pub(crate) fn create(files: Arc<BlobFiles>) -> Result<FileSink, StoreError> {
        let tmp_path = files.tmp_dir().join(format!("{}.tmp", random_id(26)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&tmp_path)?;
        Ok(Self::with_file(files, file, tmp_path))
    }

    /// A sink writing to `file`, which lives at `tmp_path`. (Split out so
    /// tests can put a sink on a device that is always full.)
    fn with_file(files: Arc<BlobFiles>, file: File, tmp_path: PathBuf) -> FileSink {
        FileSink {
            files,
            // Small: larger writes (the server's 256 KiB batches) bypass the
            // buffer anyway, and most blobs are reports of a few KiB, so a
            // bigger one per upload only costs memory under load.
            out: Some(BufWriter::with_capacity(8 * 1024, file)),
            tmp_path: Some(tmp_path),
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Makes the blob durable: flush, fsync the file, rename it into
    /// `blobs/`, fsync the directory. On any error the temporary file (or
    /// the renamed file) is removed again, so nothing partial stays behind.
    pub(crate) fn finish(mut self) -> Result<StagedBlob, StoreError> {
        self.sync_tmp()?;
        // 130 random bits make a collision practically impossible, but a
        // rename would silently replace an existing blob, so look first.
        let id = loop {
            let id = new_blob_id();
            if !self.files.path(&id)?.exists() {
                break id;
            }
        };
        self.install(id)
    }

    /// Like [`finish`](FileSink::finish), but under a given id, if the
    /// bytes match `expected` (a restore puts every blob back under the id
    /// its records use). A mismatch is [`StoreError::Corrupt`] and leaves
    /// nothing behind; so does an id that is already taken.
    pub(crate) fn finish_as(mut self, expected: &StagedBlob) -> Result<StagedBlob, StoreError> {
        let got: [u8; 32] = self.hasher.clone().finalize().into();
        if self.size != expected.size || got != expected.sha256 {
            return Err(StoreError::Corrupt(format!(
                "blob {} does not match the size and SHA-256 its records give",
                expected.id
            )));
        }
        if self.files.path(&expected.id)?.exists() {
            return Err(StoreError::Invalid(format!(
                "blob {} exists already",
                expected.id
            )));
        }
        self.sync_tmp()?;
        self.install(expected.id.clone())
    }

    /// Flushes the buffer and fsyncs the temporary file.
    fn sync_tmp(&mut self) -> Result<(), StoreError> {
        let out = self.out.take().expect("a sink is finished only once");
        let file = out
            .into_inner()
            .map_err(|e| StoreError::from(e.into_error()))?;
        // A file's modification time would date its arrival to the
        // nanosecond: set it (and the access time) back to midnight UTC of
        // the day, the most any date WBS keeps reveals. (The inode change
        // time cannot be set; see THREAT_MODEL.md.)
        let today = midnight(wbs_protocol::date::today_days());
        file.set_times(
            std::fs::FileTimes::new()
                .set_modified(today)
                .set_accessed(today),
        )?;
        file.sync_all()?;
        Ok(())
    }

    /// Renames the synced temporary file to the blob `id` and fsyncs the
    /// directories involved.
    fn install(mut self, id: BlobId) -> Result<StagedBlob, StoreError> {
        let shard = self.files.shard_dir(&id);
        if !shard.is_dir() {
            create_private_dir(&shard)?;
            // The new shard directory's own entry lives in blobs/.
            sync_dir(self.files.blobs_dir())?;
        }
        let final_path = shard.join(id.as_str());
        let tmp_path = self.tmp_path.as_ref().expect("set until renamed");
        fs::rename(tmp_path, &final_path)?;
        self.tmp_path = None;
        if let Err(e) = sync_dir(&shard) {
            let _ = fs::remove_file(&final_path);
            return Err(e);
        }
        Ok(StagedBlob {
            id,
            size: self.size,
            sha256: self.hasher.clone().finalize().into(),
        })
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("blob sink already finished"))?;
        let n = out.write(buf)?;
        // Hash exactly what was accepted, so a short write stays consistent.
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Close before unlinking (needed on Windows, harmless elsewhere).
        // Dropping the BufWriter would try to flush; skip that work by
        // discarding the buffer: the file is going away anyway.
        if let Some(out) = self.out.take() {
            let (file, _unflushed) = out.into_parts();
            drop(file);
        }
        if let Some(path) = self.tmp_path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Creates a directory (and missing parents) readable by the server user
/// only, on Unix exactly mode 0700 whatever the umask: the mode given at
/// creation can only lose bits to the umask, so it is set again after.
/// A directory that exists already is set to 0700 too; the data directory
/// itself is checked before, and refused if others could read it
/// ([`crate::layout::check_private`]).
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    #[cfg(unix)]
    set_mode(path, 0o700)?;
    Ok(())
}

/// Sets `path`'s permission bits to `mode` unless they are that already.
#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if fs::metadata(path)?.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Fsyncs a directory, so that the entries created or renamed in it survive
/// a crash. Windows cannot open directories like this and orders its
/// metadata itself, so there it is a no-op.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(path)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The start (00:00 UTC) of the day `days` days after the epoch.
fn midnight(days: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(days).unwrap_or(0) * 86_400)
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<io::Result<fs::DirEntry>>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Opens `path` read-only with `O_NOATIME` on Linux (allowed to the file's
/// owner, which the server is), falling back to a plain open elsewhere or
/// when refused.
fn open_noatime(path: &Path) -> io::Result<File> {
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64"
        )
    ))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        /// `O_NOATIME` on Linux for these architectures (asm-generic).
        const O_NOATIME: i32 = 0o1_000_000;
        match OpenOptions::new()
            .read(true)
            .custom_flags(O_NOATIME)
            .open(path)
        {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => return other,
        }
    }
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Arc<BlobFiles> {
        let blobs = dir.join("blobs");
        let tmp = dir.join("tmp");
        fs::create_dir_all(&blobs).unwrap();
        fs::create_dir_all(&tmp).unwrap();
        Arc::new(BlobFiles::new(blobs, tmp))
    }

    fn count_files(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn finished_blob_lands_in_its_shard_with_hash_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut sink = FileSink::create(files.clone()).unwrap();
        sink.write_all(b"age-encryption.org/v1\n").unwrap();
        sink.write_all(&[7u8; 100_000]).unwrap();
        assert_eq!(sink.size(), 22 + 100_000);
        let staged = sink.finish().unwrap();

        let mut expected = b"age-encryption.org/v1\n".to_vec();
        expected.extend_from_slice(&[7u8; 100_000]);
        let want: [u8; 32] = Sha256::digest(&expected).into();
        assert_eq!(staged.sha256, want);
        assert_eq!(staged.size, expected.len() as u64);
        let path = dir
            .path()
            .join("blobs")
            .join(&staged.id[..2])
            .join(staged.id.as_str());
        assert_eq!(fs::read(path).unwrap(), expected);
        assert_eq!(count_files(files.tmp_dir()), 0, "tmp file left behind");
        files.check_staged(&staged).unwrap();
    }

    #[test]
    fn dropping_an_unfinished_sink_removes_its_tmp_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut sink = FileSink::create(files.clone()).unwrap();
        sink.write_all(&[1u8; 200_000]).unwrap();
        assert_eq!(count_files(files.tmp_dir()), 1);
        drop(sink);
        assert_eq!(count_files(files.tmp_dir()), 0);
        assert_eq!(count_files(files.blobs_dir()), 0);
    }

    #[test]
    fn forged_ids_never_become_paths() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        assert!(matches!(
            files.path("../WBS-STORE"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            files.open("../../etc/passwd"),
            Err(StoreError::Invalid(_))
        ));
        let forged = StagedBlob {
            id: crate::ids::new_blob_id(),
            size: 1,
            sha256: [0; 32],
        };
        assert!(matches!(
            files.check_staged(&forged),
            Err(StoreError::Invalid(_))
        ));
    }

    /// A sink whose writes go to `/dev/full` (every write fails with
    /// ENOSPC) while its "temporary file" is a real file in tmp/.
    #[cfg(target_os = "linux")]
    fn full_disk_sink(files: &Arc<BlobFiles>) -> FileSink {
        let tmp_path = files.tmp_dir().join("full.tmp");
        File::create(&tmp_path).unwrap();
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        FileSink::with_file(files.clone(), full, tmp_path)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_while_writing_is_no_space_and_leaves_no_tmp_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut sink = full_disk_sink(&files);
        // Larger than the write buffer, so the device is really written to.
        let err = sink.write_all(&[0u8; 200_000]).unwrap_err();
        assert!(matches!(StoreError::from(err), StoreError::NoSpace));
        drop(sink);
        assert_eq!(count_files(files.tmp_dir()), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_while_finishing_is_no_space_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut sink = full_disk_sink(&files);
        // Small enough to sit in the buffer: the failure comes at finish.
        sink.write_all(b"buffered").unwrap();
        assert!(matches!(sink.finish(), Err(StoreError::NoSpace)));
        assert_eq!(count_files(files.tmp_dir()), 0);
        assert_eq!(count_files(files.blobs_dir()), 0);
    }

    #[test]
    fn a_staged_blob_with_a_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let mut sink = FileSink::create(files.clone()).unwrap();
        sink.write_all(b"abc").unwrap();
        let mut staged = sink.finish().unwrap();
        staged.size = 4;
        assert!(matches!(
            files.check_staged(&staged),
            Err(StoreError::Invalid(_))
        ));
    }
}
