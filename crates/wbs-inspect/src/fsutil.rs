//! File system rules of the tool.
//!
//! - Outputs are written to a temporary file in the destination folder and
//!   put in place only once complete, so a failure never leaves half a file.
//! - Evidence is never overwritten: a file that is already there with the
//!   same bytes is left alone (re-opening a bundle is harmless); one with
//!   other bytes is an error.
//! - Folders are 0700 and files 0600: decrypted reports are for the
//!   investigator's account only.
//! - Names that came from a reporter are sanitised to a single safe path
//!   component before they get anywhere near the file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;
use wbs_files::{AtomicFile, FileError};

use crate::error::{Error, Result};

/// Mode of every file the tool writes.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// Mode of every folder the tool creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Longest sanitised file name (bytes), leaving room for the `<i>-` prefix
/// well under every file system's 255-byte limit.
pub const MAX_NAME_LEN: usize = 100;

/// What happened to an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// It was written.
    Written,
    /// It was already there with exactly these bytes.
    AlreadyThere,
}

/// Creates `dir` (and its parents) if needed, and checks that it is a real
/// folder, not a link to somewhere else.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_dir() => return Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Error::InTheWay {
                path: dir.to_path_buf(),
                reason: "it is a symbolic link, not a folder",
            })
        }
        Ok(_) => {
            return Err(Error::InTheWay {
                path: dir.to_path_buf(),
                reason: "it is a file, not a folder",
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::read(dir, e)),
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(|e| Error::write(dir, e))
}

/// Opens a new file that must not exist yet (`create_new`), mode 0600.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// An output file being written under a temporary name next to `dest`
/// (mode 0600), removed when dropped unless it was put in place: the
/// workspace's [`wbs_files::AtomicFile`], with the tool's rule for evidence
/// that is already there ([`persist_new`](TempFile::persist_new)).
pub struct TempFile {
    file: AtomicFile,
    dest: PathBuf,
}

impl TempFile {
    /// Starts writing `dest`, which is only named once complete.
    pub fn new_for(dest: &Path) -> Result<Self> {
        Ok(TempFile {
            file: AtomicFile::create(dest).map_err(file_error)?,
            dest: dest.to_path_buf(),
        })
    }

    /// Where the data is being written.
    pub fn path(&self) -> &Path {
        self.file.temporary_path()
    }

    /// Makes the file durable and gives it its final name, which must not
    /// exist yet. If it does and holds the same bytes, the temporary file
    /// is dropped and [`Placed::AlreadyThere`] returned; if its bytes
    /// differ, [`Error::Exists`].
    pub fn persist_new(self) -> Result<Placed> {
        match self.file.try_publish_new().map_err(file_error)? {
            Ok(()) => Ok(Placed::Written),
            // Dropped after the comparison, which removes it.
            Err(unpublished) => compare(unpublished.temporary_path(), &self.dest),
        }
    }

    /// Replaces the final file with this one: only for files the tool owns
    /// and rewrites (`case.json`, `report.md`, `reply-to.json`, a reply
    /// bundle).
    pub fn replace(self) -> Result<()> {
        self.file.replace().map_err(file_error)
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The tool's error for what [`AtomicFile`] reports.
fn file_error(e: FileError) -> Error {
    match e {
        FileError::Io { path, source } => Error::write(&path, source),
        FileError::Exists(path) | FileError::AppearedMeanwhile(path) => Error::Exists(path),
        FileError::NotAFileName(path) => Error::write(
            &path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        ),
    }
}

/// Creates `.wbs-inspect-<random>.tmp` in `dir` for a [`Batch`], which
/// closes it unsynced and names it at commit.
fn create_temp_in(dir: &Path) -> Result<(PathBuf, File)> {
    // A random name and create_new: never clobbers anything, even a
    // leftover from a crash.
    for _ in 0..8 {
        let path = dir.join(format!(".wbs-inspect-{}.tmp", random_hex(8)));
        match create_new(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::write(dir, e)),
        }
    }
    Err(Error::write(
        dir,
        io::Error::other("cannot find a free temporary name"),
    ))
}

/// Gives the complete (and already durable) temporary file `tmp` the new
/// name `dest`, never replacing another file, as [`TempFile::persist_new`]
/// does for one file.
/// The temporary name is gone afterwards unless this fails.
fn place_new(tmp: &Path, dest: &Path) -> Result<Placed> {
    // A hard link is the no-clobber rename: it fails if `dest` exists,
    // with no window in which another file could be replaced.
    let placed = match fs::hard_link(tmp, dest) {
        Ok(()) => Placed::Written,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => compare(tmp, dest)?,
        Err(_) => {
            // File systems without hard links (FAT on a USB stick):
            // check, then rename.
            if fs::symlink_metadata(dest).is_ok() {
                compare(tmp, dest)?
            } else {
                fs::rename(tmp, dest).map_err(|e| Error::write(dest, e))?;
                return Ok(Placed::Written);
            }
        }
    };
    let _ = fs::remove_file(tmp);
    Ok(placed)
}

fn compare(tmp: &Path, dest: &Path) -> Result<Placed> {
    if same_contents(tmp, dest).map_err(|e| Error::read(dest, e))? {
        Ok(Placed::AlreadyThere)
    } else {
        Err(Error::Exists(dest.to_path_buf()))
    }
}

/// Best effort: makes a new directory entry durable.
#[cfg(not(target_os = "linux"))]
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

/// Small output files made durable together.
///
/// Writing each small file with its own `fsync`, then one for its folder
/// (what [`TempFile`] does), costs two waits for the disk per file: opening
/// a bundle of 10,000 small cases (four files each) took over two minutes,
/// nearly all of it in `fsync` (docs/BENCHMARKS.md). A batch keeps the rule
/// that no file gets its final name before its bytes are on disk, but pays
/// for it once per batch instead of once per file: each file is written
/// under a temporary name at once, [`commit`](Batch::commit) makes all of
/// them durable with one `syncfs` (on Linux; elsewhere an `fsync` per file),
/// then gives each its name, then makes the names durable with a second
/// `syncfs`. Dropping a batch without committing removes its temporary files.
#[derive(Default)]
pub struct Batch {
    pending: Vec<Pending>,
    /// Evidence files found already there, identical, since the last commit.
    already_there: usize,
}

/// A file written under its temporary name, waiting for its real one.
struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    /// A file the tool owns and replaces; otherwise evidence, never replaced.
    owned: bool,
}

impl Batch {
    /// Files waiting for [`commit`](Batch::commit).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no file is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Queues `bytes` as a new evidence file `dest`: at commit it is put in
    /// place as by [`TempFile::persist_new`]. A file already there is
    /// decided at once, so a conflict stops the case before anything after
    /// it is written: left alone if it has the same bytes, [`Error::Exists`]
    /// if it has other bytes.
    pub fn write_new(&mut self, dest: &Path, bytes: &[u8]) -> Result<()> {
        if fs::symlink_metadata(dest).is_err() {
            return self.queue(dest, bytes, false);
        }
        match fs::read(dest) {
            Ok(existing) if existing == bytes => {
                self.already_there += 1;
                Ok(())
            }
            // Gone meanwhile (or a dangling link): commit decides.
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.queue(dest, bytes, false),
            _ => Err(Error::Exists(dest.to_path_buf())),
        }
    }

    /// Queues a file the tool owns and keeps up to date: left alone when it
    /// already has these bytes, otherwise replaced atomically at commit.
    /// Returns whether it will change.
    pub fn write_owned(&mut self, dest: &Path, bytes: &[u8]) -> Result<bool> {
        match fs::symlink_metadata(dest) {
            Ok(meta) if meta.file_type().is_file() => {
                if fs::read(dest).map_err(|e| Error::read(dest, e))? == bytes {
                    return Ok(false);
                }
            }
            Ok(_) => {
                return Err(Error::InTheWay {
                    path: dest.to_path_buf(),
                    reason: "it is not a plain file",
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::read(dest, e)),
        }
        self.queue(dest, bytes, true)?;
        Ok(true)
    }

    fn queue(&mut self, dest: &Path, bytes: &[u8], owned: bool) -> Result<()> {
        let (tmp, mut file) = create_temp_in(parent_of(dest))?;
        if let Err(e) = file.write_all(bytes) {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(Error::write(&tmp, e));
        }
        self.pending.push(Pending {
            tmp,
            dest: dest.to_path_buf(),
            owned,
        });
        Ok(())
    }

    /// Makes every queued file durable and gives it its name. Returns how
    /// many evidence files were already there with the same bytes. On an
    /// error, the files before the failing one are in place and the rest
    /// are not.
    pub fn commit(&mut self) -> Result<usize> {
        let mut already_there = std::mem::take(&mut self.already_there);
        if self.pending.is_empty() {
            return Ok(already_there);
        }
        sync_data(self.pending.iter().map(|p| p.tmp.as_path()))?;
        let mut done = 0;
        let mut result = Ok(());
        for p in &self.pending {
            let placed = if p.owned {
                fs::rename(&p.tmp, &p.dest)
                    .map(|()| Placed::Written)
                    .map_err(|e| Error::write(&p.dest, e))
            } else {
                place_new(&p.tmp, &p.dest)
            };
            match placed {
                Ok(Placed::Written) => {}
                Ok(Placed::AlreadyThere) => already_there += 1,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            done += 1;
        }
        sync_names(self.pending[..done].iter().map(|p| p.dest.as_path()));
        // What was placed is no longer pending; the rest is removed on drop.
        self.pending.drain(..done);
        result.map(|()| already_there)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for p in &self.pending {
            let _ = fs::remove_file(&p.tmp);
        }
    }
}

/// Makes the bytes of `files` durable: one `syncfs` per file system they
/// are on.
#[cfg(target_os = "linux")]
fn sync_data<'a>(files: impl Iterator<Item = &'a Path>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut synced = Vec::new();
    for path in files {
        let file = File::open(path).map_err(|e| Error::read(path, e))?;
        let device = file.metadata().map_err(|e| Error::read(path, e))?.dev();
        if !synced.contains(&device) {
            rustix::fs::syncfs(&file).map_err(|e| Error::write(path, e.into()))?;
            synced.push(device);
        }
    }
    Ok(())
}

/// Makes the bytes of `files` durable: an `fsync` each.
#[cfg(not(target_os = "linux"))]
fn sync_data<'a>(files: impl Iterator<Item = &'a Path>) -> Result<()> {
    for path in files {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::write(path, e))?;
    }
    Ok(())
}

/// Best effort, like `sync_parent` elsewhere: makes the new names of
/// `files` durable.
#[cfg(target_os = "linux")]
fn sync_names<'a>(files: impl Iterator<Item = &'a Path>) {
    // One more syncfs per file system covers every directory entry made
    // since the data barrier.
    let _ = sync_data(files);
}

