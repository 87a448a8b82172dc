// Finds and removes what in a reporter's attachment can identify them, on
// the device, before encryption (issue 13; docs/PROTOCOL.md §4.1
// `metadata`). A port of crates/wbs-scrub: the same formats, the same rules
// and the same finding names (the shared corpus in
// crates/wbs-scrub/tests/shared-corpus/ holds both to it).
//
// Pure: bytes in, bytes out; no network. Every parser is bounded by the
// input's length and the limits below, and a file that cannot be read safely
// (truncated, lying lengths, hostile) is never called clean: it is
// "refused".

export const MAX_INPUT = 512 * 1024 * 1024;
export const MAX_ENTRIES = 10000;
export const MAX_TOTAL = 256 * 1024 * 1024;
export const MAX_RATIO = 200;
export const MAX_XML_DEPTH = 256;
export const NEUTRAL_AUTHOR = "Anonim";
const MAX_PASSES = 4;
const MAX_IFDS = 8;
const MAX_EXIF_ENTRIES = 1024;

/** The field codes, in the order the Rust `Field` enum sorts them. */
export const FIELDS = [
  "gps", "camera", "serial", "date", "owner", "author", "software", "maker-notes", "thumbnail",
  "xmp", "iptc", "text", "organisation", "template", "comment-author", "revision-author", "trailer", "other",
];

export const FORMAT_NAMES = { jpeg: "JPEG", png: "PNG", webp: "WebP", pdf: "PDF", ooxml: "Office Open XML", odf: "OpenDocument" };

class Malformed extends Error {}
const bad = (why) => {
  throw new Malformed(why);
};

const utf8 = (b) => new TextDecoder("utf-8").decode(b);
const ascii = (s) => new TextEncoder().encode(s);

function finding(field, value) {
  let v = null;
  if (value != null) {
    v = Array.from(String(value))
      .filter((c) => !/[\u0000-\u001f\u007f-\u009f]/.test(c))
      .slice(0, 120)
      .join("")
      .trim();
    if (!v) v = null;
  }
  return { field, value: v };
}

/** The distinct codes, sorted as the Rust implementation sorts them. */
export function removedCodes(found) {
  const set = new Set(found.map((f) => f.field));
  return FIELDS.filter((f) => set.has(f));
}

function startsWith(data, pat, at = 0) {
  if (typeof pat === "string") pat = ascii(pat);
  if (at < 0 || at + pat.length > data.length) return false;
  for (let i = 0; i < pat.length; i++) if (data[at + i] !== pat[i]) return false;
  return true;
}

function indexOf(data, pat, from = 0, end = data.length) {
  if (typeof pat === "string") pat = ascii(pat);
  const first = pat[0];
  for (let i = data.indexOf(first, from); i !== -1 && i + pat.length <= end; i = data.indexOf(first, i + 1)) {
    if (startsWith(data, pat, i)) return i;
  }
  return -1;
}

function* findAll(data, pat, end = data.length) {
  if (typeof pat === "string") pat = ascii(pat);
  let from = 0;
  for (;;) {
    const at = indexOf(data, pat, from, end);
    if (at < 0) return;
    yield at;
    from = at + 1;
  }
}

