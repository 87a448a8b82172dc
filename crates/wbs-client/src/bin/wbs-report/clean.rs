//! Identifying metadata in the attachments: listed for the reporter, in
//! Indonesian and English, and removed (by default) before anything is
//! encrypted. The cleaned copies stay in memory; nothing is written to disk.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use wbs_client::media::attachment_name;
use wbs_client::terminal::{single_line, Failure};
use wbs_client::PreparedAttachment;
use wbs_protocol::message::MetadataNote;
use wbs_scrub::{Outcome, MAX_INPUT};

use crate::cli::Cleaning;

/// What is read to tell a format this program checks from one it does
/// not, before reading a whole (possibly large) file.
const HEAD: usize = 1024;

/// Reads, reports on and (unless `--keep-metadata`) cleans each file.
/// `ask` is whether the reporter can be asked at a terminal about a file
/// that cannot be read safely.
pub fn prepare(
    paths: &[PathBuf],
    cleaning: Cleaning,
    ask: bool,
    note: &dyn Fn(&str),
) -> Result<Vec<PreparedAttachment>, Failure> {
    let mut out = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let name = attachment_name(path)?;
        let shown = single_line(&name);
        let mut file = PreparedAttachment::file(path);
        if cleaning.neutral_names {
            file.name = Some(neutral_name(i + 1, path));
        }
        let data = read_checkable(path)?;
        let outcome = match &data {
            Some(data) => wbs_scrub::scrub(data),
            None => Outcome::NotChecked,
        };
        match outcome {
            Outcome::Cleaned(cleaned) => {
                note(&format!("{shown} ({}):", cleaned.format.name()));
                if cleaned.found.is_empty() {
                    note("  tidak ditemukan metadata pengenal / no identifying metadata found");
                }
                for f in &cleaned.found {
                    match &f.value {
                        Some(v) => note(&format!("  - {}: {}", f.field.label(), single_line(v))),
                        None => note(&format!("  - {}", f.field.label())),
                    }
                }
                let codes = cleaned.removed_codes();
                if cleaning.keep_metadata {
                    if !codes.is_empty() {
                        note("  DIPERTAHANKAN atas pilihan Anda (--keep-metadata): berkas dikirim apa adanya / KEPT as you chose (--keep-metadata): the file is sent as it is");
                    }
                    file.metadata = Some(MetadataNote {
                        checked: true,
                        removed: Vec::new(),
                        kept: codes,
                    });
                } else {
                    if !codes.is_empty() {
                        note("  dihapus sebelum enkripsi / removed before encryption");
                    }
                    file.content = Some(cleaned.bytes);
                    file.metadata = Some(MetadataNote {
                        checked: true,
                        removed: codes,
                        kept: Vec::new(),
                    });
                }
            }
            Outcome::NotChecked => {
                note(&format!("{shown}: PERINGATAN / WARNING"));
                note("  WBS tidak dapat memeriksa metadata jenis berkas ini; berkas dikirim apa adanya. Saran: simpan ulang sebagai PDF atau ambil tangkapan layar, atau hapus metadatanya dengan alat yang Anda percayai.");
                note("  WBS cannot check this kind of file for metadata; it is sent as it is. Advice: save it again as PDF or take a screenshot of it, or remove its metadata with a tool you trust.");
                file.metadata = Some(MetadataNote::default());
            }
            Outcome::Refused { format, reason } => {
                note(&format!(
                    "{shown} ({}): PERINGATAN / WARNING: tidak dapat dibaca dengan aman / cannot be read safely: {}",
                    format.name(),
                    single_line(&reason)
                ));
                let send = cleaning.keep_metadata
                    || cleaning.send_unchecked
                    || (ask && confirm_unchecked(&shown)?);
                if !send {
                    return Err(Failure::Error(format!(
                        "{shown} was not sent: its metadata could not be checked ({}); \
                         leave it out, or send it unchanged with --send-unchecked",
                        single_line(&reason)
                    )));
                }
                note("  dikirim apa adanya, tanpa diperiksa / sent unchanged, unchecked");
                file.metadata = Some(MetadataNote::default());
            }
        }
        out.push(file);
    }
    Ok(out)
}

