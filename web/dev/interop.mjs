// Optional interop test of the built client against the real Rust tools:
// a wbs-server process (API), a small proxy that serves the assets from
// crates/wbs-server/assets/ on disk (so a stale binary's embedded copy does
// not matter), headless Chromium for the reporter, and wbs-desk +
// wbs-inspect with the demo key for the inspectorate's side.
//
//   npm install --no-save puppeteer-core
//   cargo build -p wbs-server -p wbs-client -p wbs-inspect
//   BIN=../target/debug CHROMIUM=/usr/bin/chromium node dev/interop.mjs

import { createRequire } from "node:module";
import { createServer, request } from "node:http";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname, extname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { randomBytes, createHash } from "node:crypto";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const puppeteer = require("puppeteer-core");
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const BIN = process.env.BIN || join(root, "target", "debug");
const ASSETS = join(root, "crates", "wbs-server", "assets");
const KEYS = join(root, "keys");
const tmp = mkdtempSync(join(tmpdir(), "wbs-interop-"));
const data = join(tmp, "data");
const API_PORT = 18000 + Math.floor(Math.random() * 1000);
const WEB_PORT = API_PORT + 1000;

const token = execFileSync(join(BIN, "wbs-server"), ["token", "add", "desk", "--data", data], { encoding: "utf8" })
  .trim()
  .split("\n")
  .pop()
  .trim();
writeFileSync(join(tmp, "token"), `${token}\n`, { mode: 0o600 });
const server = spawn(join(BIN, "wbs-server"), ["--data", data, "--recipients", join(KEYS, "demo-inspectorate.pub"), "--listen", `127.0.0.1:${API_PORT}`, "--pow-difficulty", "12"], {
  stdio: ["ignore", "inherit", "pipe"],
});
let serverErr = "";
server.stderr.on("data", (d) => (serverErr += d));
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${API_PORT}/healthz`)).ok) break;
  } catch {
    /* not yet */
  }
  if (i > 100) throw new Error(`server did not start: ${serverErr}`);
  await new Promise((r) => setTimeout(r, 100));
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
const PAGES = { "/": "index.html", "/report": "report.html", "/status": "status.html" };
const proxy = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const file = PAGES[url.pathname] || (url.pathname.startsWith("/assets/") ? url.pathname.slice(8) : null);
  if (req.method === "GET" && file && existsSync(join(ASSETS, file))) {
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] || "application/octet-stream", "Content-Security-Policy": "default-src 'self'" });
    res.end(readFileSync(join(ASSETS, file)));
    return;
  }
  const up = request({ host: "127.0.0.1", port: API_PORT, path: req.url, method: req.method, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on("error", () => res.destroy());
  req.pipe(up);
});
await new Promise((r) => proxy.listen(WEB_PORT, "127.0.0.1", r));
const base = `http://127.0.0.1:${WEB_PORT}`;

