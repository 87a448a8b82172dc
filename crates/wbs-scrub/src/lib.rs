//! Finds and removes what in a reporter's attachment can identify them,
//! before anything is encrypted (issue 13; PROTOCOL.md §4.1 `metadata`).
//!
//! Pure: bytes in, bytes out; no file, network or clock. Every parser is
//! bounded in time and memory by the input's length and the limits below,
//! and a file it cannot read safely (truncated, lying lengths, hostile) is
//! never called clean: it gets [`Outcome::Refused`].
//!
//! | format | what is removed | how |
//! |---|---|---|
//! | JPEG | EXIF (APP1), XMP, IPTC/Photoshop (APP13), other APPn, comments, data after the end | segment removal; the entropy-coded picture is copied byte for byte; a non-default EXIF orientation is written back as a one-tag EXIF segment |
//! | PNG | `tEXt`, `zTXt`, `iTXt` (XMP), `eXIf`, `tIME` | chunk removal; kept chunks copied as they are (their CRCs stay valid) |
//! | WebP | `EXIF`, `XMP ` chunks | chunk removal; the VP8X flags and the RIFF size fixed |
//! | PDF | the document information dictionary (`/Info`), XMP streams (`/Metadata`) | overwritten in place with spaces of the same length, so every cross-reference offset stays valid |
//! | DOCX/XLSX/PPTX | `docProps/core.xml`, `docProps/app.xml`, comment and tracked-change authors | XML rewritten inside the zip, nothing extracted to disk |
//! | ODT/ODS/ODP | `meta.xml` | replaced by an empty one |

#![forbid(unsafe_code)]

mod exif;
mod jpeg;
mod office;
mod pdf;
mod png;
mod webp;

pub use exif::ExifFindings;

/// Largest attachment this crate reads (the whole file is held in memory).
pub const MAX_INPUT: usize = 512 * 1024 * 1024;

/// A kind of identifying information. Its [`Field::code`] is what the
/// inspectorate sees in the report (a name, never a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// A GPS position.
    Gps,
    /// Camera or phone make and model.
    Camera,
    /// A device or lens serial number.
    Serial,
    /// When the file was made or changed.
    Date,
    /// The device owner's or the artist's name, a copyright holder.
    Owner,
    /// The document's author or last editor.
    Author,
    /// The program (and often its version) that wrote the file.
    Software,
    /// Vendor maker notes (often serial numbers, settings).
    MakerNotes,
    /// An embedded preview picture (may show the uncropped original).
    Thumbnail,
    /// An XMP packet (edit history, names, tools).
    Xmp,
    /// IPTC / Photoshop data (names, places, captions).
    Iptc,
    /// Free text: comments, captions, descriptions, titles, keywords.
    Text,
    /// The organisation or licence holder, a manager's name.
    Organisation,
    /// A document template (its path often holds the user name).
    Template,
    /// Names of comment authors.
    CommentAuthor,
    /// Names of tracked-change authors.
    RevisionAuthor,
    /// Data after the end of the picture (phone vendors hide data there).
    Trailer,
    /// Other vendor segments or chunks.
    Other,
}

impl Field {
    /// The stable name in reports (PROTOCOL.md §4.1).
    pub fn code(self) -> &'static str {
        match self {
            Field::Gps => "gps",
            Field::Camera => "camera",
            Field::Serial => "serial",
            Field::Date => "date",
            Field::Owner => "owner",
            Field::Author => "author",
            Field::Software => "software",
            Field::MakerNotes => "maker-notes",
            Field::Thumbnail => "thumbnail",
            Field::Xmp => "xmp",
            Field::Iptc => "iptc",
            Field::Text => "text",
            Field::Organisation => "organisation",
            Field::Template => "template",
            Field::CommentAuthor => "comment-author",
            Field::RevisionAuthor => "revision-author",
            Field::Trailer => "trailer",
            Field::Other => "other",
        }
    }

    /// What to show the reporter, Indonesian / English.
    pub fn label(self) -> &'static str {
        match self {
            Field::Gps => "posisi GPS / GPS position",
            Field::Camera => "kamera / camera",
            Field::Serial => "nomor seri / serial number",
            Field::Date => "tanggal / date",
            Field::Owner => "pemilik / owner",
            Field::Author => "penulis / author",
            Field::Software => "perangkat lunak / software",
            Field::MakerNotes => "catatan pabrikan / maker notes",
            Field::Thumbnail => "gambar mini / thumbnail",
            Field::Xmp => "metadata XMP",
            Field::Iptc => "metadata IPTC",
            Field::Text => "teks tersembunyi / hidden text",
            Field::Organisation => "organisasi / organisation",
            Field::Template => "templat / template",
            Field::CommentAuthor => "penulis komentar / comment author",
            Field::RevisionAuthor => "penulis perubahan / tracked-change author",
            Field::Trailer => "data setelah gambar / data after the picture",
            Field::Other => "metadata lain / other metadata",
        }
    }
}

