//! Office Open XML and OpenDocument: zip archives of XML, rewritten in
//! memory (nothing is extracted to disk) within fixed limits.
//!
//! Nested archives (an embedded workbook in a document) are copied as
//! they are and reported: they are not opened, so the depth is one.

use std::io::{Cursor, Read, Write};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::{bad, Field, Finding, Format, Malformed};

type Result<T> = std::result::Result<T, Malformed>;

/// At most this many entries.
pub const MAX_ENTRIES: usize = 10_000;
/// At most this many bytes once decompressed, all entries together.
pub const MAX_TOTAL: u64 = 256 * 1024 * 1024;
/// An entry that expands more than this many times (and past 1 MiB) is a
/// zip bomb.
pub const MAX_RATIO: u64 = 200;
/// XML nested deeper than this is refused.
pub const MAX_XML_DEPTH: usize = 256;

/// The neutral name put in place of authors.
pub const NEUTRAL_AUTHOR: &str = "Anonim";

pub fn detect(data: &[u8]) -> Option<Format> {
    let mut zip = ZipArchive::new(Cursor::new(data)).ok()?;
    if zip.by_name("[Content_Types].xml").is_ok() {
        return Some(Format::Ooxml);
    }
    let mut m = zip.by_name("mimetype").ok()?;
    let mut s = String::new();
    (&mut m).take(200).read_to_string(&mut s).ok()?;
    s.starts_with("application/vnd.oasis.opendocument")
        .then_some(Format::Odf)
}

const CORE_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>";
const APP_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\"/>";
const CUSTOM_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\"/>";
const META_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" office:version=\"1.2\"><office:meta/></office:document-meta>";

pub fn clean(data: &[u8], format: Format) -> Result<(Vec<u8>, Vec<Finding>)> {
    let mut zip = ZipArchive::new(Cursor::new(data))
        .map_err(|e| Malformed(format!("the archive cannot be read: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return bad(format!("the archive has more than {MAX_ENTRIES} entries"));
    }
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(data.len())));
    let mut found = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Malformed(format!("an archive entry cannot be read: {e}")))?;
        let name = entry.name().to_string();
        let method = match entry.compression() {
            CompressionMethod::Stored => CompressionMethod::Stored,
            CompressionMethod::Deflated => CompressionMethod::Deflated,
            other => {
                return bad(format!(
                    "the archive uses an unsupported compression ({other})"
                ))
            }
        };
        if entry.encrypted() {
            return bad("the archive is encrypted");
        }
        let options = SimpleFileOptions::default().compression_method(method);
        if entry.is_dir() {
            out.add_directory(name.as_str(), options)
                .map_err(|e| Malformed(e.to_string()))?;
            continue;
        }
        let compressed = entry.compressed_size().max(1);
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_TOTAL - total + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Malformed(format!("archive entry {name:?} is damaged: {e}")))?;
        total += bytes.len() as u64;
        if total > MAX_TOTAL {
            return bad(format!(
                "the archive expands to more than {} MiB (a zip bomb?)",
                MAX_TOTAL >> 20
            ));
        }
        let len = bytes.len() as u64;
        if len > 1024 * 1024 && len / compressed > MAX_RATIO {
            return bad(format!(
                "archive entry {name:?} expands {}-fold (a zip bomb?)",
                len / compressed
            ));
        }
        let lower = name.to_ascii_lowercase();
        let replaced: Option<Vec<u8>> = match (format, lower.as_str()) {
            (Format::Ooxml, "docprops/core.xml") => {
                found.extend(list_fields(&bytes, &core_field)?);
                Some(CORE_XML.as_bytes().to_vec())
            }
            (Format::Ooxml, "docprops/app.xml") => {
                found.extend(list_fields(&bytes, &app_field)?);
                Some(APP_XML.as_bytes().to_vec())
            }
            (Format::Ooxml, "docprops/custom.xml") => {
                // Custom properties hold whatever an organisation's
                // templates put there (names, departments, case numbers).
                if bytes.windows(9).any(|w| w == b"<property") {
                    found.push(Finding::new(Field::Text, None));
                }
                Some(CUSTOM_XML.as_bytes().to_vec())
            }
            (Format::Odf, "meta.xml") => {
                found.extend(list_fields(&bytes, &odf_field)?);
                Some(META_XML.as_bytes().to_vec())
            }
            (Format::Ooxml, n)
                if (n.ends_with(".xml") || n.ends_with(".rels")) && !n.starts_with("docprops/") =>
            {
                rewrite_authors(&bytes, &mut found)?
            }
            (Format::Odf, n) if n.ends_with(".xml") => rewrite_authors(&bytes, &mut found)?,
            _ => None,
        };
        out.start_file(name.as_str(), options)
            .map_err(|e| Malformed(e.to_string()))?;
        out.write_all(replaced.as_deref().unwrap_or(&bytes))
            .map_err(|e| Malformed(e.to_string()))?;
    }
    let bytes = out
        .finish()
        .map_err(|e| Malformed(e.to_string()))?
        .into_inner();
    Ok((bytes, found))
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn core_field(name: &[u8]) -> Option<Field> {
    Some(match local(name) {
        b"creator" | b"lastModifiedBy" => Field::Author,
        b"created" | b"modified" | b"lastPrinted" => Field::Date,
        b"title" | b"subject" | b"keywords" | b"description" | b"category" => Field::Text,
        _ => return None,
    })
}

