// The browser client against the REAL wbs-server, wbs-desk and wbs-inspect,
// in headless Chromium (playwright-core, the system's /usr/bin/chromium).
// Run with `npm run test:browser` after `cargo build --bins`; see harness.mjs
// for the environment variables.
//
// The tests run in order and share one server: the first five are the
// whole reporter ↔ inspectorate round trip, each step checked with the
// other side's real tool, then a reply forged on the server's side.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { join, basename } from "node:path";
import { randomBytes, createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { startServer, launchBrowser, run, Watch, assertAccessible, tid, LOCALES, ORGANIZATION } from "./harness.mjs";
import { parseReceipt, generateReceipt, formatReceipt, ReceiptError, ALPHABET, lookupKey, replyIdentity, threadKey } from "../../src/lib/receipt.js";
import { recipientOf } from "../../src/lib/envelope.js";
import { encodePadded } from "../../src/lib/message.js";
import { followupAuth, threadKeyWire } from "../../src/lib/thread.js";

const T = { timeout: 180_000 };
const id = LOCALES.id;
const en = LOCALES.en;

let server;
let browser;
let config;
const watches = [];

before(async () => {
  // 4 MiB per encrypted object, so that a too-big attachment is cheap to make.
  server = await startServer({ powDifficulty: 10, limits: { max_object_bytes: 4 << 20 } });
  browser = await launchBrowser();
  config = await (await fetch(`${server.url}/api/v1/config`)).json();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/**
 * A fresh browser context and page for one test; afterwards, nothing it did
 * may have broken a promise of the client (CSP, cookies, other origins).
 */
async function withPage(options, fn) {
  const watch = new Watch(server.url);
  watches.push(watch);
  const ctx = await watch.context(browser, options);
  const page = await ctx.newPage();
  let result;
  try {
    result = await fn(page, ctx, watch);
    const jar = await ctx.cookies();
    assert.deepEqual(jar, [], "the browser holds no cookie");
  } catch (e) {
    e.message += `\n  page: ${page.url()}\n  server log (tail):\n${server.log().split("\n").slice(-15).join("\n")}`;
    throw e;
  } finally {
    await ctx.close();
  }
  assert.deepEqual(await watch.problems(), []);
  return result;
}

/** The report page, once its script has the configuration and filled the categories. */
async function openReport(page, query = "") {
  await page.goto(`${server.url}/report${query}`);
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
}

/** The status page, once its script has set up the forms. */
async function openStatus(page, query = "") {
  await page.goto(`${server.url}/status${query}`);
  await page.waitForFunction(() => document.getElementById("followup-attachments-limits").textContent.length > 0);
}

/** Waits until one of two test ids has text; returns which. */
async function firstText(page, a, b, timeout = 90_000) {
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

async function lookUp(page, receipt) {
  await page.fill(tid("status-receipt"), receipt);
  await page.click(tid("status-submit"));
  const which = await firstText(page, "status-value", "error", 30_000);
  assert.equal(which, "status-value", `lookup failed: ${await page.textContent(tid("error"))}`);
}

/** A locale text with {placeholders} as a pattern. */
const template = (s) => new RegExp(s.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".+?"));
const statusLabel = (status, lang) => config.statuses.find((s) => s.status === status).label[lang];

// What the reporter writes: non-ASCII, several lines, and a binary attachment.
const REPORT = {
  title: "Pungutan liar di loket perizinan — Rp 2.500.000",
  body: "Petugas loket meminta uang tambahan agar izin cepat terbit.\nBaris kedua: é ✓ «kutipan»\n\n  Baris terakhir dengan spasi di depan.",
  where: "Kantor pelayanan terpadu, lantai 2",
};
const ATTACHMENT = { name: "kwitansi scan 01.pdf", mimeType: "application/pdf", buffer: Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(150 * 1024 + 7)]) };
const REPLY = "Terima kasih atas laporan Anda.\nKami sedang menelaahnya; mohon simpan kwitansi aslinya.\n— Inspektorat ✓";
const FOLLOWUP = { body: "Informasi tambahan: kejadian berulang setiap Senin pagi.\nNomor loket: 3 ✓", file: { name: "foto-loket.jpg", mimeType: "image/jpeg", buffer: randomBytes(40 * 1024 + 3) } };

let receipt = null;
let caseDir = null;
const work = () => {
  const d = join(server.tmp, "desk");
  mkdirSync(d, { recursive: true });
  return d;
};
const filesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

test("report: a report with an attachment is encrypted in the page, sent with proof of work, and a receipt code is shown", T, async () => {
  await withPage({}, async (page) => {
    const workers = [];
    page.on("worker", (w) => workers.push(w.url()));
    // The upload, as it leaves the browser (DevTools hands out the body of an intercepted request).
    const uploads = [];
    await page.route("**/api/v1/submissions", (route) => {
      uploads.push(route.request().postDataBuffer());
      return route.continue();
    });

    await openReport(page);
    await page.selectOption(tid("report-category"), "illegal_levy");
    await page.fill(tid("report-title"), REPORT.title);
    await page.fill(tid("report-body"), REPORT.body);
    await page.fill(tid("report-where"), REPORT.where);
    await page.setInputFiles(tid("report-attachments"), ATTACHMENT);
    await page.locator("#report-files li").filter({ hasText: ATTACHMENT.name }).waitFor();
    await assertAccessible(page, "/report, filled in");

    await page.click(tid("report-submit"));
    const which = await firstText(page, "receipt-code", "error");
    assert.equal(which, "receipt-code", `no receipt; the page says: ${await page.textContent(tid("error"))}`);
    receipt = (await page.textContent(tid("receipt-code"))).trim();
    assert.match(receipt, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
    assert.equal(parseReceipt(receipt), receipt.replace(/-/g, ""), "the code's own check symbols hold");
    assert.ok(await page.locator(tid("receipt-code")).isVisible());
    assert.ok(await page.locator("#report-form").isHidden(), "the form gives way to the receipt");
    assert.equal(await page.inputValue(tid("report-title")), "", "inputs are cleared after sending");

    // The proof of work ran in the worker at the server's difficulty.
    assert.equal(config.pow.difficulty, 10);
    assert.ok(workers.some((u) => u === `${server.url}/assets/pow-worker.js`), `workers started: ${workers}`);
    // Encrypted on the device: nothing typed or attached crosses the wire in the clear.
    assert.equal(uploads.length, 1, "one upload");
    const wire = uploads[0];
    assert.ok(wire && wire.length > ATTACHMENT.buffer.length, "the upload carries the encrypted attachment");
    for (const plain of [REPORT.title, REPORT.body.split("\n")[0], REPORT.where, ATTACHMENT.name]) {
      assert.equal(wire.includes(Buffer.from(plain)), false, `"${plain}" was sent in the clear`);
    }
    assert.equal(wire.includes(ATTACHMENT.buffer.subarray(100, 164)), false, "attachment bytes were sent in the clear");
    // …and nothing of it sits in the clear in the server's data folder.
    for (const file of filesUnder(join(server.tmp, "data"))) {
      const stored = readFileSync(file);
      for (const plain of [Buffer.from(REPORT.title), Buffer.from(REPORT.where), ATTACHMENT.buffer.subarray(100, 164)]) {
        assert.equal(stored.includes(plain), false, `${file} holds plaintext`);
      }
    }
    // Nothing is kept on the device.
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ""]);

    // "Save as a file" writes the code alone: no site address, no other word.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(tid("receipt-save"))]);
    assert.equal(download.suggestedFilename(), id["receipt.file_name"]);
    assert.equal(readFileSync(await download.path(), "utf8"), `${receipt}\n`);

    await assertAccessible(page, "receipt view");
  });
});