function concat(parts) {
  const len = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let crcTable = null;
export function crc32(data, crc = 0) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  crc = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ---------------------------------------------------------------- EXIF

export function readExif(tiff) {
  const out = { found: [], orientation: null, readable: false };
  let be;
  if (startsWith(tiff, [0x4d, 0x4d, 0, 0x2a])) be = true;
  else if (startsWith(tiff, [0x49, 0x49, 0x2a, 0])) be = false;
  else return out;
  const u16 = (at) => (at < 0 || at + 2 > tiff.length ? null : be ? (tiff[at] << 8) | tiff[at + 1] : tiff[at] | (tiff[at + 1] << 8));
  const u32 = (at) => {
    if (at < 0 || at + 4 > tiff.length) return null;
    const b = tiff.subarray(at, at + 4);
    return be ? ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0 : ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
  };
  const asciiAt = (entry) => {
    const kind = u16(entry + 2);
    const count = u32(entry + 4);
    if (kind == null || count == null || (kind !== 2 && kind !== 7)) return null;
    let bytes;
    if (count <= 4) {
      if (entry + 8 + count > tiff.length) return null;
      bytes = tiff.subarray(entry + 8, entry + 8 + count);
    } else {
      const off = u32(entry + 8);
      if (off == null || off + count > tiff.length) return null;
      bytes = tiff.subarray(off, off + count);
    }
    return utf8(bytes).replace(/\0+$/, "");
  };
  const ifd0 = u32(4);
  if (ifd0 == null) return out;
  const queue = [[ifd0, 0]];
  const seen = [];
  let make = null;
  let model = null;
  let readable = true;
  const push = (f, v) => out.found.push(finding(f, v));
  while (queue.length) {
    const [off, which] = queue.pop();
    if (seen.includes(off) || seen.length >= MAX_IFDS) {
      readable = false;
      continue;
    }
    seen.push(off);
    const count = u16(off);
    if (count == null) {
      readable = false;
      continue;
    }
    if (count > MAX_EXIF_ENTRIES || off + 2 + count * 12 + 4 > tiff.length) {
      readable = false;
      continue;
    }
    for (let i = 0; i < count; i++) {
      const e = off + 2 + i * 12;
      const tag = u16(e) ?? 0;
      const key = `${which}:${tag}`;
      if (which === 0 && tag === 0x010f) make = asciiAt(e);
      else if (which === 0 && tag === 0x0110) model = asciiAt(e);
      else if (which === 0 && tag === 0x0131) push("software", asciiAt(e));
      else if (["0:306", "1:36867", "1:36868"].includes(key)) push("date", asciiAt(e));
      else if (["0:315", "0:33432", "1:42032"].includes(key)) push("owner", asciiAt(e));
      else if (["0:270", "0:40091", "0:40092", "1:37510"].includes(key)) push("text", null);
      else if (["1:42033", "1:42037", "1:42016"].includes(key)) push("serial", asciiAt(e));
      else if (which === 1 && tag === 0x927c) push("maker-notes", null);
      else if (which === 0 && tag === 0x0112) {
        const v = u16(e + 8) ?? 0;
        if (v >= 1 && v <= 8) out.orientation = v;
      } else if (which === 0 && tag === 0x8769) queue.push([u32(e + 8) ?? 0, 1]);
      else if (which === 0 && tag === 0x8825) {
        push("gps", null);
        queue.push([u32(e + 8) ?? 0, 2]);
      }
    }
    if (which === 0 && seen.length === 1) {
      const next = u32(off + 2 + count * 12) ?? 0;
      if (next !== 0) out.found.push(finding("thumbnail", null));
    }
    if (which === 2 && count > 0) {
      const pos = gpsPosition(tiff, u16, u32, off, count);
      if (pos) {
        const f = out.found.find((x) => x.field === "gps");
        if (f) f.value = pos;
      }
    }
  }
  const camera = [make, model]
    .filter((s) => s != null)
    .map((s) => s.trim())
    .filter((s) => s)
    .join(" ");
  if (camera) out.found.push(finding("camera", camera));
  out.readable = readable;
  return out;
}

function gpsPosition(tiff, u16, u32, off, count) {
  let lat = null;
  let lon = null;
  let latRef = "N";
  let lonRef = "E";
  for (let i = 0; i < count; i++) {
    const e = off + 2 + i * 12;
    const tag = u16(e);
    if (tag == null) return null;
    if (tag === 1 || tag === 3) {
      if (e + 8 >= tiff.length) return null;
      const c = String.fromCharCode(tiff[e + 8]);
      if (tag === 1) latRef = c;
      else lonRef = c;
    } else if (tag === 2 || tag === 4) {
      const at = u32(e + 8);
      if (at == null) return null;
      let v = 0;
      for (const [k, div] of [1, 60, 3600].entries()) {
        const n = u32(at + k * 8);
        const d = u32(at + k * 8 + 4);
        if (n == null || d == null) return null;
        if (d !== 0) v += n / d / div;
      }
      if (tag === 2) lat = v;
      else lon = v;
    }
  }
  if (lat == null || lon == null) return null;
  return `${lat.toFixed(5)}${latRef.toUpperCase()} ${lon.toFixed(5)}${lonRef.toUpperCase()}`;
}

function orientationSegment(o) {
  const tiff = [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, o >> 8, o & 0xff, 0, 0, 0, 0, 0, 0];
  const len = 2 + 6 + tiff.length;
  return Uint8Array.from([0xff, 0xe1, len >> 8, len & 0xff, ...ascii("Exif\0\0"), ...tiff]);
}

// ---------------------------------------------------------------- JPEG

function cleanJpeg(data) {
  const out = [data.subarray(0, 2)];
  let outLen = 2;
  const emit = (b) => {
    out.push(b);
    outLen += b.length;
  };
  const found = [];
  let orientation = null;
  let orientationAt = null; // index into `out`
  let pos = 2;
  for (;;) {
    if (data[pos] !== 0xff) bad("a JPEG segment does not start where the previous one ends");
    while (data[pos] === 0xff) pos++;
    if (pos >= data.length) bad("the JPEG file ends inside a marker");
    const code = data[pos];
    pos++;
    if (code === 0xd9) {
      emit(Uint8Array.of(0xff, 0xd9));
      if (data.length > pos) found.push(finding("trailer", null));
      break;
    }
    if (code === 0x01 || (code >= 0xd0 && code <= 0xd7)) {
      emit(Uint8Array.of(0xff, code));
      continue;
    }
    if (code === 0x00 || code === 0xd8) bad("a JPEG marker is out of place");
    if (pos + 2 > data.length) bad("the JPEG file ends inside a segment header");
    const len = (data[pos] << 8) | data[pos + 1];
    if (len < 2 || pos + len > data.length) bad("a JPEG segment is longer than the file (truncated or lying length)");
    const body = data.subarray(pos + 2, pos + len);
    const whole = data.subarray(pos - 2, pos + len);
    pos += len;
    let keep = true;
    if (code === 0xe0) {
      keep = startsWith(body, "JFIF\0");
      if (!keep) found.push(finding("thumbnail", null));
    } else if (code === 0xe1) {
      if (startsWith(body, "Exif\0\0")) {
        const e = readExif(body.subarray(6));
        if (!e.readable || (e.found.length === 0 && e.orientation == null)) found.push(finding("other", null));
        found.push(...e.found);
        if (e.orientation != null && orientation == null) orientation = e.orientation;
      } else if (startsWith(body, "http://ns.adobe.com/")) {
        found.push(finding("xmp", null));
      } else {
        found.push(finding("other", null));
      }
      if (orientationAt == null) orientationAt = out.length;
      keep = false;
    } else if (code === 0xe2 && startsWith(body, "ICC_PROFILE\0")) keep = true;
    else if (code === 0xee && startsWith(body, "Adobe")) keep = true;
    else if (code === 0xed) {
      found.push(finding("iptc", null));
      keep = false;
    } else if (code >= 0xe2 && code <= 0xef) {
      found.push(finding("other", null));
      keep = false;
    } else if (code === 0xfe) {
      found.push(finding("text", null));
      keep = false;
    }
    if (keep) emit(whole);
    if (code === 0xda) {
      const start = pos;
      for (;;) {
        const at = data.indexOf(0xff, pos);
        if (at < 0) bad("the JPEG picture data is truncated (no end marker)");
        pos = at;
        if (pos + 1 >= data.length) bad("the JPEG picture data is truncated");
        const next = data[pos + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) pos += 2;
        else if (next === 0xff) pos += 1;
        else break;
      }
      emit(data.subarray(start, pos));
    }
  }
  void outLen;
  if (orientation != null && orientation !== 1) {
    out.splice(orientationAt ?? 1, 0, orientationSegment(orientation));
  }
  return [concat(out), found];
}

// ---------------------------------------------------------------- PNG

function cleanPng(data) {
  const out = [data.subarray(0, 8)];
  const found = [];
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 8;
  for (;;) {
    if (pos + 8 > data.length) bad("the PNG file is truncated (no IEND chunk)");
    const len = dv.getUint32(pos);
    const kindBytes = data.subarray(pos + 4, pos + 8);
    const kind = String.fromCharCode(...kindBytes);
    if (len > 0x7fffffff || pos + 12 + len > data.length) bad("a PNG chunk is longer than the file (truncated or lying length)");
    if (!/^[A-Za-z]{4}$/.test(kind)) bad("a PNG chunk has an invalid type");
    const body = data.subarray(pos + 8, pos + 8 + len);
    const crc = dv.getUint32(pos + 8 + len);
    if (crc32(body, crc32(kindBytes)) !== crc) bad("a PNG chunk's checksum is wrong (damaged file)");
    const whole = data.subarray(pos, pos + 12 + len);
    pos += 12 + len;
    if (kind === "tEXt" || kind === "zTXt" || kind === "iTXt") {
      const nul = body.indexOf(0);
      const keyword = utf8(nul < 0 ? body : body.subarray(0, nul)).replace(/[A-Z]/g, (c) => c.toLowerCase());
      const field =
        {
          author: "author",
          software: "software",
          "creation time": "date",
          copyright: "owner",
          "xml:com.adobe.xmp": "xmp",
          "raw profile type exif": "other",
          "raw profile type app1": "other",
          "raw profile type iptc": "iptc",
        }[keyword] || "text";
      let value = null;
      if (kind === "tEXt" && (field === "author" || field === "software") && nul >= 0) value = utf8(body.subarray(nul + 1));
      found.push(finding(field, value));
    } else if (kind === "eXIf") {
      const e = readExif(body);
      if (e.found.length === 0) found.push(finding("other", null));
      found.push(...e.found);
    } else if (kind === "tIME") {
      found.push(finding("date", null));
    } else if (kind === "IEND") {
      out.push(whole);
      if (pos < data.length) found.push(finding("trailer", null));
      return [concat(out), found];
    } else {
      out.push(whole);
    }
  }
}

// ---------------------------------------------------------------- WebP

function cleanWebp(data) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const riff = dv.getUint32(4, true);
  if (riff < 4 || riff + 8 > data.length) bad("the WebP file is shorter than its RIFF size says (truncated or lying length)");
  const end = riff + 8;
  const found = [];
  if (end < data.length) found.push(finding("trailer", null));
  const out = [data.slice(0, 12)];
  let outLen = 12;
  let pos = 12;
  let vp8x = null;
  while (pos < end) {
    if (pos + 8 > end) bad("a WebP chunk header is truncated");
    const kind = String.fromCharCode(...data.subarray(pos, pos + 4));
    const len = dv.getUint32(pos + 4, true);
    const padded = len + (len & 1);
    if (pos + 8 + len > end) bad("a WebP chunk is longer than the file (truncated or lying length)");
    const body = data.subarray(pos + 8, pos + 8 + len);
    const stop = Math.min(pos + 8 + padded, end);
    const whole = data.slice(pos, stop);
    if (kind === "EXIF") {
      const e = readExif(startsWith(body, "Exif\0\0") ? body.subarray(6) : body);
      if (e.found.length === 0) found.push(finding("other", null));
      found.push(...e.found);
    } else if (kind === "XMP ") {
      found.push(finding("xmp", null));
    } else {
      if (kind === "VP8X") {
        if (len < 10) bad("the WebP VP8X chunk is too short");
        vp8x = whole;
      }
      out.push(whole);
      outLen += whole.length;
    }
    pos = stop;
  }
  if (vp8x) vp8x[8] &= ~(0x08 | 0x04);
  const bytes = concat(out);
  new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
  void outLen;
  return [bytes, found];
}