fn app_field(name: &[u8]) -> Option<Field> {
    Some(match local(name) {
        b"Company" | b"Manager" => Field::Organisation,
        b"Template" => Field::Template,
        b"Application" | b"AppVersion" => Field::Software,
        _ => return None,
    })
}

fn odf_field(name: &[u8]) -> Option<Field> {
    Some(match local(name) {
        b"initial-creator" | b"creator" | b"printed-by" => Field::Author,
        b"creation-date" | b"date" | b"print-date" => Field::Date,
        b"generator" => Field::Software,
        b"template" => Field::Template,
        b"title" | b"subject" | b"keyword" | b"description" | b"user-defined" => Field::Text,
        _ => return None,
    })
}

fn reader(bytes: &[u8]) -> Reader<&[u8]> {
    let mut r = Reader::from_reader(bytes);
    r.config_mut().check_end_names = true;
    r
}

/// Lists the non-empty elements `field_of` knows, with author values.
fn list_fields(bytes: &[u8], field_of: &dyn Fn(&[u8]) -> Option<Field>) -> Result<Vec<Finding>> {
    let mut r = reader(bytes);
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Field> = None;
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return bad("an XML part is nested too deeply");
                }
                current = field_of(e.name().as_ref());
            }
            Ok(Event::Empty(e)) => {
                if depth + 1 > MAX_XML_DEPTH {
                    return bad("an XML part is nested too deeply");
                }
                if let Some(f) = field_of(e.name().as_ref()) {
                    if e.attributes().next().is_some() {
                        found.push(Finding::new(f, None));
                    }
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(f) = current.take() {
                    let text = String::from_utf8_lossy(t.as_ref()).into_owned();
                    if !text.trim().is_empty() {
                        let value =
                            matches!(f, Field::Author | Field::Organisation | Field::Software)
                                .then_some(text);
                        found.push(Finding::new(f, value));
                    }
                }
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                current = None;
            }
            Ok(Event::DocType(_)) => return bad("an XML part has a document type declaration"),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return bad(format!("an XML part is malformed: {e}")),
        }
    }
    Ok(found)
}

/// Attributes holding a person's name in document parts, and their kind.
fn author_attribute(element: &[u8], attribute: &[u8]) -> Option<(Field, &'static str)> {
    let el = local(element);
    match local(attribute) {
        b"author" if matches!(el, b"comment" | b"person") => {
            Some((Field::CommentAuthor, NEUTRAL_AUTHOR))
        }
        b"author" => Some((Field::RevisionAuthor, NEUTRAL_AUTHOR)),
        b"initials" => Some((Field::CommentAuthor, "A")),
        b"name" if el == b"cmAuthor" => Some((Field::CommentAuthor, NEUTRAL_AUTHOR)),
        // xlsx threaded comments: xl/persons/person.xml.
        b"displayName" | b"userId" if el == b"person" => {
            Some((Field::CommentAuthor, NEUTRAL_AUTHOR))
        }
        b"userId" | b"providerId" if el == b"presenceInfo" => {
            Some((Field::CommentAuthor, NEUTRAL_AUTHOR))
        }
        _ => None,
    }
}

