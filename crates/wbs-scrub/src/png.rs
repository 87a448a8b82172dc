//! PNG: text, EXIF and time chunks are removed; every other chunk is
//! copied as it is, so its CRC stays valid.

use crate::{bad, exif, Field, Finding, Malformed};

pub fn clean(data: &[u8]) -> Result<(Vec<u8>, Vec<Finding>), Malformed> {
    let mut out = Vec::with_capacity(data.len());
    let mut found = Vec::new();
    out.extend_from_slice(&data[..8]);
    let mut pos = 8;
    loop {
        let Some(head) = data.get(pos..pos + 8) else {
            return bad("the PNG file is truncated (no IEND chunk)");
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        if len > 0x7FFF_FFFF || pos + 12 + len > data.len() {
            return bad("a PNG chunk is longer than the file (truncated or lying length)");
        }
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return bad("a PNG chunk has an invalid type");
        }
        let body = &data[pos + 8..pos + 8 + len];
        let crc = &data[pos + 8 + len..pos + 12 + len];
        let mut h = crc32fast::Hasher::new();
        h.update(&kind);
        h.update(body);
        if h.finalize().to_be_bytes() != crc {
            return bad("a PNG chunk's checksum is wrong (damaged file)");
        }
        let whole = &data[pos..pos + 12 + len];
        pos += 12 + len;
        match &kind {
            b"tEXt" | b"zTXt" | b"iTXt" => {
                let keyword = body.split(|&b| b == 0).next().unwrap_or_default();
                let keyword = String::from_utf8_lossy(keyword).to_ascii_lowercase();
                let field = match keyword.as_str() {
                    "author" => Field::Author,
                    "software" => Field::Software,
                    "creation time" => Field::Date,
                    "copyright" => Field::Owner,
                    "xml:com.adobe.xmp" => Field::Xmp,
                    "raw profile type exif" | "raw profile type app1" => Field::Other,
                    "raw profile type iptc" => Field::Iptc,
                    _ => Field::Text,
                };
                let value = if &kind == b"tEXt" && matches!(field, Field::Author | Field::Software)
                {
                    body.splitn(2, |&b| b == 0)
                        .nth(1)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                } else {
                    None
                };
                found.push(Finding::new(field, value));
            }
            b"eXIf" => {
                let e = exif::read(body);
                if e.found.is_empty() {
                    found.push(Finding::new(Field::Other, None));
                }
                found.extend(e.found);
            }
            b"tIME" => found.push(Finding::new(Field::Date, None)),
            b"IEND" => {
                out.extend_from_slice(whole);
                if pos < data.len() {
                    found.push(Finding::new(Field::Trailer, None));
                }
                return Ok((out, found));
            }
            _ => out.extend_from_slice(whole),
        }
    }
}
