//! PDF: the document information dictionaries and the XMP metadata streams
//! are overwritten in place.
//!
//! An incremental update would not do (the old values stay in the file,
//! and any tool reads them), and a full rewrite needs a complete PDF
//! parser and writer (a large attack surface, and a changed document).
//! Instead every byte that is removed is replaced by a space: each
//! `/Info` dictionary becomes `<<   …   >>` (an empty dictionary), each
//! XMP stream keeps only its `/Length` and its content becomes spaces.
//! The file keeps its length, so every cross-reference offset stays valid
//! and the pages are untouched.
//!
//! What cannot be seen is not called clean: an `/Info` object that is not
//! in the file as plain text (it may be inside a compressed object
//! stream), an encrypted PDF, or an XMP packet still visible after
//! cleaning is refused. Compressed object streams are otherwise fine:
//! the trailers that point to `/Info` are never compressed, and an XMP
//! stream, being a stream, is never inside one (its dictionary, with its
//! required `/Type /Metadata`, is plain text even when a compressed
//! catalog hides the reference to it).

use crate::{bad, Field, Finding, Malformed};

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    is_ws(b) || b"()<>[]{}/%".contains(&b)
}

fn find_all<'a>(data: &'a [u8], pat: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let rel = data
            .get(from..)?
            .windows(pat.len())
            .position(|w| w == pat)?;
        let at = from + rel;
        from = at + 1;
        Some(at)
    })
}

fn skip_ws(data: &[u8], mut pos: usize) -> usize {
    while pos < data.len() && is_ws(data[pos]) {
        pos += 1;
    }
    pos
}

fn number(data: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut end = pos;
    while end < data.len() && data[end].is_ascii_digit() && end - pos < 10 {
        end += 1;
    }
    if end == pos {
        return None;
    }
    let n = std::str::from_utf8(&data[pos..end]).ok()?.parse().ok()?;
    Some((n, end))
}

/// `N G R` at `pos` (after white space): the object and generation.
fn reference(data: &[u8], pos: usize) -> Option<(u64, u64, usize)> {
    let (n, p) = number(data, skip_ws(data, pos))?;
    let (g, p) = number(data, skip_ws(data, p))?;
    let p = skip_ws(data, p);
    (data.get(p) == Some(&b'R')).then_some((n, g, p + 1))
}