/// Elements whose text is a person's name (xlsx comment authors, ODF
/// annotation and change authors).
fn author_element(element: &[u8]) -> Option<Field> {
    match element {
        b"author" => Some(Field::CommentAuthor),
        b"dc:creator" => Some(Field::RevisionAuthor),
        _ => None,
    }
}

/// Replaces comment and tracked-change authors by [`NEUTRAL_AUTHOR`];
/// `None` when the part names nobody (it is then copied as it is).
fn rewrite_authors(bytes: &[u8], found: &mut Vec<Finding>) -> Result<Option<Vec<u8>>> {
    // Most parts name nobody: skip them without a rewrite.
    let mentions = |pat: &[u8]| bytes.windows(pat.len()).any(|w| w == pat);
    if !mentions(b"author")
        && !mentions(b"initials")
        && !mentions(b"cmAuthor")
        && !mentions(b"dc:creator")
        && !mentions(b"presenceInfo")
        && !mentions(b"displayName")
        && !mentions(b"file:")
        && !mentions(b":\\")
        && !mentions(b"\\\\")
    {
        return Ok(None);
    }
    let mut r = reader(bytes);
    let mut w = Writer::new(Vec::with_capacity(bytes.len()));
    let mut depth = 0usize;
    let mut in_author: Option<Field> = None;
    let mut changed = false;
    loop {
        let event = r
            .read_event()
            .map_err(|e| Malformed(format!("an XML part is malformed: {e}")))?;
        let event = match event {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return bad("an XML part is nested too deeply");
                }
                in_author = author_element(e.name().as_ref());
                Event::Start(neutral_attributes(&e, found, &mut changed)?)
            }
            Event::Empty(e) => Event::Empty(neutral_attributes(&e, found, &mut changed)?),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                in_author = None;
                Event::End(e)
            }
            Event::Text(t) if in_author.is_some() => {
                if t.iter().any(|b| !b.is_ascii_whitespace())
                    && t.as_ref() != NEUTRAL_AUTHOR.as_bytes()
                {
                    found.push(Finding::new(
                        in_author.unwrap_or(Field::CommentAuthor),
                        None,
                    ));
                    changed = true;
                    Event::Text(quick_xml::events::BytesText::new(NEUTRAL_AUTHOR))
                } else {
                    Event::Text(t)
                }
            }
            Event::DocType(_) => return bad("an XML part has a document type declaration"),
            Event::Eof => break,
            other => other,
        };
        w.write_event(event)
            .map_err(|e| Malformed(format!("cannot rewrite an XML part: {e}")))?;
    }
    Ok(changed.then(|| w.into_inner()))
}

/// A path on a disk: `file:` (but not the neutral `file:///` itself), a
/// drive letter, a network share.
fn is_local_path(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with(b"file:") && lower != b"file:///")
        || (value.len() >= 3
            && value[0].is_ascii_alphabetic()
            && value[1] == b':'
            && matches!(value[2], b'\\' | b'/'))
        || value.starts_with(b"\\\\")
}

fn neutral_attributes<'a>(
    e: &BytesStart<'a>,
    found: &mut Vec<Finding>,
    changed: &mut bool,
) -> Result<BytesStart<'static>> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut out = BytesStart::new(name.clone());
    for a in e.attributes() {
        let a = a.map_err(|e| Malformed(format!("an XML attribute is malformed: {e}")))?;
        let key = a.key.as_ref();
        if let Some((field, neutral)) = author_attribute(name.as_bytes(), key) {
            if a.value.as_ref() != neutral.as_bytes() {
                found.push(Finding::new(field, None));
                *changed = true;
            }
            out.push_attribute((key, neutral.as_bytes()));
        } else if name == "Relationship" && key == b"Target" && is_local_path(&a.value) {
            // A template or a link on the author's disk: its path holds
            // their user name (C:\Users\budi\…).
            found.push(Finding::new(Field::Template, None));
            *changed = true;
            out.push_attribute((key, &b"file:///"[..]));
        } else if local(key) == b"date"
            && matches!(
                local(name.as_bytes()),
                b"ins" | b"del" | b"comment" | b"rPrChange" | b"pPrChange"
            )
        {
            found.push(Finding::new(Field::Date, None));
            *changed = true;
        } else {
            out.push_attribute((key, a.value.as_ref()));
        }
    }
    Ok(out)
}
