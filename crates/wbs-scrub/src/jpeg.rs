//! JPEG: segments are removed, never re-encoded.

use crate::{bad, exif, Field, Finding, Malformed};

type Result<T> = std::result::Result<T, Malformed>;

/// Kept: JFIF (APP0), ICC profiles (APP2 `ICC_PROFILE`: colour rendering;
/// a profile names the colour space's maker, not the device's owner) and
/// Adobe (APP14: the colour transform, needed to decode CMYK pictures),
/// and every non-APP segment (tables, frames, scans).
pub fn clean(data: &[u8]) -> Result<(Vec<u8>, Vec<Finding>)> {
    let mut out = Vec::with_capacity(data.len());
    let mut found = Vec::new();
    let mut orientation = None;
    out.extend_from_slice(&data[..2]);
    let mut pos = 2;
    let mut orientation_at = None;
    loop {
        // A marker: 0xFF, optional 0xFF fill, then the code.
        if data.get(pos) != Some(&0xFF) {
            return bad("a JPEG segment does not start where the previous one ends");
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&code) = data.get(pos) else {
            return bad("the JPEG file ends inside a marker");
        };
        pos += 1;
        match code {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                if data.len() > pos {
                    found.push(Finding::new(Field::Trailer, None));
                }
                break;
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, code]);
                continue;
            }
            0x00 | 0xD8 => return bad("a JPEG marker is out of place"),
            _ => {}
        }
        let len = match data.get(pos..pos + 2) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]) as usize,
            None => return bad("the JPEG file ends inside a segment header"),
        };
        if len < 2 || pos + len > data.len() {
            return bad("a JPEG segment is longer than the file (truncated or lying length)");
        }
        let body = &data[pos + 2..pos + len];
        let whole = &data[pos - 2..pos + len];
        pos += len;
        let keep = match code {
            0xE0 => {
                if body.starts_with(b"JFIF\0") {
                    true
                } else {
                    found.push(Finding::new(Field::Thumbnail, None));
                    false
                }
            }
            0xE1 => {
                if let Some(tiff) = body.strip_prefix(b"Exif\0\0") {
                    let e = exif::read(tiff);
                    // An EXIF block of nothing but the orientation is what
                    // this cleaner writes itself: nothing to report.
                    if !e.readable || (e.found.is_empty() && e.orientation.is_none()) {
                        found.push(Finding::new(Field::Other, None));
                    }
                    found.extend(e.found);
                    if e.orientation.is_some() && orientation.is_none() {
                        orientation = e.orientation;
                    }
                } else if body.starts_with(b"http://ns.adobe.com/") {
                    found.push(Finding::new(Field::Xmp, None));
                } else {
                    found.push(Finding::new(Field::Other, None));
                }
                if orientation_at.is_none() {
                    orientation_at = Some(out.len());
                }
                false
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => true,
            0xEE if body.starts_with(b"Adobe") => true,
            0xED => {
                found.push(Finding::new(Field::Iptc, None));
                false
            }
            0xE2..=0xEF => {
                found.push(Finding::new(Field::Other, None));
                false
            }
            0xFE => {
                found.push(Finding::new(Field::Text, None));
                false
            }
            _ => true,
        };
        if keep {
            out.extend_from_slice(whole);
        }
        if code == 0xDA {
            // Entropy-coded data: up to the next marker that is neither a
            // stuffed 0xFF00 nor a restart marker, copied as it is.
            let start = pos;
            loop {
                let Some(rel) = data[pos..].iter().position(|&b| b == 0xFF) else {
                    return bad("the JPEG picture data is truncated (no end marker)");
                };
                pos += rel;
                match data.get(pos + 1) {
                    None => return bad("the JPEG picture data is truncated"),
                    Some(0x00) | Some(0xD0..=0xD7) => pos += 2,
                    Some(0xFF) => pos += 1,
                    Some(_) => break,
                }
            }
            out.extend_from_slice(&data[start..pos]);
        }
    }
    if let Some(o) = orientation.filter(|&o| o != 1) {
        let at = orientation_at.unwrap_or(2);
        let seg = exif::orientation_segment(o);
        out.splice(at..at, seg);
    }
    Ok((out, found))
}