/// The span of the dictionary starting with `<<` at `start`, end exclusive.
fn dict_span(data: &[u8], start: usize) -> Option<usize> {
    if data.get(start..start + 2)? != b"<<" {
        return None;
    }
    let mut depth = 0usize;
    let mut pos = start;
    while pos < data.len() {
        match data[pos] {
            b'<' if data.get(pos + 1) == Some(&b'<') => {
                depth += 1;
                if depth > 64 {
                    return None;
                }
                pos += 2;
            }
            b'>' if data.get(pos + 1) == Some(&b'>') => {
                depth -= 1;
                pos += 2;
                if depth == 0 {
                    return Some(pos);
                }
            }
            b'<' => {
                // A hex string: hex digits and white space only.
                let len = data[pos + 1..].iter().position(|&b| b == b'>')?;
                if !data[pos + 1..pos + 1 + len]
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || is_ws(b))
                {
                    return None;
                }
                pos += len + 2;
            }
            b'e' if data[pos..].starts_with(b"endobj") => return None,
            b'(' => {
                let mut nest = 0usize;
                loop {
                    // Not even a string runs past the end of its object.
                    if data.get(pos..)?.starts_with(b"endobj") {
                        return None;
                    }
                    match *data.get(pos)? {
                        b'\\' => pos += 1,
                        b'(' => nest += 1,
                        b')' => {
                            nest -= 1;
                            if nest == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    pos += 1;
                }
                pos += 1;
            }
            b'%' => {
                while pos < data.len() && data[pos] != b'\n' && data[pos] != b'\r' {
                    pos += 1;
                }
            }
            _ => pos += 1,
        }
    }
    None
}

/// Where the dictionaries of object `n g` start (every definition: an
/// incremental update may define it again).
fn object_dicts(data: &[u8], n: u64, g: u64) -> Vec<usize> {
    let head = format!("{n} {g} obj");
    find_all(data, head.as_bytes())
        .filter(|&at| at == 0 || is_delim(data[at - 1]))
        .filter_map(|at| {
            let p = skip_ws(data, at + head.len());
            (data.get(p..p + 2) == Some(b"<<")).then_some(p)
        })
        .collect()
}

fn literal_after(dict: &[u8], key: &[u8]) -> Option<String> {
    let at = find_all(dict, key).next()?;
    let p = skip_ws(dict, at + key.len());
    if dict.get(p) != Some(&b'(') {
        return None;
    }
    let end = dict[p..].iter().position(|&b| b == b')')?;
    let raw = &dict[p + 1..p + end];
    if raw.starts_with(&[0xFE, 0xFF]) {
        let units: Vec<u16> = raw[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return Some(String::from_utf16_lossy(&units));
    }
    Some(String::from_utf8_lossy(raw).into_owned())
}

pub fn clean(data: &[u8]) -> Result<(Vec<u8>, Vec<Finding>), Malformed> {
    if find_all(data, b"/Encrypt").next().is_some() {
        return bad("the PDF is encrypted: its metadata cannot be checked");
    }
    let mut out = data.to_vec();
    let mut found = Vec::new();

    // Stream contents blanked so far: a "dictionary" inside one is data,
    // not an object.
    let mut blanked: Vec<(usize, usize)> = Vec::new();

    // XMP streams: referenced by /Metadata, or typed /Metadata.
    let mut streams = Vec::new();
    for at in find_all(data, b"/Metadata") {
        if data.get(at + 9).is_some_and(|&b| !is_delim(b)) {
            continue;
        }
        if let Some((n, g, _)) = reference(data, at + 9) {
            // A stream is never inside a compressed object stream: one
            // not found is a dangling reference, which readers ignore.
            streams.extend(object_dicts(data, n, g));
        } else {
            // `/Type /Metadata`: the dictionary around it.
            let before = &data[at.saturating_sub(8)..at];
            if before.ends_with(b"/Type") || before.trim_ascii_end().ends_with(b"/Type") {
                let Some(obj) = data[..at].windows(3).rposition(|w| w == b"obj") else {
                    return bad("a PDF metadata stream is malformed");
                };
                let p = skip_ws(data, obj + 3);
                if data.get(p..p + 2) == Some(b"<<") {
                    streams.push(p);
                }
            }
        }
    }
    streams.sort_unstable();
    streams.dedup();
    for start in streams {
        if blanked.iter().any(|&(a, b)| (a..b).contains(&start)) {
            continue;
        }
        let Some(end) = dict_span(data, start) else {
            return bad("a PDF metadata dictionary is truncated or malformed");
        };
        let p = skip_ws(data, end);
        if data.get(p..p + 6) != Some(b"stream") {
            continue; // not a stream: nothing of ours
        }
        let mut body = p + 6;
        if data.get(body) == Some(&b'\r') {
            body += 1;
        }
        if data.get(body) == Some(&b'\n') {
            body += 1;
        }
        let Some(rel) = find_all(&data[body..], b"endstream").next() else {
            return bad("a PDF metadata stream is truncated");
        };
        let dict = &data[start..end];
        let length = match find_all(dict, b"/Length").next() {
            Some(at) => {
                let v = skip_ws(dict, at + 7);
                if let Some((_, _, e)) = reference(dict, at + 7) {
                    String::from_utf8_lossy(&dict[v..e]).into_owned()
                } else if let Some((n, _)) = number(dict, v) {
                    n.to_string()
                } else {
                    return bad("a PDF metadata stream has no valid length");
                }
            }
            None => return bad("a PDF metadata stream has no length"),
        };
        let replacement = format!("<</Length {length}>>");
        if replacement.len() > end - start {
            return bad("a PDF metadata dictionary is malformed");
        }
        out[start..end].fill(b' ');
        out[start..start + replacement.len() - 2]
            .copy_from_slice(&replacement.as_bytes()[..replacement.len() - 2]);
        out[end - 2..end].copy_from_slice(b">>");
        if data[body..body + rel].iter().any(|&b| !is_ws(b)) {
            found.push(Finding::new(Field::Xmp, None));
        }
        out[body..body + rel].fill(b' ');
        blanked.push((body, body + rel));
    }
    // The document information dictionaries (after the streams: what is
    // inside a blanked stream's data is data, not an object).
    let inside = |at: usize| blanked.iter().any(|&(a, b)| (a..b).contains(&at));
    let mut infos = Vec::new();
    for at in find_all(data, b"/Info") {
        if data.get(at + 5).is_some_and(|&b| !is_delim(b)) || inside(at) {
            continue;
        }
        let p = skip_ws(data, at + 5);
        if data.get(p..p + 2) == Some(b"<<") {
            infos.push(p);
        } else if let Some((n, g, _)) = reference(data, at + 5) {
            let dicts: Vec<usize> = object_dicts(data, n, g)
                .into_iter()
                .filter(|&d| !inside(d))
                .collect();
            if dicts.is_empty() {
                return bad(
                    "the PDF's document information is not stored as plain text \
                     (perhaps in a compressed object stream): it cannot be checked",
                );
            }
            infos.extend(dicts);
        } else {
            return bad("the PDF's /Info entry is malformed");
        }
    }
    infos.sort_unstable();
    infos.dedup();
    for start in infos {
        let Some(end) = dict_span(data, start) else {
            return bad("a PDF information dictionary is truncated or malformed");
        };
        let after = skip_ws(data, end);
        if data.get(after..after + 6) == Some(b"stream") {
            return bad("a PDF information dictionary is a stream (malformed)");
        }
        let dict = &data[start..end];
        let before = found.len();
        for (key, field) in [
            (&b"/Author"[..], Field::Author),
            (b"/Creator", Field::Software),
            (b"/Producer", Field::Software),
            (b"/CreationDate", Field::Date),
            (b"/ModDate", Field::Date),
            (b"/Title", Field::Text),
            (b"/Subject", Field::Text),
            (b"/Keywords", Field::Text),
            (b"/Company", Field::Organisation),
        ] {
            if find_all(dict, key).next().is_some() {
                let value = matches!(field, Field::Author | Field::Software)
                    .then(|| literal_after(dict, key))
                    .flatten();
                found.push(Finding::new(field, value));
            }
        }
        if found.len() == before && dict[2..dict.len() - 2].iter().any(|&b| !is_ws(b)) {
            found.push(Finding::new(Field::Other, None));
        }
        out[start + 2..end - 2].fill(b' ');
    }

    if find_all(&out[..out.len().min(1024)], b"%PDF-")
        .next()
        .is_none()
    {
        return bad("the PDF header is inside a dictionary or a stream (malformed)");
    }
    for leftover in [&b"<x:xmpmeta"[..], b"<?xpacket begin"] {
        if find_all(&out, leftover).next().is_some() {
            return bad(
                "the PDF holds XMP metadata outside a metadata stream: it cannot be cleaned",
            );
        }
    }
    Ok((out, found))
}
