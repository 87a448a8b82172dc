//! Decrypting one object straight from the tar stream, in constant memory,
//! with errors that say what went wrong and where.
//!
//! Nothing decrypted is trusted until three checks have passed, in this
//! order: age authenticated every chunk to the end of the file (a cut or
//! altered tail fails only there), the tar entry matched its SHA-256 in
//! `case.json` (checked by wbs-protocol when the entry is read to its end),
//! and, for attachments, the plaintext matched the SHA-256 in the report.
//! Callers only put files in place after [`decrypt_object`] returned.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use sha2::{Digest, Sha256};
use wbs_protocol::bundle::ObjectEntry;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::keyring::{classify_io, DecryptFailure, Keyring};

/// Why consuming the plaintext stopped.
pub enum Step {
    /// Decryption or reading failed.
    Decrypt(DecryptFailure),
    /// Anything else (writing output, invalid content): reported as is.
    Fatal(Error),
}

impl From<DecryptFailure> for Step {
    fn from(f: DecryptFailure) -> Self {
        Step::Decrypt(f)
    }
}

impl From<Error> for Step {
    fn from(e: Error) -> Self {
        Step::Fatal(e)
    }
}

/// Remembers whether the bundle reader itself failed, so a SHA-256 mismatch
/// of the tar entry (an `InvalidData` from wbs-protocol's verifying reader)
/// is not mistaken for age's own authentication failure.
struct Watched<'a> {
    inner: &'a mut dyn Read,
    failed: Option<io::ErrorKind>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed.get_or_insert(e.kind());
        })
    }
}

/// Decrypts the object `entry` of `case_id` from `data` (the tar entry),
/// lets `consume` read the plaintext, then checks everything (see the module
/// doc) before returning what `consume` made.
pub fn decrypt_object<T>(
    keyring: &Keyring,
    case_id: &str,
    entry: &ObjectEntry,
    data: &mut dyn Read,
    consume: impl FnOnce(&mut dyn Read) -> Result<T, Step>,
) -> Result<T, Error> {
    let mut watched = Watched {
        inner: data,
        failed: None,
    };
    let outcome = decrypt_and_check(keyring, &mut watched, consume);
    let object = entry.path.clone();
    outcome.map_err(|step| match (step, watched.failed) {
        (Step::Fatal(e), _) => e,
        (_, Some(io::ErrorKind::InvalidData)) => Error::BundleHash {
            case: case_id.to_string(),
            object,
        },
        (_, Some(_)) => Error::case(
            case_id,
            format!("{object:?}: the bundle cannot be read (truncated or damaged tar)"),
        ),
        (Step::Decrypt(DecryptFailure::NotRecipient), None) => Error::NotRecipient {
            case: case_id.to_string(),
        },
        (Step::Decrypt(DecryptFailure::Damaged), None) => Error::Tampered {
            case: case_id.to_string(),
            object,
        },
        (Step::Decrypt(DecryptFailure::Io(e)), None) => {
            Error::case(case_id, format!("{object:?}: read error: {e}"))
        }
    })
}

fn decrypt_and_check<T>(
    keyring: &Keyring,
    watched: &mut Watched<'_>,
    consume: impl FnOnce(&mut dyn Read) -> Result<T, Step>,
) -> Result<T, Step> {
    let value = {
        let mut plain = keyring.decrypt(&mut *watched)?;
        let value = consume(&mut plain)?;
        io::copy(&mut plain, &mut io::sink()).map_err(classify_io)?;
        value
    };
    // age reads to the end of its input to find the last chunk, so this
    // normally finds nothing left; it is here so that the bundle's SHA-256
    // check has certainly run before anything is kept, whatever age's
    // buffering does.
    io::copy(watched, &mut io::sink()).map_err(|e| Step::Decrypt(DecryptFailure::Io(e)))?;
    Ok(value)
}

/// Reads a whole decrypted document (bounded: documents are short texts).
pub fn read_document(plain: &mut dyn Read, case_id: &str) -> Result<Zeroizing<Vec<u8>>, Step> {
    let max = wbs_protocol::message::MAX_DOCUMENT_LEN;
    let mut out = Zeroizing::new(Vec::new());
    plain
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(classify_io)?;
    if out.len() as u64 > max {
        return Err(Step::Fatal(Error::case(
            case_id,
            format!("a decrypted document is larger than {max} bytes"),
        )));
    }
    Ok(out)
}

/// Plaintext handed from the decrypting thread to the writing one at a time.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the two threads (memory: about 1.5 MiB).
const CHUNKS_IN_FLIGHT: usize = 4;
/// Size of each `write`, as the `age` CLI does. On the benchmark machine,
/// writes of 64 KiB and more into the page cache cost up to twice the
/// system time per byte (docs/BENCHMARKS.md).
const WRITE_SIZE: usize = 32 * 1024;

/// Copies exactly `size` bytes of plaintext into `out`, hashing them; the
/// padding after them is left for the caller to drain. Returns the SHA-256,
/// or `None` if the plaintext ended before `size` bytes.
///
/// Two threads share the work, so a large attachment uses both cores of a
/// small machine: this one reads the bundle (which also hashes it) and
/// decrypts; a scoped helper hashes the plaintext and writes it. On one
/// thread, `open` took about twice as long as `age -d` on the same object
/// (docs/BENCHMARKS.md).
pub fn copy_exact_hashed(
    plain: &mut dyn Read,
    size: u64,
    out: &mut (dyn Write + Send),
    on_write_error: impl Fn(io::Error) -> Error,
) -> Result<Option<[u8; 32]>, Step> {
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<[u8; 32]> {
            let mut hasher = Sha256::new();
            for chunk in full_rx {
                hasher.update(&chunk);
                for piece in chunk.chunks(WRITE_SIZE) {
                    out.write_all(piece)?;
                }
                // Recycled: the reader never allocates more than it needs.
                let _ = free_tx.send(chunk);
            }
            Ok(hasher.finalize().into())
        });
        let read = read_chunks(plain, size, &full_tx, &free_rx);
        // Closing the channel ends the writer once it has written the rest.
        drop(full_tx);
        let written = match writer.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match (read, written) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(Step::Fatal(on_write_error(e))),
            (Ok(complete), Ok(digest)) => Ok(complete.then_some(digest)),
        }
    })
}

/// Reads `size` bytes of `plain` in chunks and hands them to the writer.
/// Returns whether all of them came; stops early if the writer stopped.
fn read_chunks(
    plain: &mut dyn Read,
    size: u64,
    to_writer: &mpsc::SyncSender<Vec<u8>>,
    free: &mpsc::Receiver<Vec<u8>>,
) -> Result<bool, Step> {
    let mut remaining = size;
    while remaining > 0 {
        let want = remaining.min(CHUNK as u64) as usize;
        let mut chunk = free.try_recv().unwrap_or_default();
        chunk.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match plain.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_io(e).into()),
            }
        }
        chunk.truncate(filled);
        remaining -= filled as u64;
        let short = filled < want;
        if filled > 0 && to_writer.send(chunk).is_err() {
            // The writer failed; its error is the one to report.
            return Ok(true);
        }
        if short {
            return Ok(false);
        }
    }
    Ok(true)
}
