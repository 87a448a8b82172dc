// Optional browser test of the built client against dev/mock-server.mjs:
// the whole report → status → reply → follow-up flow in headless Chromium,
// CSP violations, the no-JavaScript page, language switch, and axe-core.
// It needs a Chromium and two packages that are deliberately not in the lock
// file (the shipped bundle does not use them):
//
//   npm install --no-save puppeteer-core axe-core
//   CHROMIUM=/usr/bin/chromium node dev/e2e.mjs [screenshot-dir]

import { createRequire } from "node:module";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes, createHash } from "node:crypto";
import assert from "node:assert/strict";
import { startMockServer } from "./mock-server.mjs";
import { lookupKey, parseReceipt } from "../src/lib/receipt.js";

const require = createRequire(import.meta.url);
const puppeteer = require("puppeteer-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = process.argv[2];
if (shots) mkdirSync(shots, { recursive: true });

const difficulty = Number(process.env.POW ?? 14);
const mock = await startMockServer({ port: 0, difficulty });
const base = `http://127.0.0.1:${mock.port}`;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu"],
});

let failures = 0;
let passes = 0;
async function step(name, fn) {
  try {
    await fn();
    passes++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split("\n").slice(0, 6).join("\n  ")}`);
  }
}

async function newPage({ js = true, width = 390, height = 844 } = {}) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  await page.setJavaScriptEnabled(js);
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy|Refused/i.test(m.text())) page.problems.push(m.text());
  });
  page.on("pageerror", (e) => page.problems.push(String(e)));
  return page;
}

async function axe(page, label) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target }));
  });
  const bad = r.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (r.length) console.log(`  axe ${label}: ${JSON.stringify(r)}`);
  assert.deepEqual(bad, [], `${label}: serious/critical axe violations`);
}

const byTestId = (id) => `[data-testid="${id}"]`;
async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}
async function text(page, sel) {
  return page.$eval(sel, (el) => el.textContent.trim());
}

let receipt = null;

await step("landing: organization from config, intro, no CSP problems, axe", async () => {
  const page = await newPage();
  await page.goto(`${base}/`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelector("[data-org]").textContent.includes("Contoh"));
  assert.match(await text(page, "#intro"), /Inspektorat Kota Contoh menerima/);
  assert.equal(await page.$eval("html", (h) => h.lang), "id");
  await axe(page, "landing");
  await shot(page, "landing-id");
  assert.deepEqual(page.problems, []);
  await page.close();
});

await step("no JavaScript: every page explains why, in both languages, and how to use wbs-report", async () => {
  const page = await newPage({ js: false });
  for (const path of ["/", "/report", "/status"]) {
    await page.goto(`${base}${path}`);
    const visible = await page.evaluate(() => document.body.innerText);
    assert.match(visible, /memerlukan JavaScript/);
    assert.match(visible, /needs JavaScript/);
    assert.match(visible, /wbs-report submit --server/);
    assert.match(visible, /socks5h:\/\/127\.0\.0\.1:9150/);
    await shot(page, `nojs${path.replace(/\//g, "_") || "_"}`);
  }
  await page.close();
});

await step("report: refuses a file over the limit before upload, shows name and size", async () => {
  const page = await newPage();
  await page.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  const big = join(process.env.TMPDIR || "/tmp", "wbs-big.bin");
  writeFileSync(big, Buffer.alloc(9 * 1024 * 1024));
  const input = await page.$(byTestId("report-attachments"));
  await input.uploadFile(big);
  await page.waitForFunction(() => document.querySelector("[data-testid=error]").textContent.includes("wbs-big.bin"));
  assert.match(await text(page, byTestId("error")), /lebih besar dari batas/);
  assert.equal(await page.$eval(byTestId("error"), (e) => e.getAttribute("role")), "alert");
  assert.match(await text(page, "#report-attachments-limits"), /Paling banyak 5 berkas/);
  await page.close();
});

await step("report: empty submit shows localized errors and sends nothing", async () => {
  const page = await newPage();
  await page.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  const before = mock.cases.size;
  await page.click(byTestId("report-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=error]").textContent.length > 0);
  assert.match(await text(page, byTestId("error")), /Pilih kategori/);
  assert.equal(mock.cases.size, before);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), "report-category");
  await axe(page, "report with errors");
  await page.close();
});

const fileA = join(process.env.TMPDIR || "/tmp", "bukti-kwitansi.txt");
const fileB = join(process.env.TMPDIR || "/tmp", "foto.bin");
writeFileSync(fileA, "Kwitansi: Rp 5.000.000 tanpa tanda terima resmi.\n");
const bBytes = randomBytes(3 * 1024 * 1024 + 12345);
writeFileSync(fileB, bBytes);