/// The whole file if it may be of a format this program checks, `None`
/// if it certainly is not (or is larger than it reads).
fn read_checkable(path: &Path) -> Result<Option<Vec<u8>>, Failure> {
    let err = |e: io::Error| Failure::Error(format!("cannot read {}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    let mut head = Vec::with_capacity(HEAD);
    (&mut f)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(err)?;
    let zip = head.starts_with(b"PK\x03\x04");
    if len > MAX_INPUT as u64 || (!zip && wbs_scrub::detect(&head).is_none()) {
        return Ok(None);
    }
    let mut data = head;
    f.take(MAX_INPUT as u64)
        .read_to_end(&mut data)
        .map_err(err)?;
    Ok(Some(data))
}

/// `lampiran-N.ext`, keeping a plain extension (it tells the type).
pub fn neutral_name(n: usize, path: &Path) -> String {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(ext) => format!("lampiran-{n}.{ext}"),
        None => format!("lampiran-{n}"),
    }
}

/// Asks at the terminal; anything but yes is no.
fn confirm_unchecked(shown: &str) -> Result<bool, Failure> {
    let mut err = io::stderr().lock();
    let _ = write!(
        err,
        "Kirim {shown} apa adanya, tanpa diperiksa? / Send {shown} unchanged, unchecked? [y/N] "
    );
    let _ = err.flush();
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Error(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "ya" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_names_keep_only_a_plain_extension() {
        assert_eq!(
            neutral_name(1, Path::new("/home/budi/IMG_2023.JPG")),
            "lampiran-1.jpg"
        );
        assert_eq!(
            neutral_name(2, Path::new("Laporan Budi.docx")),
            "lampiran-2.docx"
        );
        assert_eq!(neutral_name(3, Path::new("README")), "lampiran-3");
        assert_eq!(neutral_name(4, Path::new("x.b\u{202e}fdp")), "lampiran-4");
    }

    fn cleaning(keep: bool, unchecked: bool) -> Cleaning {
        Cleaning {
            keep_metadata: keep,
            send_unchecked: unchecked,
            neutral_names: false,
        }
    }

    #[test]
    fn a_file_that_cannot_be_read_safely_is_refused_unless_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("rusak.jpg");
        // A JPEG whose first segment claims more bytes than there are.
        std::fs::write(&bad, b"\xFF\xD8\xFF\xE1\xFF\xF0Exif\0\0").unwrap();
        let paths = vec![bad];
        let quiet = |_: &str| {};
        let err = prepare(&paths, cleaning(false, false), false, &quiet).unwrap_err();
        let Failure::Error(text) = err else { panic!() };
        assert!(text.contains("--send-unchecked"), "{text}");
        let sent = prepare(&paths, cleaning(false, true), false, &quiet).unwrap();
        assert_eq!(sent[0].content, None, "sent unchanged");
        assert_eq!(
            sent[0].metadata,
            Some(MetadataNote::default()),
            "and marked unchecked"
        );
    }

    #[test]
    fn unknown_formats_are_sent_unchanged_and_marked_unchecked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("rekaman.m4a");
        std::fs::write(&f, b"\0\0\0\x18ftypM4A ").unwrap();
        let lines = std::cell::RefCell::new(Vec::new());
        let note = |l: &str| lines.borrow_mut().push(l.to_string());
        let sent = prepare(&[f], cleaning(false, false), false, &note).unwrap();
        assert_eq!(sent[0].content, None);
        assert_eq!(sent[0].metadata.as_ref().map(|m| m.checked), Some(false));
        assert!(lines.borrow().iter().any(|l| l.contains("cannot check")));
    }
}
