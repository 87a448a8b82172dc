//! What the workbench does with a reporter's file: never open it.
//!
//! A reporter's file is untrusted input. The app shows its name, declared
//! type, size and SHA-256; an image (PNG, JPEG, GIF or WebP by its first
//! bytes) is decoded here, with limits, and re-encoded to plain RGBA pixels
//! before anything is drawn; every other file can only be copied elsewhere,
//! with a warning. Nothing here hands a file to another program, to the
//! desktop or to a shell: the crate has no way to start a process
//! (`tests/no_process.rs` checks its sources for that).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Extensions of files that run code when opened: programs, scripts,
/// shortcuts and Office documents with macros.
const DANGEROUS_EXTENSIONS: &[&str] = &[
    "exe", "msi", "bat", "cmd", "com", "scr", "ps1", "vbs", "vbe", "js", "jse", "wsf", "jar",
    "desktop", "lnk", "sh", "bash", "run", "bin", "appimage", "docm", "xlsm", "pptm", "dotm",
    "xltm", "potm", "ppsm", "xlam", "ppam", "hta", "apk", "pif", "cpl", "msc", "reg", "url", "elf",
    "deb", "rpm", "dll", "so", "py", "pl",
];

/// Largest image file previewed.
pub const MAX_PREVIEW_FILE: u64 = 32 << 20;
/// Largest image side previewed, in pixels.
pub const MAX_PREVIEW_SIDE: u32 = 8192;
/// Most memory the decoder may allocate.
pub const MAX_PREVIEW_ALLOC: u64 = 256 << 20;

/// What the app may do with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// An image by its first bytes: previewed after decoding here.
    Image,
    /// Runs code when opened: flagged, and only saved elsewhere.
    Dangerous(String),
    /// Anything else: only saved elsewhere.
    SaveOnly,
}

/// Judges a file by its name and, if it is present, its first bytes.
pub fn handling(name: &str, path: Option<&Path>) -> Handling {
    if let Some(reason) = dangerous_name(name) {
        return Handling::Dangerous(reason);
    }
    let head = path.map(read_head).unwrap_or_default();
    if let Some(reason) = dangerous_magic(&head) {
        return Handling::Dangerous(reason);
    }
    if image_format(&head).is_some() {
        Handling::Image
    } else {
        Handling::SaveOnly
    }
}

/// The dangerous extension of `name`, if it has one. Trailing dots and
/// spaces are ignored (Windows drops them), and so is case.
pub fn dangerous_name(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches(['.', ' ']);
    let ext = trimmed.rsplit_once('.')?.1.to_ascii_lowercase();
    DANGEROUS_EXTENSIONS
        .contains(&ext.as_str())
        .then(|| format!(".{ext}"))
}

/// Whether the first bytes are those of a program or script.
pub fn dangerous_magic(head: &[u8]) -> Option<String> {
    let found = if head.starts_with(b"MZ") {
        "MZ (Windows program)"
    } else if head.starts_with(b"\x7fELF") {
        "ELF (Linux program)"
    } else if head.starts_with(b"#!") {
        "#! (script)"
    } else if head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || head.starts_with(&[0xfe, 0xed, 0xfa, 0xcf])
        || head.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
    {
        "Mach-O or Java class"
    } else if head.starts_with(b"[Desktop Entry]") {
        "desktop entry"
    } else if head.starts_with(b"L\0\0\0\x01\x14\x02\0") {
        "Windows shortcut"
    } else {
        return None;
    };
    Some(found.to_string())
}

fn read_head(path: &Path) -> Vec<u8> {
    let mut head = Vec::with_capacity(16);
    if let Ok(f) = File::open(path) {
        let _ = f.take(16).read_to_end(&mut head);
    }
    head
}

/// The image format of the first bytes, among the four decoded here.
fn image_format(head: &[u8]) -> Option<image::ImageFormat> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(image::ImageFormat::Png)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(image::ImageFormat::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(image::ImageFormat::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(image::ImageFormat::WebP)
    } else {
        None
    }
}

/// A decoded image: plain RGBA pixels, nothing of the original file.
#[derive(Debug, Clone)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA, 4 bytes a pixel, row by row.
    pub rgba: Vec<u8>,
}

