// The browser's metadata cleaner (src/lib/scrub.js) against the corpus it
// shares with crates/wbs-scrub (crates/wbs-scrub/tests/shared-corpus/):
// the same findings as the Rust implementation, outputs that exiftool (a
// tool no one here wrote) judges clean, hostile files refused quickly.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { scrub, removedCodes, neutralName, readZip, writeZip, FIELDS } from "../src/lib/scrub.js";

const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, "..", "..", "crates", "wbs-scrub", "tests", "shared-corpus");
const expected = JSON.parse(readFileSync(join(corpus, "expected.json"), "utf8"));
const file = (name) => new Uint8Array(readFileSync(join(corpus, "files", name)));

function summary(r) {
  return r.outcome === "cleaned" ? { outcome: "cleaned", removed: removedCodes(r.found) } : { outcome: r.outcome };
}

/** exiftool's reading of `bytes` (tags by name, groups dropped). */
function exiftool(bytes, ext) {
  const dir = mkdtempSync(join(tmpdir(), "wbs-scrub-"));
  try {
    const p = join(dir, `f.${ext}`);
    writeFileSync(p, bytes);
    return JSON.parse(execFileSync("exiftool", ["-j", "-a", "-u", p], { encoding: "utf8" }))[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Tags that name the device, the person, the place, the time or the tool.
const IDENTIFYING = /^(GPS.*|Make|Model|SerialNumber|InternalSerialNumber|Artist|Author|Creator|Copyright|OwnerName|By-line|Software|Producer|Comment|Title|Subject|Keywords|LastModifiedBy|Company|Manager|Template|Application|AppVersion|CreateDate|ModifyDate|DateTimeOriginal|CreationDate|ModDate|InitialCreator|Generator|XMPToolkit)$/;

test("the browser finds what the Rust implementation finds, file by file", async () => {
  const names = readdirSync(join(corpus, "files")).sort();
  assert.deepEqual(names, Object.keys(expected).sort(), "expected.json covers the corpus exactly");
  for (const name of names) {
    const started = Date.now();
    const got = summary(await scrub(file(name)));
    assert.ok(Date.now() - started < 5000, `${name} took too long`);
    assert.deepEqual(got, expected[name], name);
  }
});

test("the corpus files hold what they should, and the cleaned ones nothing exiftool sees", async () => {
  for (const [name, want] of Object.entries(expected)) {
    if (want.outcome !== "cleaned") continue;
    const ext = name.split(".").pop();
    const before = exiftool(file(name), ext);
    const r = await scrub(file(name));
    const after = exiftool(r.bytes, ext);
    const left = Object.keys(after).filter((k) => IDENTIFYING.test(k));
    assert.deepEqual(left, [], `${name}: exiftool still finds ${left.map((k) => `${k}=${after[k]}`).join(", ")}`);
    if (want.removed.length) {
      assert.ok(Object.keys(before).some((k) => IDENTIFYING.test(k)), `${name}: the corpus file held nothing to find`);
    }
    assert.equal(after.Error, undefined, `${name}: exiftool cannot read the cleaned file: ${after.Error}`);
    assert.equal(after.Warning, undefined, `${name}: exiftool warns about the cleaned file: ${after.Warning}`);
    // Cleaned again: nothing more, and (outside zips) not a byte changed.
    const again = await scrub(r.bytes);
    assert.equal(again.outcome, "cleaned", name);
    assert.deepEqual(again.found, [], name);
    if (!["docx", "odt"].includes(ext)) assert.deepEqual(again.bytes, r.bytes, name);
  }
});

test("a photo keeps its picture data byte for byte and its orientation", async () => {
  const data = file("photo.jpg");
  const r = await scrub(data);
  const sos = (b) => {
    for (let i = 2; i < b.length - 1; i++) if (b[i] === 0xff && b[i + 1] === 0xda) return b.subarray(i);
    return null;
  };
  assert.deepEqual(sos(r.bytes), sos(data));
  assert.equal(exiftool(r.bytes, "jpg").Orientation, "Rotate 90 CW");
  const gps = r.found.find((f) => f.field === "gps");
  assert.equal(gps.value, "6.20000S 106.80000E");
  assert.deepEqual(r.found.find((f) => f.field === "camera").value, "Samsung SM-A525F");
});

test("a PDF keeps its length and its pages; a document keeps its text, without names", async () => {
  const pdf = await scrub(file("doc.pdf"));
  assert.equal(pdf.bytes.length, file("doc.pdf").length);
  assert.equal(exiftool(pdf.bytes, "pdf").PageCount, 1);
  const doc = await scrub(file("memo.docx"));
  const entries = readZip(doc.bytes);
  const text = async (n) => {
    const e = entries.find((x) => x.name === n);
    const stream = new Blob([e.data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new TextDecoder().decode(await new Response(stream).arrayBuffer());
  };
  const body = await text("word/document.xml");
  assert.match(body, /Anggaran dinaikkan\./);
  assert.match(body, /Dua kali\./);
  assert.doesNotMatch(body, /Siti|Budi|w:date/);
  assert.doesNotMatch(await text("word/comments.xml"), /Budi|BS/);
  assert.doesNotMatch(await text("word/_rels/document.xml.rels"), /budi/i);
  assert.doesNotMatch(await text("docProps/core.xml"), /Budi|Siti/);
});

test("hostile files get a clear outcome quickly", async () => {
  const jpeg = file("photo.jpg");
  const png = file("photo.png");
  const webp = file("photo.webp");
  const pdf = file("doc.pdf");
  const lying = webp.slice();
  new DataView(lying.buffer).setUint32(16, 0x7ffffff0, true);
  const cases = {
    "jpeg cut short": jpeg.subarray(0, jpeg.length - 40),
    "jpeg with only a start": jpeg.subarray(0, 3),
    "png cut short": png.subarray(0, png.length - 5),
    "png with a bad checksum": (() => {
      const b = png.slice();
      b[40] ^= 0xff;
      return b;
    })(),
    "webp with a lying chunk": lying,
    "webp cut short": webp.subarray(0, 20),
    "pdf whose information is nowhere to be seen": new TextEncoder().encode("%PDF-1.4\ntrailer\n<< /Info 9 0 R >>\n%%EOF\n"),
    "pdf cut inside its information": new TextEncoder().encode("%PDF-1.4\n5 0 obj\n<< /Author (Budi\ntrailer\n<< /Info 5 0 R >>\n"),
    "encrypted pdf": new TextEncoder().encode("%PDF-1.4\n1 0 obj\n<< /Encrypt 2 0 R >>\nendobj\n"),
    "zip bomb": file("bomb.docx"),
    "deeply nested xml": file("deep.docx"),
  };
  for (const [what, bytes] of Object.entries(cases)) {
    const started = Date.now();
    const r = await scrub(bytes);
    assert.ok(Date.now() - started < 3000, `${what} took too long`);
    assert.equal(r.outcome, "refused", what);
    assert.ok(r.reason && r.reason.length > 10, what);
  }
  // A damaged archive member (its checksum wrong) is refused, not called clean.
  const enc = (t) => new TextEncoder().encode(t);
  const zip = await writeZip([
    { name: "[Content_Types].xml", method: 0, bytes: enc("<Types/>") },
    { name: "word/document.xml", method: 0, bytes: enc("<w:document>Budi</w:document>") },
  ]);
  assert.equal((await scrub(zip)).outcome, "cleaned");
  const damaged = zip.slice();
  const at = new TextDecoder("latin1").decode(damaged).indexOf("Budi");
  damaged[at] = 0x58;
  const r = await scrub(damaged);
  assert.equal(r.outcome, "refused");
  assert.match(r.reason, /checksum/);
});

test("a neutral name keeps a plain extension only", () => {
  assert.equal(neutralName(1, "IMG_2024_budi.JPG"), "lampiran-1.jpg");
  assert.equal(neutralName(2, "memo.docx"), "lampiran-2.docx");
  assert.equal(neutralName(3, "README"), "lampiran-3");
  assert.equal(neutralName(4, "x.b\u202efdp"), "lampiran-4");
  assert.equal(neutralName(5, ".bashrc"), "lampiran-5");
});

test("the field names are the protocol's", () => {
  const doc = readFileSync(join(here, "..", "..", "docs", "PROTOCOL.md"), "utf8");
  for (const f of FIELDS) assert.ok(doc.includes(`\`${f}\``), f);
});