// ---------------------------------------------------------------- PDF

const isWs = (b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x0c || b === 0x00;
const DELIMS = ascii("()<>[]{}/%");
const isDelim = (b) => isWs(b) || DELIMS.includes(b);
const isDigit = (b) => b >= 0x30 && b <= 0x39;
const isHex = (b) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

function skipWs(data, pos) {
  while (pos < data.length && isWs(data[pos])) pos++;
  return pos;
}

function pdfNumber(data, pos) {
  let end = pos;
  while (end < data.length && isDigit(data[end]) && end - pos < 10) end++;
  if (end === pos) return null;
  return [Number(utf8(data.subarray(pos, end))), end];
}

function pdfReference(data, pos) {
  const a = pdfNumber(data, skipWs(data, pos));
  if (!a) return null;
  const b = pdfNumber(data, skipWs(data, a[1]));
  if (!b) return null;
  const p = skipWs(data, b[1]);
  return data[p] === 0x52 ? [a[0], b[0], p + 1] : null;
}

function dictSpan(data, start) {
  if (!startsWith(data, "<<", start)) return null;
  let depth = 0;
  let pos = start;
  while (pos < data.length) {
    const c = data[pos];
    if (c === 0x3c && data[pos + 1] === 0x3c) {
      depth++;
      if (depth > 64) return null;
      pos += 2;
    } else if (c === 0x3e && data[pos + 1] === 0x3e) {
      depth--;
      pos += 2;
      if (depth === 0) return pos;
    } else if (c === 0x3c) {
      const close = data.indexOf(0x3e, pos + 1);
      if (close < 0) return null;
      for (let i = pos + 1; i < close; i++) if (!isHex(data[i]) && !isWs(data[i])) return null;
      pos = close + 1;
    } else if (c === 0x65 && startsWith(data, "endobj", pos)) {
      return null;
    } else if (c === 0x28) {
      let nest = 0;
      for (;;) {
        if (pos > data.length) return null;
        if (startsWith(data, "endobj", pos)) return null;
        if (pos >= data.length) return null;
        const b = data[pos];
        if (b === 0x5c) pos++;
        else if (b === 0x28) nest++;
        else if (b === 0x29) {
          nest--;
          if (nest === 0) break;
        }
        pos++;
      }
      pos++;
    } else if (c === 0x25) {
      while (pos < data.length && data[pos] !== 0x0a && data[pos] !== 0x0d) pos++;
    } else pos++;
  }
  return null;
}

function objectDicts(data, n, g) {
  const head = ascii(`${n} ${g} obj`);
  const out = [];
  for (const at of findAll(data, head)) {
    if (at !== 0 && !isDelim(data[at - 1])) continue;
    const p = skipWs(data, at + head.length);
    if (startsWith(data, "<<", p)) out.push(p);
  }
  return out;
}

function literalAfter(dict, key) {
  const at = indexOf(dict, key);
  if (at < 0) return null;
  const p = skipWs(dict, at + key.length);
  if (dict[p] !== 0x28) return null;
  const end = dict.indexOf(0x29, p);
  if (end < 0) return null;
  const raw = dict.subarray(p + 1, end);
  if (raw[0] === 0xfe && raw[1] === 0xff) return new TextDecoder("utf-16be").decode(raw.subarray(2, 2 + ((raw.length - 2) & ~1)));
  return utf8(raw);
}

function trimEnd(b) {
  let e = b.length;
  while (e > 0 && (b[e - 1] === 0x20 || b[e - 1] === 0x09 || b[e - 1] === 0x0a || b[e - 1] === 0x0c || b[e - 1] === 0x0d)) e--;
  return b.subarray(0, e);
}

function endsWith(b, s) {
  return startsWith(b, s, b.length - s.length);
}

function lastIndexOf(data, pat, end) {
  const p = ascii(pat);
  for (let i = end - p.length; i >= 0; i--) if (startsWith(data, p, i)) return i;
  return -1;
}

function cleanPdf(data) {
  if (indexOf(data, "/Encrypt") >= 0) bad("the PDF is encrypted: its metadata cannot be checked");
  const out = data.slice();
  const found = [];
  const blanked = [];
  const streams = [];
  for (const at of findAll(data, "/Metadata")) {
    if (at + 9 < data.length && !isDelim(data[at + 9])) continue;
    const r = pdfReference(data, at + 9);
    if (r) {
      streams.push(...objectDicts(data, r[0], r[1]));
    } else {
      const before = data.subarray(Math.max(0, at - 8), at);
      if (endsWith(before, "/Type") || endsWith(trimEnd(before), "/Type")) {
        const obj = lastIndexOf(data, "obj", at);
        if (obj < 0) bad("a PDF metadata stream is malformed");
        const p = skipWs(data, obj + 3);
        if (startsWith(data, "<<", p)) streams.push(p);
      }
    }
  }
  const sortedUnique = (a) => [...new Set(a)].sort((x, y) => x - y);
  const inside = (at) => blanked.some(([a, b]) => at >= a && at < b);
  for (const start of sortedUnique(streams)) {
    if (inside(start)) continue;
    const end = dictSpan(data, start);
    if (end == null) bad("a PDF metadata dictionary is truncated or malformed");
    const p = skipWs(data, end);
    if (!startsWith(data, "stream", p)) continue;
    let body = p + 6;
    if (data[body] === 0x0d) body++;
    if (data[body] === 0x0a) body++;
    const endAt = indexOf(data, "endstream", Math.min(body, data.length));
    if (endAt < 0) bad("a PDF metadata stream is truncated");
    const dict = data.subarray(start, end);
    const la = indexOf(dict, "/Length");
    if (la < 0) bad("a PDF metadata stream has no length");
    let length;
    const v = skipWs(dict, la + 7);
    const r = pdfReference(dict, la + 7);
    if (r) length = utf8(dict.subarray(v, r[2]));
    else {
      const n = pdfNumber(dict, v);
      if (!n) bad("a PDF metadata stream has no valid length");
      length = String(n[0]);
    }
    const replacement = ascii(`<</Length ${length}>>`);
    if (replacement.length > end - start) bad("a PDF metadata dictionary is malformed");
    out.fill(0x20, start, end);
    out.set(replacement.subarray(0, replacement.length - 2), start);
    out.set(ascii(">>"), end - 2);
    let any = false;
    for (let i = body; i < endAt; i++) if (!isWs(data[i])) any = true;
    if (any) found.push(finding("xmp", null));
    out.fill(0x20, body, endAt);
    blanked.push([body, endAt]);
  }
  const infos = [];
  for (const at of findAll(data, "/Info")) {
    if ((at + 5 < data.length && !isDelim(data[at + 5])) || inside(at)) continue;
    const p = skipWs(data, at + 5);
    if (startsWith(data, "<<", p)) infos.push(p);
    else {
      const r = pdfReference(data, at + 5);
      if (!r) bad("the PDF's /Info entry is malformed");
      const dicts = objectDicts(data, r[0], r[1]).filter((d) => !inside(d));
      if (dicts.length === 0) bad("the PDF's document information is not stored as plain text (perhaps in a compressed object stream): it cannot be checked");
      infos.push(...dicts);
    }
  }
  for (const start of sortedUnique(infos)) {
    const end = dictSpan(data, start);
    if (end == null) bad("a PDF information dictionary is truncated or malformed");
    const after = skipWs(data, end);
    if (startsWith(data, "stream", after)) bad("a PDF information dictionary is a stream (malformed)");
    const dict = data.subarray(start, end);
    const before = found.length;
    for (const [key, field] of [
      ["/Author", "author"],
      ["/Creator", "software"],
      ["/Producer", "software"],
      ["/CreationDate", "date"],
      ["/ModDate", "date"],
      ["/Title", "text"],
      ["/Subject", "text"],
      ["/Keywords", "text"],
      ["/Company", "organisation"],
    ]) {
      if (indexOf(dict, key) >= 0) {
        const value = field === "author" || field === "software" ? literalAfter(dict, ascii(key)) : null;
        found.push(finding(field, value));
      }
    }
    if (found.length === before) {
      let any = false;
      for (let i = 2; i < dict.length - 2; i++) if (!isWs(dict[i])) any = true;
      if (any) found.push(finding("other", null));
    }
    out.fill(0x20, start + 2, end - 2);
  }
  if (indexOf(out, "%PDF-", 0, Math.min(out.length, 1024)) < 0) bad("the PDF header is inside a dictionary or a stream (malformed)");
  for (const leftover of ["<x:xmpmeta", "<?xpacket begin"]) {
    if (indexOf(out, leftover) >= 0) bad("the PDF holds XMP metadata outside a metadata stream: it cannot be cleaned");
  }
  return [out, found];
}

// ---------------------------------------------------------------- zip

/** Reads the central directory; throws Malformed when it cannot. */
export function readZip(data) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad("the archive cannot be read: no end of central directory");
  const count = dv.getUint16(eocd + 10, true);
  const cdSize = dv.getUint32(eocd + 12, true);
  const cdOff = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOff === 0xffffffff) bad("the archive cannot be read: ZIP64 is not supported");
  if (cdOff + cdSize > eocd) bad("the archive cannot be read: its directory is out of bounds");
  if (count > MAX_ENTRIES) bad(`the archive has more than ${MAX_ENTRIES} entries`);
  const entries = [];
  let p = cdOff;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || dv.getUint32(p, true) !== 0x02014b50) bad("the archive cannot be read: a directory entry is damaged");
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    const csize = dv.getUint32(p + 20, true);
    const usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true);
    const xlen = dv.getUint16(p + 30, true);
    const clen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    if (p + 46 + nlen + xlen + clen > eocd) bad("the archive cannot be read: a directory entry is damaged");
    const name = utf8(data.subarray(p + 46, p + 46 + nlen));
    p += 46 + nlen + xlen + clen;
    if (local + 30 > data.length || dv.getUint32(local, true) !== 0x04034b50) bad("the archive cannot be read: a local header is missing");
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + csize > data.length) bad(`archive entry ${JSON.stringify(name)} is damaged: it runs past the end`);
    entries.push({ name, flags, method, crc, csize, usize, data: data.subarray(start, start + csize) });
  }
  return entries;
}

