//! WebP: the `EXIF` and `XMP ` chunks are removed, the VP8X flags that
//! announce them cleared and the RIFF size fixed.

use crate::{bad, exif, Field, Finding, Malformed};

const FLAG_EXIF: u8 = 0x08;
const FLAG_XMP: u8 = 0x04;

pub fn clean(data: &[u8]) -> Result<(Vec<u8>, Vec<Finding>), Malformed> {
    let riff = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    if riff < 4 || riff.saturating_add(8) > data.len() {
        return bad("the WebP file is shorter than its RIFF size says (truncated or lying length)");
    }
    let end = riff + 8;
    let mut found = Vec::new();
    if end < data.len() {
        found.push(Finding::new(Field::Trailer, None));
    }
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&data[..12]);
    let mut pos = 12;
    let mut vp8x_flags_at = None;
    while pos < end {
        let Some(head) = data.get(pos..pos + 8).filter(|_| pos + 8 <= end) else {
            return bad("a WebP chunk header is truncated");
        };
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let padded = len + (len & 1);
        if pos + 8 + len > end {
            return bad("a WebP chunk is longer than the file (truncated or lying length)");
        }
        let body = &data[pos + 8..pos + 8 + len];
        let stop = (pos + 8 + padded).min(end);
        let whole = &data[pos..stop];
        match &head[..4] {
            b"EXIF" => {
                let tiff = body.strip_prefix(b"Exif\0\0").unwrap_or(body);
                let e = exif::read(tiff);
                if e.found.is_empty() {
                    found.push(Finding::new(Field::Other, None));
                }
                found.extend(e.found);
            }
            b"XMP " => found.push(Finding::new(Field::Xmp, None)),
            kind => {
                if kind == b"VP8X" {
                    if len < 10 {
                        return bad("the WebP VP8X chunk is too short");
                    }
                    vp8x_flags_at = Some(out.len() + 8);
                }
                out.extend_from_slice(whole);
            }
        }
        pos = stop;
    }
    if let Some(at) = vp8x_flags_at {
        out[at] &= !(FLAG_EXIF | FLAG_XMP);
    }
    let size = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok((out, found))
}
