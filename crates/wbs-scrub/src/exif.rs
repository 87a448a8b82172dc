//! Reads an EXIF (TIFF) block for what it reveals; it is never written
//! back, only the orientation (see [`orientation_segment`]).

use crate::{Field, Finding};

/// What an EXIF block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExifFindings {
    /// What was found.
    pub found: Vec<Finding>,
    /// The Orientation tag (1..=8), if present and valid.
    pub orientation: Option<u16>,
    /// Whether the block could be read to its end.
    pub readable: bool,
}

/// At most this many IFDs and entries are read: a loop or a huge count in
/// hostile data stops here.
const MAX_IFDS: usize = 8;
const MAX_ENTRIES: usize = 1024;

struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.data.get(at..at.checked_add(2)?)?;
        Some(if self.big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.data.get(at..at.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    /// An ASCII value of entry at `entry`.
    fn ascii(&self, entry: usize) -> Option<String> {
        let kind = self.u16(entry + 2)?;
        let count = self.u32(entry + 4)? as usize;
        if kind != 2 && kind != 7 {
            return None;
        }
        let bytes = if count <= 4 {
            self.data.get(entry + 8..entry + 8 + count)?
        } else {
            let off = self.u32(entry + 8)? as usize;
            self.data.get(off..off.checked_add(count)?)?
        };
        let s: String = String::from_utf8_lossy(bytes)
            .trim_end_matches('\0')
            .to_string();
        Some(s)
    }
}

/// Reads the TIFF structure in `tiff` (what follows `Exif\0\0`).
pub fn read(tiff: &[u8]) -> ExifFindings {
    let mut out = ExifFindings::default();
    let big_endian = match tiff.get(..4) {
        Some(b"MM\0*") => true,
        Some(b"II*\0") => false,
        _ => return out,
    };
    let t = Tiff {
        data: tiff,
        big_endian,
    };
    let Some(ifd0) = t.u32(4) else { return out };
    let mut queue: Vec<(usize, u8)> = vec![(ifd0 as usize, 0)];
    let mut seen = Vec::new();
    let mut make = None;
    let mut model = None;
    let mut readable = true;
    while let Some((off, which)) = queue.pop() {
        if seen.contains(&off) || seen.len() >= MAX_IFDS {
            readable = false;
            continue;
        }
        seen.push(off);
        let Some(count) = t.u16(off) else {
            readable = false;
            continue;
        };
        let count = count as usize;
        if count > MAX_ENTRIES || off + 2 + count * 12 + 4 > tiff.len() {
            readable = false;
            continue;
        }
        for i in 0..count {
            let e = off + 2 + i * 12;
            let tag = t.u16(e).unwrap_or(0);
            let ascii = || t.ascii(e);
            let push = |out: &mut ExifFindings, f: Field, v: Option<String>| {
                out.found.push(Finding::new(f, v))
            };
            match (which, tag) {
                // 0: IFD0 (and IFD1), 1: Exif IFD, 2: GPS IFD.
                (0, 0x010F) => make = ascii(),
                (0, 0x0110) => model = ascii(),
                (0, 0x0131) => push(&mut out, Field::Software, ascii()),
                (0, 0x0132) | (1, 0x9003) | (1, 0x9004) => push(&mut out, Field::Date, ascii()),
                (0, 0x013B) | (0, 0x8298) | (1, 0xA430) => push(&mut out, Field::Owner, ascii()),
                (0, 0x010E) | (0, 0x9C9B) | (0, 0x9C9C) | (1, 0x9286) => {
                    push(&mut out, Field::Text, None)
                }
                (1, 0xA431) | (1, 0xA435) | (1, 0xA420) => push(&mut out, Field::Serial, ascii()),
                (1, 0x927C) => push(&mut out, Field::MakerNotes, None),
                (0, 0x0112) => {
                    let v = t.u16(e + 8).unwrap_or(0);
                    if (1..=8).contains(&v) {
                        out.orientation = Some(v);
                    }
                }
                (0, 0x8769) => queue.push((t.u32(e + 8).unwrap_or(0) as usize, 1)),
                (0, 0x8825) => {
                    push(&mut out, Field::Gps, None);
                    queue.push((t.u32(e + 8).unwrap_or(0) as usize, 2));
                }
                _ => {}
            }
        }
        if which == 0 && seen.len() == 1 {
            let next = t.u32(off + 2 + count * 12).unwrap_or(0);
            if next != 0 {
                out.found.push(Finding::new(Field::Thumbnail, None));
            }
        }
        if which == 2 && count > 0 {
            // The position itself, for the reporter's own eyes.
            if let Some(pos) = gps_position(&t, off, count) {
                if let Some(f) = out.found.iter_mut().find(|f| f.field == Field::Gps) {
                    f.value = Some(pos);
                }
            }
        }
    }
    let camera = [make, model]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !camera.is_empty() {
        out.found.push(Finding::new(Field::Camera, Some(camera)));
    }
    out.readable = readable;
    out
}

fn gps_position(t: &Tiff<'_>, off: usize, count: usize) -> Option<String> {
    let mut lat = None;
    let mut lon = None;
    let mut lat_ref = 'N';
    let mut lon_ref = 'E';
    for i in 0..count {
        let e = off + 2 + i * 12;
        let tag = t.u16(e)?;
        match tag {
            1 => lat_ref = *t.data.get(e + 8)? as char,
            3 => lon_ref = *t.data.get(e + 8)? as char,
            2 | 4 => {
                let at = t.u32(e + 8)? as usize;
                let mut v = 0f64;
                for (k, div) in [1f64, 60f64, 3600f64].iter().enumerate() {
                    let n = f64::from(t.u32(at + k * 8)?);
                    let d = f64::from(t.u32(at + k * 8 + 4)?);
                    if d != 0.0 {
                        v += n / d / div;
                    }
                }
                if tag == 2 {
                    lat = Some(v)
                } else {
                    lon = Some(v)
                }
            }
            _ => {}
        }
    }
    Some(format!(
        "{:.5}{} {:.5}{}",
        lat?,
        lat_ref.to_ascii_uppercase(),
        lon?,
        lon_ref.to_ascii_uppercase()
    ))
}

/// A JPEG APP1 segment (marker included) holding only `Orientation`.
pub fn orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0*\0\0\0\x08");
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}