/// Best effort, like [`sync_parent`]: makes the new names of `files`
/// durable, an `fsync` per folder.
#[cfg(not(target_os = "linux"))]
fn sync_names<'a>(files: impl Iterator<Item = &'a Path>) {
    let mut synced: Vec<PathBuf> = Vec::new();
    for path in files {
        let dir = parent_of(path).to_path_buf();
        if !synced.contains(&dir) {
            sync_parent(path);
            synced.push(dir);
        }
    }
}

/// Reads a small file the tool wrote, if it exists.
pub fn read_if_exists(path: &Path, max_len: u64) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read(path, e)),
    };
    let mut buf = Vec::new();
    file.take(max_len + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::read(path, e))?;
    if buf.len() as u64 > max_len {
        return Err(Error::read(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "file is too large"),
        ));
    }
    Ok(Some(buf))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether two files hold the same bytes, compared in constant memory.
pub fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (fa, fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = ([0u8; 8192], [0u8; 8192]);
    loop {
        let n = read_full(&mut ra, &mut ba)?;
        let m = read_full(&mut rb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// `n` random bytes from the OS CSPRNG, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    wbs_protocol::hex(&bytes)
}

/// Turns a name a reporter chose into one safe file name component.
///
/// The result has no path separators, no `..`, no leading dot or dash, no
/// control or bidirectional-override characters (which can disguise
/// `cod.exe` as `exe.doc`), none of the characters Windows refuses, is at
/// most [`MAX_NAME_LEN`] bytes (keeping a short extension), and is never
/// empty (`attachment`). Joined to a folder it can only name a file inside
/// that folder.
pub fn sanitize_file_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() || crate::render::is_bidi_control(c) => '_',
            c => c,
        })
        .collect();
    let mut s = mapped;
    while s.contains("..") {
        s = s.replace("..", ".");
    }
    // Leading dots hide files (and `.` alone is the folder itself); leading
    // dashes look like options to the next command-line tool; trailing dots
    // and spaces are silently dropped on Windows.
    let s = s.trim_start_matches(['.', '-', ' ']);
    let s = s.trim_end_matches(['.', ' ']);
    let s = truncate_keeping_extension(s, MAX_NAME_LEN);
    if s.is_empty() {
        "attachment".to_string()
    } else {
        s
    }
}

