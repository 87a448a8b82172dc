//! What the report says about each attachment: its name and media type.
//!
//! Only the file's own name goes into the (encrypted) report, never the
//! folder it came from, which could name the reporter.

use std::path::Path;

use crate::ClientError;

/// The media types a reporter's evidence usually comes in, by extension.
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("rtf", "application/rtf"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("heic", "image/heic"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("3gp", "video/3gpp"),
    ("zip", "application/zip"),
    ("7z", "application/x-7z-compressed"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("eml", "message/rfc822"),
];

/// The media type for anything not in the table.
pub const DEFAULT_MEDIA_TYPE: &str = "application/octet-stream";

/// The media type guessed from a file's extension (case-insensitive).
pub fn media_type_for(path: &Path) -> &'static str {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return DEFAULT_MEDIA_TYPE;
    };
    let ext = ext.to_ascii_lowercase();
    MEDIA_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or(DEFAULT_MEDIA_TYPE, |(_, t)| t)
}

/// The name an attachment gets in the report: the file name alone, without
/// any folder.
pub fn attachment_name(path: &Path) -> Result<String, ClientError> {
    let name = path
        .file_name()
        .ok_or_else(|| ClientError::Input(format!("{} does not name a file", path.display())))?;
    Ok(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions_get_their_type_whatever_the_case() {
        assert_eq!(media_type_for(Path::new("invoice.pdf")), "application/pdf");
        assert_eq!(media_type_for(Path::new("/tmp/FOTO.JPG")), "image/jpeg");
        assert_eq!(media_type_for(Path::new("rekaman.M4a")), "audio/mp4");
        assert_eq!(
            media_type_for(Path::new("anggaran.xlsx")),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_stream() {
        assert_eq!(media_type_for(Path::new("data.bin")), DEFAULT_MEDIA_TYPE);
        assert_eq!(media_type_for(Path::new("README")), DEFAULT_MEDIA_TYPE);
        assert_eq!(media_type_for(Path::new(".pdf")), DEFAULT_MEDIA_TYPE);
    }

    #[test]
    fn attachment_names_drop_the_folder() {
        assert_eq!(
            attachment_name(Path::new("/home/budi/Documents/bukti.pdf")).unwrap(),
            "bukti.pdf"
        );
        assert_eq!(
            attachment_name(Path::new("bukti.pdf")).unwrap(),
            "bukti.pdf"
        );
        assert!(attachment_name(Path::new("/")).is_err());
        assert!(attachment_name(Path::new("docs/..")).is_err());
    }
}