test("desk: wbs-desk pull and wbs-inspect open give back the exact text and attachment bytes", T, async () => {
  assert.ok(receipt, "needs the report sent by the previous test");
  const dir = work();
  server.desk(["pull", "--out", join(dir, "export-1.tar"), "--all"]);
  run("wbs-inspect", ["open", join(dir, "export-1.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  const ids = readdirSync(join(dir, "cases"));
  assert.equal(ids.length, 1, `one case, got ${ids}`);
  caseDir = join(dir, "cases", ids[0]);

  const report = JSON.parse(readFileSync(join(caseDir, "report.json"), "utf8"));
  assert.equal(report.category, "illegal_levy");
  assert.equal(report.title, REPORT.title);
  assert.equal(report.body, REPORT.body);
  assert.deepEqual(report.details, { where: REPORT.where });
  assert.equal(report.attachments.length, 1);
  assert.equal(report.attachments[0].name, ATTACHMENT.name);
  assert.equal(report.attachments[0].type, ATTACHMENT.mimeType);
  assert.equal(report.attachments[0].size, ATTACHMENT.buffer.length);
  assert.equal(report.attachments[0].sha256, sha256(ATTACHMENT.buffer));
  // The thread key derived from the receipt travels inside the encrypted report.
  const canonical = parseReceipt(receipt);
  assert.equal(report.thread_key, threadKeyWire(threadKey(canonical)));
  assert.equal(report.reply_recipient, await recipientOf(replyIdentity(canonical)));

  const files = readdirSync(join(caseDir, "attachments"));
  assert.equal(files.length, 1, `attachments: ${files}`);
  const bytes = readFileSync(join(caseDir, "attachments", files[0]));
  assert.ok(bytes.equals(ATTACHMENT.buffer), `${files[0]}: the decrypted bytes differ from what was attached`);
});

test("reply: wbs-inspect reply (in_review) and wbs-desk push show on the status page, decrypted in the browser", T, async () => {
  assert.ok(caseDir, "needs the case opened by the previous test");
  const dir = work();
  writeFileSync(join(dir, "reply.txt"), REPLY);
  run("wbs-inspect", ["reply", "--case", caseDir, "--message", join(dir, "reply.txt"), "--status", "in_review", "--out", join(dir, "replies-1.tar")]);
  server.desk(["push", join(dir, "replies-1.tar")]);

  await withPage({}, async (page) => {
    const statusRequests = [];
    page.on("request", (r) => r.url().endsWith("/api/v1/status") && statusRequests.push(r.postDataJSON()));
    await openStatus(page);
    // Typed the forgiving way: lower case, spaces for dashes.
    await lookUp(page, ` ${receipt.toLowerCase().replace(/-/g, " ")} `);
    const value = page.locator(tid("status-value"));
    assert.equal(await value.getAttribute("data-status"), "in_review");
    assert.equal((await value.textContent()).trim(), statusLabel("in_review", "id"));
    const replies = page.locator(tid("reply-body"));
    assert.equal(await replies.count(), 1);
    assert.equal(await replies.textContent(), REPLY);
    // Verified as the inspectorate's: the status it set is confirmed.
    assert.equal(await page.locator(tid("status-reply-withheld")).count(), 0, "a genuine reply is not withheld");
    assert.equal(await page.getAttribute(`${tid("reply-status")}`, "data-status"), "in_review");
    assert.equal(await page.getAttribute(tid("status-current-mark"), "data-confirmed"), "yes");
    assert.equal((await page.textContent(tid("status-current-mark"))).trim(), id["status.confirmed"]);
    assert.equal(await page.locator(`#status-history ${tid("status-confirmed")}`).count(), 1);
    assert.equal(await page.locator(`#status-history ${tid("status-unconfirmed")}`).count(), 0);
    assert.equal(await page.inputValue(tid("status-receipt")), "", "the code is cleared from the input");
    // Only the lookup key went to the server, never the code.
    assert.equal(statusRequests.length, 1);
    assert.deepEqual(Object.keys(statusRequests[0]), ["lookup"]);
    assert.ok(!JSON.stringify(statusRequests[0]).includes(receipt.replace(/-/g, "").slice(0, 10)));
    await assertAccessible(page, "status page after a lookup, with a reply");
  });
});

test("follow-up: sent from the status page, it arrives in the next wbs-desk pull, once even when the answer was lost", T, async () => {
  assert.ok(caseDir, "needs the case opened earlier");
  await withPage({}, async (page) => {
    await openStatus(page);
    await lookUp(page, receipt);
    await page.fill(tid("followup-body"), FOLLOWUP.body);
    await page.setInputFiles(tid("followup-attachments"), FOLLOWUP.file);
    await page.locator("#followup-files li").filter({ hasText: FOLLOWUP.file.name }).waitFor();
    // The first attempt reaches the server and is stored, but its answer is
    // lost on the way back (the connection is cut): the page says the
    // network failed, and the reporter presses send again.
    const bodies = [];
    await page.route("**/api/v1/followups", async (route) => {
      bodies.push(route.request().postDataBuffer());
      const answer = await route.fetch();
      if (bodies.length === 1) {
        assert.equal(answer.status(), 201, "the first attempt was stored");
        await route.abort("connectionreset");
      } else {
        await route.fulfill({ response: answer });
      }
    });
    await page.click(tid("followup-submit"));
    assert.equal(await firstText(page, "followup-done", "error"), "error");
    await page.click(tid("followup-submit"));
    await page.locator(tid("followup-done")).filter({ hasText: id["followup.done"] }).waitFor();
    assert.equal(bodies.length, 2);
    // The same encrypted message went out twice (only the proof of work,
    // in `meta`, may differ), so the server kept one follow-up.
    const ages = bodies.map((b) => {
      const text = b.toString("latin1");
      const boundary = text.slice(0, text.indexOf("\r\n"));
      return text
        .split(boundary)
        .map((part) => part.slice(part.indexOf("\r\n\r\n") + 4))
        .filter((content) => content.startsWith("age-encryption.org/v1"));
    });
    assert.equal(ages[0].length, 2, "message and attachment");
    assert.deepEqual(ages[0], ages[1], "the resend carried the same ciphertexts");
    const which = "followup-done";
    assert.equal(which, "followup-done", `follow-up failed: ${await page.textContent(tid("error"))}`);
    assert.equal((await page.textContent(tid("followup-done"))).trim(), id["followup.done"]);
    assert.equal(await page.inputValue(tid("followup-body")), "");
    // The page reloads the status: the server now counts one follow-up.
    await page.waitForFunction(() => /1/.test(document.getElementById("status-followups").textContent));
  });

  const dir = work();
  server.desk(["pull", "--out", join(dir, "export-2.tar")]); // from the saved cursor: only what is new
  run("wbs-inspect", ["open", join(dir, "export-2.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  const thread = join(caseDir, "thread");
  const doc = readdirSync(thread).find((f) => /-followup-001\.json$/.test(f));
  assert.ok(doc, `no follow-up in ${thread}: ${readdirSync(thread)}`);
  assert.ok(!readdirSync(thread).some((f) => /-followup-002/.test(f)), `stored twice: ${readdirSync(thread)}`);
  assert.ok(!existsSync(join(caseDir, "unverified")) || readdirSync(join(caseDir, "unverified")).length === 0, "wbs-inspect kept something apart as unverified");
  const followup = JSON.parse(readFileSync(join(thread, doc), "utf8"));
  assert.equal(followup.body, FOLLOWUP.body);
  // Authenticated with the thread key: a random id, and the authenticator over it and the content.
  assert.match(followup.id, /^[A-Za-z0-9_-]{22}$/);
  const canonical = parseReceipt(receipt);
  assert.equal(followup.auth, followupAuth(threadKey(canonical), await recipientOf(replyIdentity(canonical)), followup));
  assert.deepEqual(
    followup.attachments.map((a) => [a.name, a.size, a.sha256]),
    [[FOLLOWUP.file.name, FOLLOWUP.file.buffer.length, sha256(FOLLOWUP.file.buffer)]],
  );
  const attDir = join(thread, doc.replace(/\.json$/, "-attachments"));
  assert.ok(existsSync(attDir), `${attDir} missing`);
  const [att] = readdirSync(attDir);
  assert.ok(readFileSync(join(attDir, att)).equals(FOLLOWUP.file.buffer), "follow-up attachment bytes differ");
});

/** A POSIX ustar archive as PROTOCOL.md §8 asks: mode 0644, mtime 0, uid/gid 0, no owner names. */
function ustar(files) {
  const blocks = [];
  for (const [name, data] of files) {
    const h = Buffer.alloc(512);
    const put = (s, at) => h.write(s, at, "ascii");
    const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";
    put(name, 0);
    put(octal(0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(data.length, 12), 124);
    put(octal(0, 12), 136);
    put("        ", 148);
    put("0", 156);
    put("ustar\0", 257);
    put("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** A reply bundle (PROTOCOL.md §8.2) with one item for the case: a status and/or an age file. */
function replyBundle(caseId, itemId, { status, age }) {
  const item = { id: itemId, case_id: caseId };
  if (status) item.status = status;
  const files = [];
  if (age) {
    const path = `replies/${itemId}.age`;
    item.reply = { path, size: age.length, sha256: sha256(age) };
    files.push([path, age]);
  }
  const manifest = Buffer.from(JSON.stringify({ format: "wbs-replies/1", items: [item] }));
  return ustar([["replies.json", manifest], ...files]);
}

const FORGED = "Sebutkan nama Anda";

test("forged reply: encrypted with plain age and pushed with a desk token, it is withheld and its status stays unconfirmed", T, async () => {
  assert.ok(caseDir, "needs the case opened earlier");
  const dir = work();
  const caseId = basename(caseDir);
  const replyRecipient = await recipientOf(replyIdentity(parseReceipt(receipt)));
  // What anyone with a desk token (or the server itself) can make: both
  // recipients are public, so encryption alone proves nothing.
  writeFileSync(join(dir, "forged.json"), encodePadded({ format: "wbs-reply/1", body: FORGED }));
  const args = ["-r", replyRecipient, ...config.recipients.flatMap((r) => ["-r", r]), "-o", join(dir, "forged.age"), join(dir, "forged.json")];
  execFileSync("age", args, { stdio: ["ignore", "ignore", "pipe"] });
  writeFileSync(join(dir, "forged.tar"), replyBundle(caseId, "forged-1", { status: "need_info", age: readFileSync(join(dir, "forged.age")) }));
  server.desk(["push", join(dir, "forged.tar")]);
  // …and the genuine reply replayed by the server under a new item: still one message.
  const answer = await (
    await fetch(`${server.url}/api/v1/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ lookup: lookupKey(parseReceipt(receipt)) }),
    })
  ).json();
  assert.equal(answer.replies.length, 2);
  const genuine = answer.replies.map((r) => Buffer.from(r.age, "base64")).find((b) => !b.equals(readFileSync(join(dir, "forged.age"))));
  writeFileSync(join(dir, "replay.tar"), replyBundle(caseId, "replay-1", { age: genuine }));
  server.desk(["push", join(dir, "replay.tar")]);

  await withPage({}, async (page) => {
    await openStatus(page);
    await lookUp(page, receipt);
    // The server's status is shown, marked as the server's word only.
    assert.equal(await page.getAttribute(tid("status-value"), "data-status"), "need_info");
    const mark = page.locator(tid("status-current-mark"));
    assert.equal(await mark.getAttribute("data-confirmed"), "no");
    assert.equal((await mark.textContent()).trim(), id["status.unconfirmed"]);
    const history = await page.locator("#status-history li").evaluateAll((lis) =>
      lis.map((li) => [li.textContent, li.querySelector("[data-testid^=status-]")?.dataset.testid ?? null]),
    );
    assert.deepEqual(
      history.map(([text, mark]) => [config.statuses.find((s) => text.includes(s.label.id))?.status, mark]),
      [
        ["received", null],
        ["in_review", "status-confirmed"],
        ["need_info", "status-unconfirmed"],
      ],
    );
    // The forged text appears nowhere, the withheld notice does.
    const withheld = page.locator(tid("status-reply-withheld"));
    assert.ok(await withheld.isVisible());
    const notice = await withheld.textContent();
    assert.ok(notice.includes(id["status.withheld_one"].replace("{n}", "1")), notice);
    assert.ok(notice.includes(id["status.withheld_why"]), notice);
    assert.ok(!(await page.content()).includes(FORGED), "the forged text is in the page");
    assert.ok(!(await page.locator("body").innerText()).includes(FORGED));
    // The genuine reply, replayed, is shown once.
    assert.deepEqual(await page.locator(tid("reply-body")).allTextContents(), [REPLY]);
    await assertAccessible(page, "status page with a withheld reply");

    // In English too.
    await page.click(tid("lang-switch"));
    await page.waitForFunction(() => document.documentElement.lang === "en");
    assert.ok((await withheld.textContent()).includes(en["status.withheld_one"].replace("{n}", "1")));
    assert.equal((await mark.textContent()).trim(), en["status.unconfirmed"]);
    assert.ok(!(await page.content()).includes(FORGED));
  });
});

test("receipt typo: reported in the page (role=alert) without any request to /api/v1/status", T, async () => {
  // A one-symbol substitution that the two check symbols catch (they miss 1 in 1024: pick a caught one).
  const good = generateReceipt();
  let typo = null;
  for (let i = 0; i < 18 && !typo; i++) {
    for (const c of ALPHABET) {
      if (c === good[i]) continue;
      const candidate = good.slice(0, i) + c + good.slice(i + 1);
      try {
        parseReceipt(candidate);
      } catch (e) {
        if (e instanceof ReceiptError && e.kind === "checksum") {
          typo = formatReceipt(candidate);
          break;
        }
      }
    }
  }
  assert.ok(typo);

  await withPage({}, async (page) => {
    const statusRequests = [];
    page.on("request", (r) => r.url().includes("/api/v1/status") && statusRequests.push(r.url()));
    await openStatus(page);
    const cases = [
      [typo, id["error.receipt_checksum"]],
      [`${typo.slice(0, 6)}U${typo.slice(7)}`, id["error.receipt_symbol"].replace("{position}", "6")],
      [typo.slice(0, 20), id["error.receipt_length"].replace("{found}", "17")],
    ];
    for (const [code, message] of cases) {
      await page.fill(tid("status-receipt"), code);
      await page.click(tid("status-submit"));
      const error = page.getByRole("alert");
      await error.filter({ hasText: message }).waitFor();
      assert.equal(await error.getAttribute("data-testid"), "error");
      assert.ok(await error.isVisible());
      assert.equal(await page.getAttribute(tid("status-receipt"), "aria-invalid"), "true");
      assert.ok(await page.locator("#status-result").isHidden());
    }
    assert.deepEqual(statusRequests, [], "a typo must not reach the server");
    // The watch does see a lookup when there is one: the real code goes out, once.
    await lookUp(page, receipt);
    assert.equal(statusRequests.length, 1);
    assert.equal(await page.textContent(tid("error")), "", "the alert is cleared");
  });
});

test("unknown receipt code: the server's 404 is shown as 'no report with this code'", T, async () => {
  await withPage({}, async (page) => {
    const answers = [];
    page.on("response", (r) => r.url().endsWith("/api/v1/status") && answers.push(r.status()));
    await openStatus(page);
    await page.fill(tid("status-receipt"), formatReceipt(generateReceipt()));
    await page.click(tid("status-submit"));
    await page.getByRole("alert").filter({ hasText: id["error.not_found"] }).waitFor();
    assert.deepEqual(answers, [404]);
    assert.ok(await page.locator("#status-result").isHidden());
  });
});

test("no JavaScript: /, /report and /status show the noscript explanation, in both languages", T, async () => {
  await withPage({ javaScriptEnabled: false }, async (page) => {
    for (const path of ["/", "/report", "/status"]) {
      await page.goto(`${server.url}${path}`);
      const box = page.locator("section.noscript");
      assert.ok(await box.isVisible(), `${path}: the noscript box is not visible`);
      const text = await box.innerText();
      for (const s of [id["noscript.title"], en["noscript.title"], "wbs-report submit --server"]) {
        assert.ok(text.includes(s), `${path}: "${s}" missing from the noscript box`);
      }
      assert.equal(await page.locator("h1").first().textContent(), path === "/" ? id["landing.title"] : id[`${path.slice(1)}.title`]);
      if (path !== "/") assert.ok(await page.locator("#app").isHidden(), `${path}: the form must stay hidden without JavaScript`);
    }
  });
});

test("language switch: Indonesian by default, English after the switch, and back", T, async () => {
  await withPage({}, async (page) => {
    const loads = [];
    page.on("load", () => loads.push(page.url()));
    await openReport(page);
    const sw = page.locator(tid("lang-switch"));
    const state = async () => ({
      lang: await page.getAttribute("html", "lang"),
      h1: await page.textContent("h1"),
      submit: await page.textContent(tid("report-submit")),
      switchText: await sw.textContent(),
      category: await page.textContent(`${tid("report-category")} option[value="illegal_levy"]`),
      nav: await page.getAttribute('.site-nav a[data-nav="/status"]', "href"),
    });
    assert.deepEqual(await state(), {
      lang: "id",
      h1: id["report.title"],
      submit: id["report.submit"],
      switchText: id["lang.switch"],
      category: "Pungutan liar",
      nav: "/status",
    });
    await page.fill(tid("report-title"), "tetap ada");
    await sw.click();
    await page.waitForFunction(() => document.documentElement.lang === "en");
    assert.deepEqual(await state(), {
      lang: "en",
      h1: en["report.title"],
      submit: en["report.submit"],
      switchText: en["lang.switch"],
      category: "Illegal levies",
      nav: "/status?lang=en",
    });
    assert.match(page.url(), /\/report\?lang=en$/);
    assert.equal(await page.inputValue(tid("report-title")), "tetap ada", "switching keeps what was typed");
    await sw.click();
    await page.waitForFunction(() => document.documentElement.lang === "id");
    assert.equal(await page.textContent("h1"), id["report.title"]);
    assert.doesNotMatch(page.url(), /lang=/);
    assert.equal(loads.length, 1, "the switch does not reload the page");

    // A link with ?lang=en opens in English.
    await openStatus(page, "?lang=en");
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.equal(await page.textContent("h1"), en["status.title"]);
  });
});

test("accessibility: axe-core finds no serious or critical violation on /, /report and /status", T, async (t) => {
  await withPage({}, async (page) => {
    for (const [path, ready] of [
      ["/", () => page.waitForFunction((org) => document.querySelector("[data-org]").textContent === org, ORGANIZATION)],
      ["/report", () => openReport(page)],
      ["/status", () => openStatus(page)],
      ["/report?lang=en", () => openReport(page, "?lang=en")],
    ]) {
      if (path === "/") await page.goto(`${server.url}/`);
      await ready();
      const minor = await assertAccessible(page, path);
      for (const v of minor) t.diagnostic(`axe ${path}: [${v.impact}] ${v.id} ${v.nodes.join(", ")}`);
    }
    // The report form's own error state.
    await openReport(page);
    await page.click(tid("report-submit"));
    await page.getByRole("alert").filter({ hasText: id["error.required_category"] }).waitFor();
    await assertAccessible(page, "/report with validation errors");
  });
});

test("report validation: an empty form shows every missing field and sends nothing", T, async () => {
  await withPage({}, async (page) => {
    const api = [];
    await openReport(page);
    page.on("request", (r) => r.url().includes("/api/") && api.push(r.url()));
    await page.click(tid("report-submit"));
    const alert = page.getByRole("alert");
    await alert.filter({ hasText: id["error.required_category"] }).waitFor();
    for (const k of ["error.required_title", "error.required_body"]) assert.ok((await alert.textContent()).includes(id[k]));
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), "report-category");
    assert.equal(await page.getAttribute(tid("report-title"), "aria-invalid"), "true");
    assert.deepEqual(api, []);
  });
});

test("attachments: a file over the server's limit is refused in the page, before any upload", T, async () => {
  await withPage({}, async (page) => {
    const api = [];
    await openReport(page);
    page.on("request", (r) => r.url().includes("/api/") && api.push(r.url()));
    const big = { name: "rekaman-besar.mp4", mimeType: "video/mp4", buffer: Buffer.alloc(5 << 20, 7) };
    await page.setInputFiles(tid("report-attachments"), [big, ATTACHMENT]);
    const alert = page.getByRole("alert");
    await alert.filter({ hasText: big.name }).waitFor();
    assert.match(await alert.textContent(), template(id["error.file_too_big"]));
    // The other file is taken, the big one is not.
    await page.locator("#report-files li").filter({ hasText: ATTACHMENT.name }).waitFor();
    assert.equal(await page.locator("#report-files li").count(), 1);
    assert.deepEqual(api, []);
  });
});

test("keyboard only: skip link, category, title, body, and Enter sends the report", T, async () => {
  await withPage({}, async (page) => {
    await openReport(page);
    const focused = () => page.evaluate(() => document.activeElement.dataset.testid || document.activeElement.id || document.activeElement.className);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "skip");
    await page.keyboard.press("Enter");
    assert.equal(await focused(), "main");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "report-category");
    await page.keyboard.press("ArrowDown");
    assert.notEqual(await page.inputValue(tid("report-category")), "");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "report-title");
    await page.keyboard.type("Dari papan ketik saja");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "report-body");
    await page.keyboard.type("Isi laporan, diketik tanpa tetikus.");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Enter"); // implicit submission from the title field
    assert.equal(await firstText(page, "receipt-code", "error"), "receipt-code", await page.textContent(tid("error")));
    assert.equal(await focused(), "receipt", "focus moves to the receipt");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "receipt-copy");
  });
});

test("lost answer: after a cut connection the retry meets 409 and shows the stored report's code", T, async () => {
  await withPage({}, async (page) => {
    await openReport(page);
    await page.selectOption(tid("report-category"), "other");
    await page.fill(tid("report-title"), "Jawaban hilang");
    await page.fill(tid("report-body"), "Server menyimpan, tetapi jawabannya tidak sampai.");
    // The first upload reaches the real server; its answer is then cut off.
    let stored = null;
    await page.route("**/api/v1/submissions", async (route) => {
      stored = (await route.fetch()).status();
      await route.abort("connectionreset");
    }, { times: 1 });
    await page.click(tid("report-submit"));
    await page.getByRole("alert").filter({ hasText: id["error.network"] }).waitFor({ timeout: 90_000 });
    assert.equal(stored, 201, "the server stored the first attempt");
    await page.click(tid("report-submit"));
    assert.equal(await firstText(page, "receipt-code", "error"), "receipt-code", await page.textContent(tid("error")));
    assert.ok(await page.locator("#receipt-earlier").isVisible(), "the page says an earlier attempt arrived");
    const code = (await page.textContent(tid("receipt-code"))).trim();
    // That code finds the stored report.
    await openStatus(page);
    await lookUp(page, code);
    assert.equal(await page.getAttribute(tid("status-value"), "data-status"), "received");
  });
});

test("keys: the report page lists the keys it encrypts to; no demo warning with the inspectorate's own key", T, async () => {
  await withPage({}, async (page) => {
    await openReport(page);
    assert.equal(await page.locator(tid("demo-warning")).isHidden(), true);
    const listed = await page.locator(`${tid("report-keys")} code`).allTextContents();
    assert.deepEqual(listed, config.recipients);
    await page.locator(`${tid("report-keys")} summary`).click();
    assert.equal(await page.locator(`${tid("report-keys")} code`).first().isVisible(), true);
  });
});

test("demo key: every page warns (role=alert) that anyone can read reports sent to this server", T, async () => {
  const demo = await startServer({ powDifficulty: 0, demoKey: true });
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    for (const path of ["/", "/report", "/status"]) {
      await page.goto(`${demo.url}${path}`);
      const warning = page.locator(tid("demo-warning"));
      await warning.waitFor({ state: "visible" });
      assert.equal(await warning.getAttribute("role"), "alert");
      assert.ok((await warning.textContent()).includes(id["demo.title"]), path);
    }
    await page.goto(`${demo.url}/report?lang=en`);
    await page.locator(tid("demo-warning")).waitFor({ state: "visible" });
    assert.ok((await page.textContent(tid("demo-warning"))).includes(en["demo.title"]));
    await ctx.close();
  } finally {
    await demo.stop();
  }
});

test("hygiene: no CSP violation, page error, cookie or request to another origin in any page of this run", T, async () => {
  const all = [];
  for (const w of watches) all.push(...(await w.problems()));
  assert.deepEqual(all, []);
  const requests = watches.flatMap((w) => w.requests);
  assert.ok(requests.some((u) => u.endsWith("/api/v1/submissions")) && requests.some((u) => u.endsWith("/api/v1/status")), "the watch saw the API traffic");

  // The CSP watch is live: an inline script injected into a real page is caught.
  const probe = new Watch(server.url);
  const ctx = await probe.context(browser);
  try {
    const page = await ctx.newPage();
    await page.goto(`${server.url}/status`);
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.head.append(s);
    });
    const deadline = Date.now() + 10_000;
    while (probe.csp.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(probe.csp.length > 0, "an inline script was not reported as a CSP violation");
    assert.equal(await page.evaluate(() => window.__inline), undefined, "the inline script ran");
  } finally {
    await ctx.close();
  }
});
