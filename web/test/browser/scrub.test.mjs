// Metadata removal in the browser (issue 13) against the REAL wbs-server,
// wbs-desk and wbs-inspect, in headless Chromium: a phone photo with a GPS
// position (made here with exiftool) and a .docx with an author are listed
// with what they hold, cleaned on the device before encryption, and arrive
// clean as exiftool reads them; chosen "keep unchanged", they arrive byte
// for byte as they were. Run with `npm run test:browser` after
// `cargo build --bins`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { startServer, launchBrowser, run, Watch, assertAccessible, tid, LOCALES, ROOT } from "./harness.mjs";

const T = { timeout: 180_000 };
const id = LOCALES.id;
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const CORPUS = join(ROOT, "crates", "wbs-scrub", "tests", "shared-corpus", "files");

let server;
let browser;
let photo;
let docx;
const watches = [];

const exif = (file) => JSON.parse(execFileSync("exiftool", ["-j", "-a", file], { encoding: "utf8" }))[0];
const IDENTIFYING = /^(GPS.*|Make|Model|Artist|Creator|LastModifiedBy|Company|Template|Software)$/;

before(async () => {
  server = await startServer({ powDifficulty: 8 });
  browser = await launchBrowser();
  // A phone photo: a plain JPEG given a position, a camera and an owner.
  const dir = join(server.tmp, "made");
  mkdirSync(dir, { recursive: true });
  const p = join(dir, "IMG_20240501_101112.jpg");
  copyFileSync(join(CORPUS, "plain.jpg"), p);
  execFileSync("exiftool", ["-q", "-overwrite_original", "-GPSLatitude=6.2", "-GPSLatitudeRef=S", "-GPSLongitude=106.8", "-GPSLongitudeRef=E", "-Make=Samsung", "-Model=SM-A525F", "-Artist=Budi Santoso", p]);
  const before = exif(p);
  assert.ok(before.GPSLatitude && before.Make && before.Artist, "exiftool wrote the photo's metadata");
  photo = { name: "IMG_20240501_101112.jpg", mimeType: "image/jpeg", buffer: readFileSync(p) };
  // A Word document written by "Budi Santoso" (crates/wbs-scrub/tests/shared-corpus).
  docx = { name: "memo anggaran.docx", mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", buffer: readFileSync(join(CORPUS, "memo.docx")) };
  assert.equal(exif(join(CORPUS, "memo.docx")).Creator, "Budi Santoso");
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

async function withPage(fn) {
  const watch = new Watch(server.url);
  watches.push(watch);
  const ctx = await watch.context(browser);
  const page = await ctx.newPage();
  try {
    await fn(page);
  } finally {
    await ctx.close();
  }
  assert.deepEqual(await watch.problems(), []);
}

/** Fills a report, attaches both files, lets `choose` tick boxes, sends it. */
async function send(title, choose) {
  await withPage(async (page) => {
    await page.goto(`${server.url}/report`);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
    await page.selectOption(tid("report-category"), { index: 1 });
    await page.fill(tid("report-title"), title);
    await page.fill(tid("report-body"), "Isi laporan.");
    await page.setInputFiles(tid("report-attachments"), [photo, docx]);
    const rows = page.locator("#report-files li").filter({ has: page.locator(tid("attachment-findings")) });
    await page.waitForFunction(() => {
      const f = document.querySelectorAll("[data-testid=attachment-findings]");
      return f.length === 2 && [...f].every((x) => x.textContent.includes("…") === false && x.querySelector("ul"));
    });
    const photoRow = rows.filter({ hasText: photo.name });
    const docRow = rows.filter({ hasText: docx.name });
    // What was found, in plain Indonesian, with the values the reporter knows.
    const photoText = await photoRow.locator(tid("attachment-findings")).textContent();
    assert.ok(photoText.includes(`${id["scrub.field.gps"]}: 6.20000S 106.80000E`), photoText);
    assert.ok(photoText.includes(`${id["scrub.field.camera"]}: Samsung SM-A525F`), photoText);
    assert.ok(photoText.includes(`${id["scrub.field.owner"]}: Budi Santoso`), photoText);
    assert.ok(photoText.includes(id["scrub.will_remove"]), photoText);
    const docText = await docRow.locator(tid("attachment-findings")).textContent();
    assert.ok(docText.includes(`${id["scrub.field.author"]}: Budi Santoso`), docText);
    assert.ok(docText.includes(id["scrub.field.revision-author"]), docText);
    assert.ok(docText.includes(`${id["scrub.field.organisation"]}: Dinas PU`), docText);
    // Removal is the default: nothing is ticked.
    assert.equal(await page.locator(`${tid("attachment-keep")}:checked`).count(), 0);
    assert.equal(await page.locator(tid("attachment-unchecked-warning")).count(), 0);
    await assertAccessible(page, "/report with findings");
    await choose(page, photoRow, docRow);
    await page.click(tid("report-submit"));
    await page.locator(tid("receipt-code")).waitFor({ timeout: 90_000 });
  });
}

let pulls = 0;
/** Pulls everything and opens it; gives the case with this title. */
function open(title) {
  pulls += 1;
  const dir = join(server.tmp, `desk-${pulls}`);
  mkdirSync(dir, { recursive: true });
  server.desk(["pull", "--out", join(dir, "export.tar"), "--all"]);
  run("wbs-inspect", ["open", join(dir, "export.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  for (const c of readdirSync(join(dir, "cases"))) {
    const caseDir = join(dir, "cases", c);
    const report = JSON.parse(readFileSync(join(caseDir, "report.json"), "utf8"));
    if (report.title !== title) continue;
    const files = readdirSync(join(caseDir, "attachments")).map((f) => join(caseDir, "attachments", f));
    const bySha = new Map(files.map((f) => [sha256(readFileSync(f)), f]));
    return report.attachments.map((a) => ({ ...a, path: bySha.get(a.sha256) }));
  }
  throw new Error(`no case titled ${title}`);
}

test("a photo with GPS and a .docx with an author arrive clean, named neutrally when asked", T, async () => {
  await send("Dibersihkan", async (page, photoRow) => {
    await photoRow.locator(tid("attachment-neutral-name")).check();
  });
  const [p, d] = open("Dibersihkan");
  assert.equal(p.name, "lampiran-1.jpg");
  assert.equal(d.name, docx.name);
  assert.ok(p.path && d.path, "both attachments decrypted and verified");
  assert.equal(p.metadata.checked, true);
  for (const code of ["gps", "camera", "owner"]) assert.ok(p.metadata.removed.includes(code), JSON.stringify(p.metadata));
  assert.equal(p.metadata.kept, undefined);
  for (const code of ["author", "organisation", "revision-author", "comment-author"]) assert.ok(d.metadata.removed.includes(code), JSON.stringify(d.metadata));
  for (const a of [p, d]) {
    const tags = exif(a.path);
    const left = Object.keys(tags).filter((k) => IDENTIFYING.test(k));
    assert.deepEqual(left, [], `${a.name}: exiftool still finds ${left}`);
    assert.equal(tags.Error, undefined, `${a.name}: ${tags.Error}`);
  }
  assert.equal(exif(p.path).ImageWidth, exif(join(CORPUS, "plain.jpg")).ImageWidth);
  const bytes = readFileSync(d.path);
  assert.ok(!bytes.includes(Buffer.from("Budi Santoso")), "the author's name is still in the .docx");
});

test("chosen 'keep unchanged', each file arrives byte for byte as it was", T, async () => {
  await send("Apa adanya", async (page, photoRow, docRow) => {
    for (const row of [photoRow, docRow]) {
      await row.locator(tid("attachment-keep")).check();
      assert.ok((await row.locator(tid("attachment-findings")).textContent()).includes(id["scrub.will_keep"]));
    }
  });
  const [p, d] = open("Apa adanya");
  assert.equal(p.name, photo.name);
  assert.ok(readFileSync(p.path).equals(photo.buffer), "the photo changed");
  assert.ok(readFileSync(d.path).equals(docx.buffer), "the document changed");
  assert.equal(p.metadata.checked, true);
  assert.ok(p.metadata.kept.includes("gps"));
  assert.equal(p.metadata.removed, undefined);
  assert.ok(d.metadata.kept.includes("author"));
});

test("a file WBS cannot check is flagged; one it cannot read safely is left out unless chosen", T, async () => {
  await withPage(async (page) => {
    await page.goto(`${server.url}/report?lang=en`);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
    await page.setInputFiles(tid("report-attachments"), [
      { name: "rekaman.mp4", mimeType: "video/mp4", buffer: Buffer.from("\0\0\0\x18ftypmp42 not a real video") },
      { name: "rusak.jpg", mimeType: "image/jpeg", buffer: photo.buffer.subarray(0, 300) },
    ]);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=attachment-unchecked-warning]").length === 2);
    const warnings = await page.locator(tid("attachment-unchecked-warning")).allTextContents();
    assert.ok(warnings[0].startsWith("Warning: WBS cannot check"), warnings[0]);
    assert.match(warnings[1], /cannot be read safely \(a JPEG segment/);
    assert.equal(await page.locator(`${tid("attachment-send-unchecked")}:checked`).count(), 0);
    await assertAccessible(page, "/report with warnings");
    await page.selectOption(tid("report-category"), { index: 1 });
    await page.fill(tid("report-title"), "Tanpa yang rusak");
    await page.fill(tid("report-body"), "Isi laporan.");
    await page.click(tid("report-submit"));
    await page.locator(tid("receipt-code")).waitFor({ timeout: 90_000 });
  });
  // The unreadable photo was left out; the video went as it was, marked unchecked.
  const sent = open("Tanpa yang rusak");
  assert.deepEqual(
    sent.map((a) => [a.name, a.metadata]),
    [["rekaman.mp4", { checked: false }]],
  );
});

test("hygiene: no CSP violation, page error or request to another origin", T, async () => {
  const all = [];
  for (const w of watches) all.push(...(await w.problems()));
  assert.deepEqual(all, []);
});