/// One thing found. The value is for the reporter's own screen only; it
/// never goes into the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of thing.
    pub field: Field,
    /// Its value where it is short text (e.g. `Samsung SM-A525F`).
    pub value: Option<String>,
}

impl Finding {
    pub(crate) fn new(field: Field, value: Option<String>) -> Self {
        let value = value
            .map(|v| {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .filter(|v| !v.is_empty());
        Finding { field, value }
    }
}

/// A format this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// PDF.
    Pdf,
    /// Office Open XML (.docx, .xlsx, .pptx).
    Ooxml,
    /// OpenDocument (.odt, .ods, .odp).
    Odf,
}

impl Format {
    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Pdf => "PDF",
            Format::Ooxml => "Office Open XML",
            Format::Odf => "OpenDocument",
        }
    }
}

/// A cleaned file.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// Its format.
    pub format: Format,
    /// The cleaned bytes (equal to the input when nothing was found).
    pub bytes: Vec<u8>,
    /// What was found, and removed or neutralised.
    pub found: Vec<Finding>,
}

impl Cleaned {
    /// The distinct field codes removed, sorted (what the report carries).
    pub fn removed_codes(&self) -> Vec<String> {
        let mut fields: Vec<Field> = self.found.iter().map(|f| f.field).collect();
        fields.sort();
        fields.dedup();
        fields.into_iter().map(|f| f.code().to_string()).collect()
    }
}

/// What became of a file.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A known format, read completely: `bytes` holds nothing this crate
    /// knows to identify the reporter.
    Cleaned(Cleaned),
    /// A format this crate does not check: the file is as it was.
    NotChecked,
    /// A known format that could not be read safely or completely
    /// (truncated, malformed, hostile, or hiding parts this crate cannot
    /// read): it must not be presented as clean.
    Refused {
        /// The format it claims to be.
        format: Format,
        /// Why, in English, for the reporter.
        reason: String,
    },
}

/// An error while reading a known format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

pub(crate) fn bad<T>(why: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(why.into()))
}

/// Which format the bytes are, by their content (not by the name), with
/// the file name's extension only to tell Office from OpenDocument zips
/// when their content is unreadable.
pub fn detect(data: &[u8]) -> Option<Format> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else if data[..data.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        Some(Format::Pdf)
    } else if data.starts_with(b"PK\x03\x04") {
        office::detect(data)
    } else {
        None
    }
}

/// Reads `data`, lists what can identify its author and returns it without.
pub fn scrub(data: &[u8]) -> Outcome {
    let Some(format) = detect(data) else {
        return Outcome::NotChecked;
    };
    if data.len() > MAX_INPUT {
        return Outcome::Refused {
            format,
            reason: format!("the file is larger than {} MiB", MAX_INPUT >> 20),
        };
    }
    let clean = |bytes: &[u8]| match format {
        Format::Jpeg => jpeg::clean(bytes),
        Format::Png => png::clean(bytes),
        Format::Webp => webp::clean(bytes),
        Format::Pdf => pdf::clean(bytes),
        Format::Ooxml | Format::Odf => office::clean(bytes, format),
    };
    let refused = |reason: String| Outcome::Refused { format, reason };
    let (mut bytes, mut found) = match clean(data) {
        Ok(done) => done,
        Err(Malformed(reason)) => return refused(reason),
    };
    // What comes out must read as clean: cleaned again, nothing more is
    // found and nothing changes (a zip is rewritten each time: there only
    // the findings count). A hostile file whose broken structure only
    // looked whole thanks to what was removed is cleaned until it settles,
    // or refused.
    for _ in 0..MAX_PASSES {
        if detect(&bytes) != Some(format) {
            return refused(format!(
                "the cleaned {} no longer reads as one",
                format.name()
            ));
        }
        let (again, more) = match clean(&bytes) {
            Ok(done) => done,
            Err(Malformed(reason)) => return refused(reason),
        };
        let zip = matches!(format, Format::Ooxml | Format::Odf);
        if more.is_empty() && (zip || again == bytes) {
            return Outcome::Cleaned(Cleaned {
                format,
                bytes,
                found,
            });
        }
        found.extend(more);
        bytes = again;
    }
    refused(format!(
        "the {} does not settle when cleaned (malformed)",
        format.name()
    ))
}

/// How many times a cleaned file is cleaned again at most.
const MAX_PASSES: usize = 4;