fn truncate_keeping_extension(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let ext = match s.rfind('.') {
        Some(dot) if dot > 0 && s.len() - dot <= 16 => &s[dot..],
        _ => "",
    };
    let mut stem_end = max - ext.len();
    while !s.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    let stem = s[..stem_end].trim_end_matches(['.', ' ']);
    format!("{stem}{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_one_safe_component() {
        let cases = [
            ("../../etc/x", "_._etc_x"),
            ("/abs", "_abs"),
            (".hidden", "hidden"),
            ("..", "attachment"),
            ("", "attachment"),
            ("...", "attachment"),
            ("a/../b", "a_._b"),
            ("C:\\Windows\\x.dll", "C__Windows_x.dll"),
            ("red\u{1b}[31m\u{7}.txt", "red_[31m_.txt"),
            ("inv\u{202e}fdp.exe", "inv_fdp.exe"),
            ("-rf", "rf"),
            ("report.pdf", "report.pdf"),
            ("foto kantor.jpg", "foto kantor.jpg"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_file_name(input), expected, "{input:?}");
        }
    }

    #[test]
    fn sanitised_names_never_escape_a_folder() {
        let base = Path::new("/out/case");
        for input in [
            "../../etc/passwd",
            "/etc/passwd",
            "..\\..\\x",
            "....//....//x",
            ". .",
            "\u{0}",
            "a\nb",
        ] {
            let name = sanitize_file_name(input);
            let joined = base.join(&name);
            assert_eq!(joined.parent(), Some(base), "{input:?} -> {name:?}");
            assert!(!name.starts_with('.'));
            assert!(!name.contains(".."));
            assert!(!name.chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn long_names_are_capped_and_keep_their_extension() {
        let long = format!("{}.pdf", "é".repeat(300));
        let s = sanitize_file_name(&long);
        assert!(s.len() <= MAX_NAME_LEN, "{}", s.len());
        assert!(s.ends_with(".pdf"));
        let no_ext = "x".repeat(5000);
        assert_eq!(sanitize_file_name(&no_ext).len(), MAX_NAME_LEN);
    }

    fn write_new(dest: &Path, bytes: &[u8]) -> Result<Placed> {
        let mut batch = Batch::default();
        batch.write_new(dest, bytes)?;
        Ok(match batch.commit()? {
            0 => Placed::Written,
            _ => Placed::AlreadyThere,
        })
    }

    #[test]
    fn persist_new_skips_identical_and_refuses_different() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        assert_eq!(write_new(&dest, b"one").unwrap(), Placed::Written);
        assert_eq!(write_new(&dest, b"one").unwrap(), Placed::AlreadyThere);
        assert!(matches!(write_new(&dest, b"two"), Err(Error::Exists(_))));
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        // No temporary file survives either way.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // The same through a TempFile of its own.
        let mut tmp = TempFile::new_for(&dest).unwrap();
        tmp.write_all(b"one").unwrap();
        assert_eq!(tmp.persist_new().unwrap(), Placed::AlreadyThere);
        let mut tmp = TempFile::new_for(&dest).unwrap();
        tmp.write_all(b"two").unwrap();
        assert!(matches!(tmp.persist_new(), Err(Error::Exists(_))));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_batch_names_nothing_before_commit_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut batch = Batch::default();
        batch.write_new(&a, b"evidence").unwrap();
        assert!(batch.write_owned(&b, b"v1").unwrap());
        assert_eq!(batch.len(), 2);
        assert!(!a.exists() && !b.exists());
        assert_eq!(batch.commit().unwrap(), 0);
        assert_eq!(batch.len(), 0);
        assert_eq!(fs::read(&a).unwrap(), b"evidence");
        assert_eq!(fs::read(&b).unwrap(), b"v1");

        // Owned files are replaced, or left alone when unchanged.
        assert!(!batch.write_owned(&b, b"v1").unwrap());
        assert!(batch.write_owned(&b, b"v2").unwrap());
        batch.commit().unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"v2");

        let mut dropped = Batch::default();
        dropped
            .write_new(&dir.path().join("c"), b"never named")
            .unwrap();
        drop(dropped);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failing_commit_keeps_what_came_before_and_nothing_after() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("taken");
        let mut batch = Batch::default();
        batch.write_new(&dir.path().join("first"), b"1").unwrap();
        batch.write_new(&taken, b"mine").unwrap();
        batch.write_new(&dir.path().join("third"), b"3").unwrap();
        // Another file takes the name before the commit.
        fs::write(&taken, b"other bytes").unwrap();
        assert!(matches!(batch.commit(), Err(Error::Exists(_))));
        drop(batch);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["first", "taken"]);
        assert_eq!(fs::read(&taken).unwrap(), b"other bytes");

        // A conflict with a file already there is refused at once.
        let mut batch = Batch::default();
        assert!(matches!(
            batch.write_new(&taken, b"mine"),
            Err(Error::Exists(_))
        ));
        batch.write_new(&taken, b"other bytes").unwrap();
        assert_eq!(batch.len(), 0);
        assert_eq!(batch.commit().unwrap(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        write_new(&dest, b"x").unwrap();
        let mode = fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