async function pump(stream, input, limit, onChunk) {
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const w = writer.write(input).then(() => writer.close()).catch(() => {});
  const parts = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        onChunk(total);
        reader.cancel().catch(() => {});
        return null;
      }
      onChunk(total);
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof Malformed) throw e;
    bad("the data is damaged (it does not inflate)");
  }
  await w;
  return concat(parts);
}

async function inflate(bytes, limit, check) {
  const out = await pump(new DecompressionStream("deflate-raw"), bytes, limit, check);
  return out;
}

async function deflate(bytes) {
  return pump(new CompressionStream("deflate-raw"), bytes, Infinity, () => {});
}

async function entryBytes(e, budget) {
  if (e.flags & 1) bad("the archive is encrypted");
  if (e.method === 0) {
    if (e.data.length > budget) return null;
    return e.data;
  }
  if (e.method !== 8) bad(`the archive uses an unsupported compression (method ${e.method})`);
  const compressed = Math.max(1, e.csize);
  const out = await inflate(e.data, budget, (n) => {
    if (n > 1024 * 1024 && n / compressed > MAX_RATIO) bad(`archive entry ${JSON.stringify(e.name)} expands more than ${MAX_RATIO}-fold (a zip bomb?)`);
  });
  return out;
}

/** Office Open XML or OpenDocument, or null (also for an unreadable zip). */
export async function detectZip(data) {
  let entries;
  try {
    entries = readZip(data);
  } catch {
    return null;
  }
  if (entries.some((e) => e.name === "[Content_Types].xml")) return "ooxml";
  const m = entries.find((e) => e.name === "mimetype");
  if (!m) return null;
  try {
    const b = await entryBytes(m, 1 << 16);
    if (b && utf8(b.subarray(0, 200)).startsWith("application/vnd.oasis.opendocument")) return "odf";
  } catch {
    /* not readable: not ours */
  }
  return null;
}