const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const T = (id) => `[data-testid="${id}"]`;
let passes = 0;
let failures = 0;
async function step(name, fn) {
  try {
    await fn();
    passes++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split("\n").slice(0, 5).join("\n  ")}`);
  }
}
async function page() {
  const p = await browser.newPage();
  p.problems = [];
  p.on("pageerror", (e) => p.problems.push(String(e)));
  p.on("console", (m) => m.type() === "error" && p.problems.push(m.text()));
  return p;
}
const text = (p, sel) => p.$eval(sel, (e) => e.textContent);
const run = (bin, args) => execFileSync(join(BIN, bin), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const fileA = join(tmp, "kwitansi.txt");
writeFileSync(fileA, "Kwitansi Rp 5.000.000\n");
const fileB = join(tmp, "scan.bin");
const bBytes = randomBytes(2 * 1024 * 1024 + 333);
writeFileSync(fileB, bBytes);
let receipt;

await step("the browser submits a report with attachments to wbs-server", async () => {
  const p = await page();
  await p.goto(`${base}/report`, { waitUntil: "networkidle0" });
  await p.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  const cat = await p.$eval(T("report-category"), (s) => s.options[1].value);
  await p.select(T("report-category"), cat);
  await p.type(T("report-title"), "Mark-up proyek jalan");
  await p.type(T("report-body"), "Harga aspal digelembungkan.\nBaris dua: é ✓");
  await p.type("#report-who", "Kepala seksi");
  await (await p.$(T("report-attachments"))).uploadFile(fileA, fileB);
  await p.click(T("report-submit"));
  await p.waitForFunction(
    () => document.querySelector("[data-testid=receipt-code]").textContent || document.querySelector("[data-testid=error]").textContent,
    { timeout: 120_000 },
  );
  assert.equal(await text(p, T("error")), "");
  receipt = await text(p, T("receipt-code"));
  assert.match(receipt, /^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
  assert.deepEqual(p.problems, []);
  await p.close();
});

await step("the browser reads the status from wbs-server", async () => {
  const p = await page();
  await p.goto(`${base}/status`, { waitUntil: "networkidle0" });
  await p.type(T("status-receipt"), receipt.toLowerCase());
  await p.click(T("status-submit"));
  await p.waitForSelector(T("status-value"), { visible: true, timeout: 30_000 });
  assert.equal(await p.$eval(T("status-value"), (e) => e.dataset.status), "received");
  await p.type(T("followup-body"), "Tambahan: foto kedua.");
  await (await p.$(T("followup-attachments"))).uploadFile(fileA);
  await p.click(T("followup-submit"));
  await p.waitForFunction(
    () => document.querySelector("[data-testid=followup-done]").textContent || document.querySelector("[data-testid=error]").textContent,
    { timeout: 120_000 },
  );
  assert.equal(await text(p, T("error")), "");
  assert.deepEqual(p.problems, []);
  await p.close();
});

let caseDir;
await step("wbs-desk pulls and wbs-inspect decrypts what the browser sent", async () => {
  run("wbs-desk", ["pull", "--server", `http://127.0.0.1:${API_PORT}`, "--token-file", join(tmp, "token"), "--out", join(tmp, "export.tar"), "--all"]);
  run("wbs-inspect", ["open", join(tmp, "export.tar"), "--identity", join(KEYS, "demo-inspectorate.key"), "--out", join(tmp, "open")]);
  const ids = readdirSync(join(tmp, "open"));
  assert.equal(ids.length, 1);
  caseDir = join(tmp, "open", ids[0]);
  const report = JSON.parse(readFileSync(join(caseDir, "report.json"), "utf8"));
  assert.equal(report.title, "Mark-up proyek jalan");
  assert.equal(report.body, "Harga aspal digelembungkan.\nBaris dua: é ✓");
  assert.deepEqual(report.details, { who: "Kepala seksi" });
  assert.deepEqual(report.attachments.map((a) => [a.name, a.size]), [["kwitansi.txt", 22], ["scan.bin", bBytes.length]]);
  assert.equal(report.attachments[1].sha256, createHash("sha256").update(bBytes).digest("hex"));
  const followup = readdirSync(join(caseDir, "thread")).find((f) => /followup-001\.json$/.test(f));
  assert.ok(followup, "the follow-up is in the case's thread");
  const doc = JSON.parse(readFileSync(join(caseDir, "thread", followup), "utf8"));
  assert.equal(doc.body, "Tambahan: foto kedua.");
  assert.deepEqual(doc.attachments.map((a) => a.name), ["kwitansi.txt"]);
});

await step("a reply from wbs-inspect is decrypted in the browser with the receipt code", async () => {
  writeFileSync(join(tmp, "reply.txt"), "Terima kasih. Mohon kirim salinan kontrak.");
  run("wbs-inspect", ["reply", "--case", caseDir, "--message", join(tmp, "reply.txt"), "--status", "need_info", "--out", join(tmp, "replies.tar")]);
  run("wbs-desk", ["push", "--server", `http://127.0.0.1:${API_PORT}`, "--token-file", join(tmp, "token"), join(tmp, "replies.tar")]);
  const p = await page();
  await p.goto(`${base}/status?lang=en`, { waitUntil: "networkidle0" });
  await p.type(T("status-receipt"), receipt);
  await p.click(T("status-submit"));
  await p.waitForSelector(T("reply-body"), { timeout: 30_000 });
  assert.equal(await p.$eval(T("status-value"), (e) => e.dataset.status), "need_info");
  assert.equal(await text(p, T("reply-body")), "Terima kasih. Mohon kirim salinan kontrak.");
  await p.close();
});

await browser.close();
proxy.close();
server.kill();
console.log(`${passes} passed, ${failures} failed  (work files in ${tmp})`);
process.exit(failures ? 1 : 0);
