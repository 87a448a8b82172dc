// A post-quantum deployment (issue 15), end to end: the REAL wbs-server
// configured with an mlkem768x25519 recipient (`age1pq1…`, made by typage),
// the browser client in headless Chromium, and the real wbs-desk and
// wbs-inspect on the inspectorate's side. Run with `npm run test:browser`
// after `cargo build --bins`.
//
// The tests run in order and share one server: submit in the page (a
// 28-symbol code, a post-quantum reply recipient, a stored report whose only
// stanzas are mlkem768x25519), pull and open with the post-quantum identity,
// reply and push, read the verified reply on the status page, and send a
// follow-up that the inspectorate's tools verify.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startServer, launchBrowser, run, Watch, tid, LOCALES } from "./harness.mjs";
import { parseReceipt, formatReceipt, lookupKey, replyIdentityPq, threadKey } from "../../src/lib/receipt.js";
import { recipientOf } from "../../src/lib/envelope.js";
import { followupAuth, threadKeyWire } from "../../src/lib/thread.js";

const T = { timeout: 240_000 };
const id = LOCALES.id;

let server;
let browser;
let config;

before(async () => {
  server = await startServer({ pq: true, powDifficulty: 8 });
  browser = await launchBrowser();
  config = await (await fetch(`${server.url}/api/v1/config`)).json();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** A fresh context and page; afterwards nothing it did may break a promise of the client. */
async function withPage(fn) {
  const watch = new Watch(server.url);
  const ctx = await watch.context(browser);
  const page = await ctx.newPage();
  try {
    await fn(page);
  } catch (e) {
    e.message += `\n  page: ${page.url()}\n  server log (tail):\n${server.log().split("\n").slice(-15).join("\n")}`;
    throw e;
  } finally {
    await ctx.close();
  }
  assert.deepEqual(await watch.problems(), []);
}

async function firstText(page, a, b, timeout = 120_000) {
  const h = await page.waitForFunction(
    ([x, y]) => {
      const tx = document.querySelector(`[data-testid=${x}]`)?.textContent;
      const ty = document.querySelector(`[data-testid=${y}]`)?.textContent;
      return tx ? x : ty ? y : null;
    },
    [a, b],
    { timeout },
  );
  return h.jsonValue();
}

async function openStatus(page) {
  await page.goto(`${server.url}/status`);
  await page.waitForFunction(() => document.getElementById("followup-attachments-limits").textContent.length > 0);
}

async function lookUp(page, receipt) {
  await page.fill(tid("status-receipt"), receipt);
  await page.click(tid("status-submit"));
  const which = await firstText(page, "status-value", "error", 60_000);
  assert.equal(which, "status-value", `lookup failed: ${await page.textContent(tid("error"))}`);
}

/** The stanza types of an age file's header, in order. */
function stanzaTypes(bytes) {
  const text = bytes.subarray(0, Math.min(bytes.length, 64 * 1024)).toString("latin1");
  assert.ok(text.startsWith("age-encryption.org/v1\n"), "an age v1 file");
  const header = text.slice(0, text.indexOf("\n--- "));
  assert.ok(header.length > 0, "the header ends in its MAC line");
  return [...header.matchAll(/^-> (\S+)/gm)].map((m) => m[1]);
}

/** Only mlkem768x25519 stanzas, one per `n` recipients, besides a grease stanza (type ending in -grease) if any. */
function assertOnlyPq(bytes, n, what) {
  const types = stanzaTypes(bytes);
  const real = types.filter((t) => !/-grease$/.test(t));
  assert.ok(types.length - real.length <= 1, `${what}: at most one grease stanza, got ${types}`);
  assert.deepEqual(real, Array(n).fill("mlkem768x25519"), `${what}: stanzas ${types}`);
}

const filesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
const work = () => {
  const d = join(server.tmp, "desk");
  mkdirSync(d, { recursive: true });
  return d;
};

const REPORT = { title: "Pungutan liar — laporan pasca-kuantum", body: "Isi laporan.\nBaris kedua ✓" };
const ATTACHMENT = { name: "bukti.bin", mimeType: "application/octet-stream", buffer: randomBytes(70 * 1024 + 5) };
const REPLY = "Terima kasih. Laporan Anda kami telaah.\n— Inspektorat ✓";
const FOLLOWUP = "Informasi tambahan untuk kasus pasca-kuantum ✓";

let receipt = null;
let caseDir = null;

test("PQ report: the server lists age1pq1 recipients; the page makes a 28-symbol code, sends a PQ reply recipient, and the server stores only mlkem768x25519 stanzas", T, async () => {
  assert.ok(config.recipients.length > 0 && config.recipients.every((r) => r.startsWith("age1pq1")), `recipients: ${config.recipients}`);
  await withPage(async (page) => {
    const uploads = [];
    await page.route("**/api/v1/submissions", (route) => {
      uploads.push(route.request().postDataBuffer());
      return route.continue();
    });
    await page.goto(`${server.url}/report`);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
    const category = await page.$eval(tid("report-category"), (s) => s.options[1].value);
    await page.selectOption(tid("report-category"), category);
    await page.fill(tid("report-title"), REPORT.title);
    await page.fill(tid("report-body"), REPORT.body);
    await page.setInputFiles(tid("report-attachments"), ATTACHMENT);
    await page.locator("#report-files li").filter({ hasText: ATTACHMENT.name }).waitFor();
    await page.click(tid("report-submit"));
    const which = await firstText(page, "receipt-code", "error");
    assert.equal(which, "receipt-code", `no receipt; the page says: ${await page.textContent(tid("error"))}`);
    receipt = (await page.textContent(tid("receipt-code"))).trim();
    // Seven groups of four: 26 random symbols (130 bits) and two check symbols.
    assert.match(receipt, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
    assert.equal(formatReceipt(parseReceipt(receipt)), receipt);

    // The reply recipient sent is the post-quantum one of the code.
    assert.equal(uploads.length, 1);
    const wire = uploads[0].toString("latin1");
    const meta = JSON.parse(/name="meta"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]+)\r\n/.exec(wire)[1]);
    const canonical = parseReceipt(receipt);
    assert.match(meta.reply_recipient, /^age1pq1/);
    assert.equal(meta.reply_recipient, await recipientOf(replyIdentityPq(canonical)));
    assert.equal(meta.lookup, lookupKey(canonical));
    for (const plain of [REPORT.title, ATTACHMENT.name]) assert.equal(uploads[0].includes(Buffer.from(plain)), false, `"${plain}" sent in the clear`);
  });

  // What the server keeps: two age files (the report and the attachment),
  // each with an mlkem768x25519 stanza only.
  const stored = filesUnder(join(server.tmp, "data"))
    .map((f) => readFileSync(f))
    .filter((b) => b.subarray(0, 22).toString("latin1") === "age-encryption.org/v1\n");
  assert.equal(stored.length, 2, "the report and its attachment are stored as age files");
  for (const b of stored) assertOnlyPq(b, config.recipients.length, "stored object");
});

test("PQ desk: wbs-desk pull and wbs-inspect open with the PQ identity give back the report, its PQ reply recipient and the attachment", T, async () => {
  assert.ok(receipt, "needs the report sent by the previous test");
  const dir = work();
  server.desk(["pull", "--out", join(dir, "export-1.tar"), "--all"]);
  run("wbs-inspect", ["open", join(dir, "export-1.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  const ids = readdirSync(join(dir, "cases"));
  assert.equal(ids.length, 1, `one case, got ${ids}`);
  caseDir = join(dir, "cases", ids[0]);
  const report = JSON.parse(readFileSync(join(caseDir, "report.json"), "utf8"));
  assert.equal(report.title, REPORT.title);
  assert.equal(report.body, REPORT.body);
  const canonical = parseReceipt(receipt);
  assert.equal(report.reply_recipient, await recipientOf(replyIdentityPq(canonical)));
  assert.equal(report.thread_key, threadKeyWire(threadKey(canonical)));
  const [file] = readdirSync(join(caseDir, "attachments"));
  assert.ok(readFileSync(join(caseDir, "attachments", file)).equals(ATTACHMENT.buffer), "attachment bytes differ");
});

test("PQ reply: wbs-inspect reply and wbs-desk push; the reply is post-quantum and the status page shows it verified", T, async () => {
  assert.ok(caseDir, "needs the case opened by the previous test");
  const dir = work();
  writeFileSync(join(dir, "reply.txt"), REPLY);
  run("wbs-inspect", ["reply", "--case", caseDir, "--message", join(dir, "reply.txt"), "--status", "in_review", "--out", join(dir, "replies-1.tar")]);
  server.desk(["push", join(dir, "replies-1.tar")]);

  // The reply as the server hands it out: post-quantum stanzas only (the
  // reporter's reply recipient, and the inspectorate's if it is added).
  const answer = await (
    await fetch(`${server.url}/api/v1/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ lookup: lookupKey(parseReceipt(receipt)) }),
    })
  ).json();
  assert.equal(answer.replies.length, 1);
  const types = stanzaTypes(Buffer.from(answer.replies[0].age, "base64")).filter((t) => !/-grease$/.test(t));
  assert.ok(types.length >= 1 && types.every((t) => t === "mlkem768x25519"), `reply stanzas: ${types}`);

  await withPage(async (page) => {
    await openStatus(page);
    await lookUp(page, receipt.toLowerCase());
    assert.equal(await page.getAttribute(tid("status-value"), "data-status"), "in_review");
    assert.deepEqual(await page.locator(tid("reply-body")).allTextContents(), [REPLY]);
    assert.equal(await page.locator(tid("status-reply-withheld")).count(), 0, "the genuine reply is not withheld");
    assert.equal(await page.getAttribute(tid("status-current-mark"), "data-confirmed"), "yes");
    assert.equal((await page.textContent(tid("status-current-mark"))).trim(), id["status.confirmed"]);
  });
});

test("PQ follow-up: sent from the status page, opened with the PQ identity, its authenticator names the PQ reply recipient", T, async () => {
  assert.ok(caseDir, "needs the case opened earlier");
  await withPage(async (page) => {
    await openStatus(page);
    await lookUp(page, receipt);
    await page.fill(tid("followup-body"), FOLLOWUP);
    await page.click(tid("followup-submit"));
    assert.equal(await firstText(page, "followup-done", "error"), "followup-done", `follow-up failed: ${await page.textContent(tid("error"))}`);
  });
  const stored = filesUnder(join(server.tmp, "data"))
    .map((f) => readFileSync(f))
    .filter((b) => b.subarray(0, 22).toString("latin1") === "age-encryption.org/v1\n");
  assert.ok(stored.length >= 3, `report, attachment and follow-up stored as age files (${stored.length})`);
  for (const b of stored) {
    const types = stanzaTypes(b).filter((t) => !/-grease$/.test(t));
    assert.ok(types.every((t) => t === "mlkem768x25519"), `stored stanzas: ${types}`);
  }

  const dir = work();
  server.desk(["pull", "--out", join(dir, "export-2.tar")]);
  run("wbs-inspect", ["open", join(dir, "export-2.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  const thread = join(caseDir, "thread");
  const doc = readdirSync(thread).find((f) => /-followup-001\.json$/.test(f));
  assert.ok(doc, `no follow-up in ${thread}: ${readdirSync(thread)}`);
  assert.ok(!existsSync(join(caseDir, "unverified")) || readdirSync(join(caseDir, "unverified")).length === 0, "wbs-inspect kept something apart as unverified");
  const followup = JSON.parse(readFileSync(join(thread, doc), "utf8"));
  assert.equal(followup.body, FOLLOWUP);
  const canonical = parseReceipt(receipt);
  assert.equal(followup.auth, followupAuth(threadKey(canonical), await recipientOf(replyIdentityPq(canonical)), followup));
});