function u16le(n) {
  return [n & 0xff, (n >> 8) & 0xff];
}
function u32le(n) {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Writes entries {name, method, bytes} as a zip (no timestamps: 1980-01-01). */
export async function writeZip(entries) {
  const parts = [];
  const central = [];
  let off = 0;
  for (const e of entries) {
    const name = ascii(e.name);
    const crc = crc32(e.bytes);
    const body = e.method === 8 ? await deflate(e.bytes) : e.bytes;
    const head = [...u16le(20), ...u16le(0x0800), ...u16le(e.method), ...u16le(0), ...u16le(0x21), ...u32le(crc), ...u32le(body.length), ...u32le(e.bytes.length), ...u16le(name.length), ...u16le(0)];
    parts.push(Uint8Array.from([0x50, 0x4b, 3, 4, ...head]), name, body);
    const isDir = e.name.endsWith("/");
    central.push(Uint8Array.from([0x50, 0x4b, 1, 2, ...u16le(20), ...head, ...u16le(0), ...u16le(0), ...u16le(0), ...u32le(isDir ? 0x10 : 0), ...u32le(off)]), name);
    off += 30 + name.length + body.length;
  }
  const cd = concat(central);
  const end = Uint8Array.from([0x50, 0x4b, 5, 6, 0, 0, 0, 0, ...u16le(entries.length), ...u16le(entries.length), ...u32le(cd.length), ...u32le(off), 0, 0]);
  return concat([...parts, cd, end]);
}

// ---------------------------------------------------------------- XML

/**
 * A small XML tokenizer, enough for Office parts: start, empty and end
 * tags (checked to match), text, comments, CDATA and processing
 * instructions; a DOCTYPE is refused (no entity expansion ever).
 * Calls `on(token)` with {type, name, attrs, start, end} or {type:"text", start, end}.
 */
function tokenize(s, on) {
  const stack = [];
  let pos = 0;
  const n = s.length;
  while (pos < n) {
    const lt = s.indexOf("<", pos);
    if (lt < 0) {
      on({ type: "text", start: pos, end: n });
      break;
    }
    if (lt > pos) on({ type: "text", start: pos, end: lt });
    if (s.startsWith("<?", lt)) {
      const e = s.indexOf("?>", lt + 2);
      if (e < 0) bad("an XML part is malformed: unclosed processing instruction");
      pos = e + 2;
    } else if (s.startsWith("<!--", lt)) {
      const e = s.indexOf("-->", lt + 4);
      if (e < 0) bad("an XML part is malformed: unclosed comment");
      pos = e + 3;
    } else if (s.startsWith("<![CDATA[", lt)) {
      const e = s.indexOf("]]>", lt + 9);
      if (e < 0) bad("an XML part is malformed: unclosed CDATA");
      pos = e + 3;
    } else if (s.startsWith("<!", lt)) {
      if (/^<!DOCTYPE/i.test(s.slice(lt, lt + 9))) bad("an XML part has a document type declaration");
      bad("an XML part is malformed: unknown declaration");
    } else if (s[lt + 1] === "/") {
      const e = s.indexOf(">", lt);
      if (e < 0) bad("an XML part is malformed: unclosed end tag");
      const name = s.slice(lt + 2, e).trim();
      const open = stack.pop();
      if (open !== name) bad(`an XML part is malformed: expected </${open ?? ""}>, found </${name}>`);
      on({ type: "end", name, start: lt, end: e + 1 });
      pos = e + 1;
    } else {
      // A start or empty tag: its name, then attributes.
      let i = lt + 1;
      const nameM = /^[^\s/>=]+/.exec(s.slice(i, i + 1000));
      if (!nameM) bad("an XML part is malformed: a tag without a name");
      const name = nameM[0];
      i += name.length;
      const attrs = [];
      for (;;) {
        while (i < n && /\s/.test(s[i])) i++;
        if (i >= n) bad("an XML part is malformed: unclosed tag");
        if (s[i] === ">" || (s[i] === "/" && s[i + 1] === ">")) break;
        const km = /^[^\s/>=]+/.exec(s.slice(i, i + 1000));
        if (!km) bad("an XML attribute is malformed");
        const key = km[0];
        i += key.length;
        while (i < n && /\s/.test(s[i])) i++;
        if (s[i] !== "=") bad("an XML attribute is malformed: no value");
        i++;
        while (i < n && /\s/.test(s[i])) i++;
        const q = s[i];
        if (q !== '"' && q !== "'") bad("an XML attribute is malformed: unquoted value");
        const close = s.indexOf(q, i + 1);
        if (close < 0) bad("an XML attribute is malformed: unclosed value");
        if (attrs.some((a) => a.key === key)) bad("an XML attribute is malformed: duplicated attribute");
        attrs.push({ key, value: s.slice(i + 1, close) });
        i = close + 1;
      }
      const empty = s[i] === "/";
      const end = i + (empty ? 2 : 1);
      if (!empty) stack.push(name);
      on({ type: empty ? "empty" : "start", name, attrs, start: lt, end });
      pos = end;
    }
  }
}

const local = (name) => {
  const i = name.indexOf(":");
  return i < 0 ? name : name.slice(i + 1);
};

const CORE = { creator: "author", lastModifiedBy: "author", created: "date", modified: "date", lastPrinted: "date", title: "text", subject: "text", keywords: "text", description: "text", category: "text" };
const APP = { Company: "organisation", Manager: "organisation", Template: "template", Application: "software", AppVersion: "software" };
const ODF = {
  "initial-creator": "author", creator: "author", "printed-by": "author", "creation-date": "date", date: "date", "print-date": "date",
  generator: "software", template: "template", title: "text", subject: "text", keyword: "text", description: "text", "user-defined": "text",
};
const fieldOf = (table) => (name) => (Object.prototype.hasOwnProperty.call(table, local(name)) ? table[local(name)] : null);

function listFields(s, fieldOfName) {
  const found = [];
  let depth = 0;
  let current = null;
  tokenize(s, (t) => {
    if (t.type === "start") {
      depth++;
      if (depth > MAX_XML_DEPTH) bad("an XML part is nested too deeply");
      current = fieldOfName(t.name);
    } else if (t.type === "empty") {
      if (depth + 1 > MAX_XML_DEPTH) bad("an XML part is nested too deeply");
      const f = fieldOfName(t.name);
      if (f && t.attrs.length) found.push(finding(f, null));
    } else if (t.type === "text") {
      const f = current;
      current = null;
      if (f) {
        const text = s.slice(t.start, t.end);
        if (text.trim()) found.push(finding(f, ["author", "organisation", "software"].includes(f) ? text : null));
      }
    } else if (t.type === "end") {
      depth = Math.max(0, depth - 1);
      current = null;
    }
  });
  return found;
}

function authorAttribute(element, attribute) {
  const el = local(element);
  const at = local(attribute);
  if (at === "author") return el === "comment" || el === "person" ? ["comment-author", NEUTRAL_AUTHOR] : ["revision-author", NEUTRAL_AUTHOR];
  if (at === "initials") return ["comment-author", "A"];
  if (at === "name" && el === "cmAuthor") return ["comment-author", NEUTRAL_AUTHOR];
  if ((at === "displayName" || at === "userId") && el === "person") return ["comment-author", NEUTRAL_AUTHOR];
  if ((at === "userId" || at === "providerId") && el === "presenceInfo") return ["comment-author", NEUTRAL_AUTHOR];
  return null;
}

function isLocalPath(v) {
  const lower = v.toLowerCase();
  return (lower.startsWith("file:") && lower !== "file:///") || /^[A-Za-z]:[\\/]/.test(v) || v.startsWith("\\\\");
}

function rewriteAuthors(s, found) {
  const mentions = ["author", "initials", "cmAuthor", "dc:creator", "presenceInfo", "displayName", "file:", ":\\", "\\\\"];
  if (!mentions.some((m) => s.includes(m))) return null;
  const edits = [];
  let depth = 0;
  let inAuthor = null;
  let changed = false;
  const tag = (t) => {
    let any = false;
    const attrs = [];
    for (const a of t.attrs) {
      const aa = authorAttribute(t.name, a.key);
      if (aa) {
        if (a.value !== aa[1]) {
          found.push(finding(aa[0], null));
          any = true;
        }
        attrs.push([a.key, aa[1]]);
      } else if (t.name === "Relationship" && a.key === "Target" && isLocalPath(a.value)) {
        found.push(finding("template", null));
        any = true;
        attrs.push([a.key, "file:///"]);
      } else if (local(a.key) === "date" && ["ins", "del", "comment", "rPrChange", "pPrChange"].includes(local(t.name))) {
        found.push(finding("date", null));
        any = true;
      } else {
        attrs.push([a.key, a.value]);
      }
    }
    if (any) {
      changed = true;
      edits.push([t.start, t.end, `<${t.name}${attrs.map(([k, v]) => ` ${k}="${v}"`).join("")}${t.type === "empty" ? "/>" : ">"}`]);
    }
  };
  tokenize(s, (t) => {
    if (t.type === "start") {
      depth++;
      if (depth > MAX_XML_DEPTH) bad("an XML part is nested too deeply");
      inAuthor = t.name === "author" ? "comment-author" : t.name === "dc:creator" ? "revision-author" : null;
      tag(t);
    } else if (t.type === "empty") {
      tag(t);
    } else if (t.type === "end") {
      depth = Math.max(0, depth - 1);
      inAuthor = null;
    } else if (t.type === "text" && inAuthor) {
      const text = s.slice(t.start, t.end);
      if (text.trim() && text !== NEUTRAL_AUTHOR) {
        found.push(finding(inAuthor, null));
        changed = true;
        edits.push([t.start, t.end, NEUTRAL_AUTHOR]);
      }
    }
  });
  if (!changed) return null;
  let out = "";
  let at = 0;
  for (const [a, b, text] of edits) {
    out += s.slice(at, a) + text;
    at = b;
  }
  return ascii(out + s.slice(at));
}

const CORE_XML =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>';
const APP_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>';
const CUSTOM_XML =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>';
const META_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"><office:meta/></office:document-meta>';

async function cleanOffice(data, format) {
  const entries = readZip(data);
  const out = [];
  const found = [];
  let total = 0;
  for (const e of entries) {
    if (e.method !== 0 && e.method !== 8) bad(`the archive uses an unsupported compression (method ${e.method})`);
    if (e.flags & 1) bad("the archive is encrypted");
    if (e.name.endsWith("/")) {
      out.push({ name: e.name, method: e.method, bytes: new Uint8Array(0) });
      continue;
    }
    const bytes = await entryBytes(e, MAX_TOTAL - total);
    if (bytes == null) bad(`the archive expands to more than ${MAX_TOTAL >> 20} MiB (a zip bomb?)`);
    total += bytes.length;
    if (bytes.length > 1024 * 1024 && bytes.length / Math.max(1, e.csize) > MAX_RATIO) bad(`archive entry ${JSON.stringify(e.name)} expands more than ${MAX_RATIO}-fold (a zip bomb?)`);
    if (crc32(bytes) !== e.crc) bad(`archive entry ${JSON.stringify(e.name)} is damaged: its checksum is wrong`);
    const lower = e.name.replace(/[A-Z]/g, (c) => c.toLowerCase());
    const text = () => utf8(bytes);
    let replaced = null;
    if (format === "ooxml" && lower === "docprops/core.xml") {
      found.push(...listFields(text(), fieldOf(CORE)));
      replaced = ascii(CORE_XML);
    } else if (format === "ooxml" && lower === "docprops/app.xml") {
      found.push(...listFields(text(), fieldOf(APP)));
      replaced = ascii(APP_XML);
    } else if (format === "ooxml" && lower === "docprops/custom.xml") {
      if (indexOf(bytes, "<property") >= 0) found.push(finding("text", null));
      replaced = ascii(CUSTOM_XML);
    } else if (format === "odf" && lower === "meta.xml") {
      found.push(...listFields(text(), fieldOf(ODF)));
      replaced = ascii(META_XML);
    } else if (format === "ooxml" && (lower.endsWith(".xml") || lower.endsWith(".rels")) && !lower.startsWith("docprops/")) {
      replaced = rewriteAuthors(text(), found);
    } else if (format === "odf" && lower.endsWith(".xml")) {
      replaced = rewriteAuthors(text(), found);
    }
    out.push({ name: e.name, method: e.method, bytes: replaced || bytes });
  }
  return [await writeZip(out), found];
}

// ---------------------------------------------------------------- scrub

/** Which format the bytes are, by their content; null when not ours. */
export async function detect(data) {
  if (startsWith(data, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (data.length >= 12 && startsWith(data, "RIFF") && startsWith(data, "WEBP", 8)) return "webp";
  if (indexOf(data, "%PDF-", 0, Math.min(data.length, 1024)) >= 0) return "pdf";
  if (startsWith(data, [0x50, 0x4b, 3, 4])) return detectZip(data);
  return null;
}

async function cleanOnce(format, data) {
  switch (format) {
    case "jpeg":
      return cleanJpeg(data);
    case "png":
      return cleanPng(data);
    case "webp":
      return cleanWebp(data);
    case "pdf":
      return cleanPdf(data);
    default:
      return cleanOffice(data, format);
  }
}

/**
 * Reads `data` (a Uint8Array), lists what can identify its author and
 * returns it without:
 *   {outcome: "cleaned", format, bytes, found: [{field, value}]}
 *   {outcome: "unchecked"}
 *   {outcome: "refused", format, reason}
 */
export async function scrub(data) {
  const format = await detect(data);
  if (!format) return { outcome: "unchecked" };
  const refused = (reason) => ({ outcome: "refused", format, reason });
  if (data.length > MAX_INPUT) return refused(`the file is larger than ${MAX_INPUT >> 20} MiB`);
  const attempt = async (bytes) => {
    try {
      return await cleanOnce(format, bytes);
    } catch (e) {
      if (e instanceof Malformed) return e.message;
      if (e instanceof RangeError || e instanceof TypeError) return `the ${FORMAT_NAMES[format]} is malformed`;
      throw e;
    }
  };
  let r = await attempt(data);
  if (typeof r === "string") return refused(r);
  let [bytes, found] = r;
  const zip = format === "ooxml" || format === "odf";
  for (let i = 0; i < MAX_PASSES; i++) {
    if ((await detect(bytes)) !== format) return refused(`the cleaned ${FORMAT_NAMES[format]} no longer reads as one`);
    r = await attempt(bytes);
    if (typeof r === "string") return refused(r);
    const [again, more] = r;
    if (more.length === 0 && (zip || equalBytes(again, bytes))) return { outcome: "cleaned", format, bytes, found };
    found = found.concat(more);
    bytes = again;
  }
  return refused(`the ${FORMAT_NAMES[format]} does not settle when cleaned (malformed)`);
}

/** `lampiran-N.ext`, keeping a plain extension (as wbs-report does). */
export function neutralName(n, name) {
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  return ext && ext.length <= 8 && /^[a-z0-9]+$/.test(ext) ? `lampiran-${n}.${ext}` : `lampiran-${n}`;
}