await step("report: encrypt, solve the proof of work, upload, show the receipt", async () => {
  const page = await newPage();
  await page.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  await page.select(byTestId("report-category"), "pungli");
  await page.type(byTestId("report-title"), "Pungutan liar izin usaha");
  await page.type(byTestId("report-body"), "Petugas meminta uang tambahan.\nBaris kedua: é ✓");
  await page.type("#report-where", "Kantor pelayanan terpadu");
  const input = await page.$(byTestId("report-attachments"));
  await input.uploadFile(fileA, fileB);
  await page.waitForFunction(() => document.querySelectorAll("#report-files li").length === 2);
  assert.match(await text(page, "#report-files"), /bukti-kwitansi\.txt/);
  assert.match(await text(page, "#report-files"), /3 MB/);
  await axe(page, "report filled");
  await shot(page, "report-filled");
  const workers = [];
  page.on("workercreated", (w) => workers.push(w.url()));
  await page.click(byTestId("report-submit"));
  try {
    await page.waitForSelector(`${byTestId("receipt-code")}:not(:empty)`, { visible: true, timeout: 60_000 });
  } catch (e) {
    await shot(page, "report-failed");
    throw new Error(`no receipt; error box: ${await text(page, byTestId("error"))}; problems: ${page.problems}`);
  }
  receipt = await text(page, byTestId("receipt-code"));
  if (difficulty > 0) assert.ok(workers.some((u) => u.endsWith("/assets/pow-worker.js")), `workers: ${workers}`);
  assert.match(receipt, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
  assert.equal(await page.$eval(byTestId("report-title"), (e) => e.value), "");
  await axe(page, "receipt");
  await shot(page, "receipt");
  const c = [...mock.cases.values()].at(-1);
  assert.equal(c.report.category, "pungli");
  assert.equal(c.report.title, "Pungutan liar izin usaha");
  assert.equal(c.report.body, "Petugas meminta uang tambahan.\nBaris kedua: é ✓");
  assert.deepEqual(c.report.details, { where: "Kantor pelayanan terpadu" });
  assert.equal(c.report.contact, null);
  assert.deepEqual(c.attachments.map((a) => a.name), ["bukti-kwitansi.txt", "foto.bin"]);
  assert.equal(c.attachments[1].sha256, createHash("sha256").update(bBytes).digest("hex"));
  assert.equal(c.attachments[1].filename, "attachment.age");
  assert.equal(c.reportFilename, "report.age");
  assert.deepEqual(page.problems, []);
  // Nothing secret is left in storage.
  const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.deepEqual(stored, [0, 0, ""]);
  await page.close();
});

await step("status: typo caught before any request, with a clear message", async () => {
  const page = await newPage();
  await page.goto(`${base}/status`, { waitUntil: "networkidle0" });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const typo = receipt.slice(0, 3) + (receipt[3] === "A" ? "B" : "A") + receipt.slice(4);
  await page.type(byTestId("status-receipt"), typo);
  await page.click(byTestId("status-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=error]").textContent.length > 0);
  const msg = await text(page, byTestId("error"));
  assert.ok(/salah ketik/.test(msg) || /Karakter ke-/.test(msg), msg);
  assert.deepEqual(requests.filter((u) => u.includes("/api/")), []);
  await page.close();
});

await step("status: unknown code gives the not-found message", async () => {
  const page = await newPage();
  await page.goto(`${base}/status`, { waitUntil: "networkidle0" });
  await page.type(byTestId("status-receipt"), "B70VJ-GB9AX-T5T6Z-CEKQ4");
  await page.click(byTestId("status-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=error]").textContent.length > 0);
  assert.match(await text(page, byTestId("error")), /Tidak ada laporan dengan kode ini/);
  await page.close();
});

await step("status: status, replies decrypted on the device, follow-up, language switch", async () => {
  const lookup = [...mock.cases.keys()].at(-1);
  await fetch(`${base}/__mock/reply`, { method: "POST", body: JSON.stringify({ lookup, body: "Terima kasih. Mohon kirim foto kwitansi.\nBaris 2", status: "need_info" }) });
  const page = await newPage();
  await page.goto(`${base}/status`, { waitUntil: "networkidle0" });
  await page.type(byTestId("status-receipt"), ` ${receipt.toLowerCase().replace(/-/g, " ")} `);
  await page.click(byTestId("status-submit"));
  await page.waitForSelector(byTestId("status-value"), { visible: true });
  assert.equal(await page.$eval(byTestId("status-value"), (e) => e.dataset.status), "need_info");
  assert.equal(await text(page, byTestId("status-value")), "Perlu informasi tambahan");
  assert.equal(await page.$eval(byTestId("reply-body"), (e) => e.textContent), "Terima kasih. Mohon kirim foto kwitansi.\nBaris 2");
  assert.equal(await page.$eval(byTestId("status-receipt"), (e) => e.value), "");
  await axe(page, "status result");
  await shot(page, "status-result");

  await page.type(byTestId("followup-body"), "Foto terlampir.");
  const input = await page.$(byTestId("followup-attachments"));
  await input.uploadFile(fileA);
  await page.click(byTestId("followup-submit"));
  await page.waitForSelector(`${byTestId("followup-done")}:not(:empty)`, { visible: true, timeout: 60_000 });
  const c = mock.cases.get(lookup);
  assert.equal(c.followups.length, 1);
  assert.equal(c.followups[0].doc.body, "Foto terlampir.");
  assert.equal(c.followups[0].attachments[0].name, "bukti-kwitansi.txt");
  assert.equal(await page.$eval(byTestId("followup-body"), (e) => e.value), "");
  await page.waitForFunction(() => /: 1$/.test(document.getElementById("status-followups").textContent));

  await page.click(byTestId("lang-switch"));
  assert.equal(await text(page, byTestId("status-value")), "More information needed");
  assert.match(page.url(), /\?lang=en$/);
  assert.equal(await page.$eval("html", (h) => h.lang), "en");
  assert.equal(await text(page, byTestId("lang-switch")), "Bahasa Indonesia");
  assert.match(await text(page, "h1"), /Check a report's status/);
  assert.match(await page.$eval('a[data-nav="/report"]', (a) => a.getAttribute("href")), /\/report\?lang=en/);
  await axe(page, "status result en");
  await shot(page, "status-result-en");
  await page.click(byTestId("lang-switch"));
  assert.equal(await text(page, byTestId("status-value")), "Perlu informasi tambahan");
  assert.doesNotMatch(page.url(), /lang=/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

await step("English from the URL: ?lang=en renders English on load", async () => {
  const page = await newPage({ width: 1280, height: 900 });
  await page.goto(`${base}/report?lang=en`, { waitUntil: "networkidle0" });
  assert.match(await text(page, "h1"), /Make a report/);
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=report-category] option")].some((o) => o.textContent === "Illegal fees"));
  await shot(page, "report-en-desktop");
  await page.close();
});

await step("keyboard only: the report form can be filled and sent with Tab and keys", async () => {
  const page = await newPage();
  await page.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  await page.focus(byTestId("report-category"));
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Judul dari papan ketik");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Isi dari papan ketik");
  await page.focus(byTestId("report-submit"));
  await page.keyboard.press("Enter");
  await page.waitForSelector(`${byTestId("receipt-code")}:not(:empty)`, { visible: true, timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.activeElement.id), "receipt");
  await page.close();
});

async function fillMinimal(page) {
  await page.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  await page.select(byTestId("report-category"), "korupsi");
  await page.type(byTestId("report-title"), "Percobaan ulang");
  await page.type(byTestId("report-body"), "Isi");
}

await step("a lost answer: the retry keeps the code, meets 409 and shows the stored report's code", async () => {
  const page = await newPage();
  await fillMinimal(page);
  await fetch(`${base}/__mock/fault`, { method: "POST", body: JSON.stringify({ mode: "drop-after-store" }) });
  const before = mock.cases.size;
  await page.click(byTestId("report-submit"));
  // Chromium may resend the request by itself after the cut (then the page
  // meets 409 at once); otherwise the reporter sees the error and retries.
  await page.waitForFunction(
    () => document.querySelector("[data-testid=error]").textContent.length > 0 || document.querySelector("[data-testid=receipt-code]").textContent.length > 0,
    { timeout: 60_000 },
  );
  if ((await text(page, byTestId("error"))).length > 0) {
    assert.match(await text(page, byTestId("error")), /Tidak dapat terhubung/);
    assert.equal(mock.cases.size, before + 1);
    await page.click(byTestId("report-submit"));
    await page.waitForSelector(`${byTestId("receipt-code")}:not(:empty)`, { visible: true, timeout: 60_000 });
    assert.equal(await page.$eval("#receipt-earlier", (e) => e.hidden), false);
  }
  const code = await text(page, byTestId("receipt-code"));
  assert.ok(mock.cases.has(lookupKey(parseReceipt(code))), "the shown code is the stored report's");
  assert.equal(mock.cases.size, before + 1, "stored once, no duplicate under another code");
  await page.close();
});

await step("an expired challenge is replaced once, without the reporter noticing", async () => {
  if (difficulty === 0) return;
  const page = await newPage();
  await fillMinimal(page);
  await fetch(`${base}/__mock/fault`, { method: "POST", body: JSON.stringify({ mode: "pow-expired" }) });
  await page.click(byTestId("report-submit"));
  await page.waitForSelector(`${byTestId("receipt-code")}:not(:empty)`, { visible: true, timeout: 60_000 });
  const code = await text(page, byTestId("receipt-code"));
  assert.ok(mock.cases.has(lookupKey(parseReceipt(code))));
  await page.close();
});

await browser.close();
mock.server.close();
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