/// Decodes an image file into RGBA pixels, with limits on its size, its
/// sides and the decoder's memory. The format is judged by the first
/// bytes, never by the name, and must be one of the four decoded here.
pub fn decode_image(path: &Path) -> Result<Pixels, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > MAX_PREVIEW_FILE {
        return Err(format!("larger than {} MiB", MAX_PREVIEW_FILE >> 20));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_PREVIEW_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let format = image_format(&bytes).ok_or("not a PNG, JPEG, GIF or WebP image")?;
    let mut reader = image::ImageReader::with_format(io::Cursor::new(&bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PREVIEW_SIDE);
    limits.max_image_height = Some(MAX_PREVIEW_SIDE);
    limits.max_alloc = Some(MAX_PREVIEW_ALLOC);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| e.to_string())?;
    let rgba = decoded.to_rgba8();
    Ok(Pixels {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

/// Copies a reporter's file into `dest_dir` under a name of its own
/// (the reporter's name made safe, never over an existing file), readable
/// and writable by its owner only and never executable. Returns the copy.
pub fn save_elsewhere(source: &Path, name: &str, dest_dir: &Path) -> io::Result<PathBuf> {
    let base = safe_name(name);
    let mut input = BufReader::new(File::open(source)?);
    for n in 0..1000u32 {
        let candidate = if n == 0 {
            dest_dir.join(&base)
        } else {
            dest_dir.join(format!("{n}-{base}"))
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = match options.open(&candidate) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let copied = io::copy(&mut input, &mut out).and_then(|_| out.flush());
        if let Err(e) = copied.and_then(|_| out.sync_all()) {
            drop(out);
            let _ = fs::remove_file(&candidate);
            return Err(e);
        }
        return Ok(candidate);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "too many files of that name in the folder",
    ))
}

/// A file name with no path, no control characters and no leading dot.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "attachment".to_string()
    } else {
        cleaned.chars().take(120).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_and_macro_documents_are_dangerous_by_name() {
        for name in [
            "run.exe",
            "evil.desktop",
            "Invoice.PDF.exe",
            "x.lnk",
            "budget.xlsm",
            "a.docm",
            "s.js",
            "setup.msi",
            "a.bat",
            "a.ps1",
            "a.vbs",
            "a.jar",
            "a.hta",
            "a.apk",
            "a.sh",
            "a.scr",
            "a.com",
            "a.cmd",
            "a.pptm",
            "a.dotm",
            "trailing.exe. ",
        ] {
            assert!(dangerous_name(name).is_some(), "{name} not flagged");
        }
        for name in [
            "photo.jpg",
            "report.pdf",
            "notes.txt",
            "sheet.xlsx",
            "noext",
        ] {
            assert_eq!(dangerous_name(name), None, "{name} flagged");
        }
    }

    #[test]
    fn a_program_is_dangerous_by_its_bytes_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("holiday.jpg", &b"MZ\x90\0rest"[..]),
            ("notes.txt", b"\x7fELF\x02\x01\x01"),
            ("readme", b"#!/bin/sh\nrm -rf ~\n"),
            ("x.png", b"[Desktop Entry]\nExec=sh"),
        ] {
            let p = dir.path().join(name);
            fs::write(&p, bytes).unwrap();
            assert!(
                matches!(handling(name, Some(&p)), Handling::Dangerous(_)),
                "{name}"
            );
        }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(width, height, image::Rgba([200, 10, 10, 255]));
        let mut out = io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_is_judged_by_its_bytes_and_decoded_to_rgba() {
        let dir = tempfile::tempdir().unwrap();
        // The name lies; the bytes decide.
        let p = dir.path().join("scan.pdf");
        fs::write(&p, png(3, 2)).unwrap();
        assert_eq!(handling("scan.pdf", Some(&p)), Handling::Image);
        let px = decode_image(&p).unwrap();
        assert_eq!((px.width, px.height, px.rgba.len()), (3, 2, 24));
        assert_eq!(&px.rgba[..4], &[200, 10, 10, 255]);

        let t = dir.path().join("photo.png");
        fs::write(&t, b"not an image at all").unwrap();
        assert_eq!(handling("photo.png", Some(&t)), Handling::SaveOnly);
        assert!(decode_image(&t).is_err());
    }

    #[test]
    fn an_image_too_large_to_preview_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.png");
        fs::write(&p, png(MAX_PREVIEW_SIDE + 1, 1)).unwrap();
        let err = decode_image(&p).unwrap_err();
        assert!(err.to_lowercase().contains("limit"), "{err}");
    }

    #[test]
    fn saving_elsewhere_copies_without_overwriting_and_never_executable() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"MZ payload").unwrap();
        let dest = dir.path().join("usb");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("run.exe"), b"someone else's").unwrap();
        let first = save_elsewhere(&src, "run.exe", &dest).unwrap();
        assert_eq!(first, dest.join("1-run.exe"));
        assert_eq!(fs::read(&first).unwrap(), b"MZ payload");
        assert_eq!(fs::read(dest.join("run.exe")).unwrap(), b"someone else's");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&first).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0, "saved file is executable: {mode:o}");
        }
        let sneaky = save_elsewhere(&src, "../../.bashrc", &dest).unwrap();
        assert_eq!(sneaky.parent().unwrap(), dest);
    }
}
