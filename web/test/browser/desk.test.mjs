// The desk pages against the REAL wbs-server and wbs-inspect, in headless
// Chromium at 390 px: TOTP enrolment with `wbs-server token add --totp`,
// login (wrong token, wrong code and a replayed code refused), the case
// overview with its deadline clocks, the export bundle opened with
// wbs-inspect, the reply bundle uploaded, statuses, the audit log, a
// cookie stolen without its CSRF token, and logout.
//
// The tests run in order and share one server and one desk tab.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { startServer, launchBrowser, run, Watch, assertAccessible, tid, LOCALES } from "./harness.mjs";

const T = { timeout: 180_000 };
const desk = {
  id: JSON.parse(readFileSync(new URL("../../src/locales/desk-id.json", import.meta.url), "utf8")),
  en: JSON.parse(readFileSync(new URL("../../src/locales/desk-en.json", import.meta.url), "utf8")),
};
const id = { ...LOCALES.id, ...desk.id };

let server;
let browser;
let watch;
let ctx;
let page;
let token;
let secret;
let lastStep = -1;
let receipt;
let caseId;
let caseDir;
let csrfToken;
let cookie;

// ---- TOTP, computed here from the otpauth:// secret (RFC 6238, SHA-1) -------

function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totpAt(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

const nowStep = () => Math.floor(Date.now() / 1000 / 30);

/** A code the server has not seen yet: the current step's, or the next one's (±1 step is accepted). */
function freshCode() {
  const step = Math.max(nowStep(), lastStep + 1);
  assert.ok(step <= nowStep() + 1, "no unused code within the accepted window; the test logged in too often");
  lastStep = step;
  return totpAt(secret, step);
}

// ---- set-up ----------------------------------------------------------------

before(async () => {
  server = await startServer({ powDifficulty: 10 });
  browser = await launchBrowser();
  const out = run("wbs-server", ["--config", join(server.tmp, "wbs.toml"), "token", "add", "siti", "--totp"]);
  const lines = out.trim().split("\n");
  token = lines[lines.length - 1].trim();
  const uri = lines.find((l) => l.startsWith("otpauth://"));
  assert.ok(uri, `no otpauth:// URI in:\n${out}`);
  const u = new URL(uri);
  assert.equal(u.searchParams.get("algorithm"), "SHA1");
  assert.equal(u.searchParams.get("digits"), "6");
  assert.equal(u.searchParams.get("period"), "30");
  secret = base32Decode(u.searchParams.get("secret"));
  assert.ok(secret.length >= 16, "a secret of at least 128 bits");
  watch = new Watch(server.url);
  ctx = await watch.context(browser);
  page = await ctx.newPage();
});

after(async () => {
  await ctx?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** The page fits 390 px: nothing wider than the viewport. */
async function assertFits(p, label) {
  const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `${label}: ${scroll} px wide in a ${inner} px viewport`);
}

async function errorText(p) {
  await p.waitForFunction(() => document.querySelector("[data-testid=error]").textContent.length > 0);
  return (await p.textContent(tid("error"))).trim();
}

async function login(p, tok, code) {
  await p.fill(tid("desk-token"), tok);
  await p.fill(tid("desk-totp"), code);
  await p.click(tid("desk-login"));
}

/** A desk API call from Node with a raw cookie, as a thief holding only its value would make it. */
function raw(path, init = {}) {
  return fetch(`${server.url}${path}`, { ...init, headers: { Cookie: cookie, ...(init.headers || {}) }, redirect: "manual" });
}

// ---- tests -----------------------------------------------------------------

test("login: wrong token, wrong code and a replayed code are refused; the right code opens the desk", T, async () => {
  await page.goto(`${server.url}/desk`);
  await page.locator(tid("desk-token")).waitFor();
  assert.ok(await page.locator("#desk-app").isHidden());
  await assertAccessible(page, "/desk, login");
  await assertFits(page, "login");

  // A token nobody has, with a good code of siti's.
  await login(page, "wbs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", totpAt(secret, nowStep()));
  assert.equal(await errorText(page), id["desk.error.login"]);
  // siti's token with a code that is none of the accepted window's.
  const window = new Set([-1, 0, 1].map((d) => totpAt(secret, nowStep() + d)));
  let wrong = "000000";
  while (window.has(wrong)) wrong = String((Number(wrong) + 1) % 1e6).padStart(6, "0");
  await page.evaluate(() => (document.querySelector("[data-testid=error]").textContent = ""));
  await login(page, token, wrong);
  assert.equal(await errorText(page), id["desk.error.login"]);
  // The token alone is not enough: siti is enrolled.
  await page.evaluate(() => (document.querySelector("[data-testid=error]").textContent = ""));
  await login(page, token, "");
  assert.equal(await errorText(page), id["desk.error.login"]);
  assert.ok(await page.locator("#desk-app").isHidden());
  assert.deepEqual(await ctx.cookies(), [], "no cookie for a refused login");

  // The right code: in.
  const code = freshCode();
  await login(page, token, code);
  await page.locator("#desk-app").waitFor();
  assert.match(await page.textContent("#desk-who"), /siti/);
  assert.equal(await page.inputValue(tid("desk-token")), "", "the token is not left in the form");
  const jar = await ctx.cookies();
  assert.equal(jar.length, 1, JSON.stringify(jar.map((c) => c.name)));
  assert.equal(jar[0].name, "wbs_desk");
  assert.equal(jar[0].httpOnly, true);
  assert.equal(jar[0].sameSite, "Strict");
  assert.equal(jar[0].path, "/");
  assert.equal(jar[0].secure, false, "plain HTTP on 127.0.0.1: not Secure (it is over TLS or onion)");
  assert.equal(await page.evaluate(() => document.cookie), "", "the page's script cannot read the cookie");

  // The same code again, from a second tab: refused as replayed.
  const other = await ctx.newPage();
  await other.goto(`${server.url}/desk`);
  await other.evaluate(() => sessionStorage.clear());
  await other.reload();
  await other.locator(tid("desk-token")).waitFor();
  await login(other, token, code);
  assert.equal(await errorText(other), id["desk.error.login"]);
  await other.close();
});

test("overview: a new report appears with its received date, status, 'new' mark and both clocks", T, async () => {
  // A report filed through the reporter's page, in another context.
  const rctx = await watch.context(browser);
  const rp = await rctx.newPage();
  await rp.goto(`${server.url}/report`);
  await rp.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
  await rp.selectOption(tid("report-category"), "procurement");
  await rp.fill(tid("report-title"), "Pengadaan laptop digelembungkan");
  await rp.fill(tid("report-body"), "Harga satuan dua kali harga pasar.\nBaris kedua ✓");
  await rp.click(tid("report-submit"));
  await rp.waitForFunction(() => document.querySelector("[data-testid=receipt-code]")?.textContent || document.querySelector("[data-testid=error]")?.textContent, null, { timeout: 90_000 });
  receipt = (await rp.textContent(tid("receipt-code"))).trim();
  assert.match(receipt, /^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
  await rctx.close();

  // The desk tab, reloaded: the session survives in this tab.
  await page.reload();
  const row = page.locator(tid("desk-case-row"));
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  caseId = await row.getAttribute("data-case");
  assert.match(caseId, /^[a-z0-9]+$/i);
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(await row.locator("[data-date]").first().getAttribute("data-date"), today);
  assert.equal(await row.locator(tid("desk-case-status")).getAttribute("data-status"), "received");
  assert.ok(await row.locator(tid("desk-case-new")).isVisible(), "marked new since the last pull");
  const ack = row.locator(tid("desk-clock-ack"));
  const feedback = row.locator(tid("desk-clock-feedback"));
  // Acknowledge within 7 days, feedback within 3 months: both running, on time.
  assert.equal(await ack.getAttribute("data-state"), "on_time");
  assert.equal(await feedback.getAttribute("data-state"), "on_time");
  assert.match(await ack.textContent(), /7/);
  assert.equal(await page.textContent(tid("desk-count-total")), "1");
  assert.equal(await page.textContent(tid("desk-count-new")), "1");
  assert.equal(await page.textContent(tid("desk-count-overdue")), "0");
  await assertAccessible(page, "/desk, overview");
  await assertFits(page, "overview");
});

test("export: the bundle downloads with progress and wbs-inspect opens it", T, async () => {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(tid("desk-export"))]);
  const dir = join(server.tmp, "desk");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "export.tar");
  await download.saveAs(file);
  assert.match(download.suggestedFilename(), /^wbs-export-0-\d+\.tar$/);
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-export-done]").textContent.length > 0);
  assert.match(await page.textContent("#desk-export-text"), /\d/, "the bytes received were shown");
  run("wbs-inspect", ["open", file, "--identity", server.keyFile, "--out", join(dir, "cases")]);
  const ids = readdirSync(join(dir, "cases"));
  assert.deepEqual(ids, [caseId]);
  caseDir = join(dir, "cases", caseId);
  const report = JSON.parse(readFileSync(join(caseDir, "report.json"), "utf8"));
  assert.equal(report.title, "Pengadaan laptop digelembungkan");
  // Pulled: nothing is new any more.
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-count-new]").textContent === "0");
  assert.equal(await page.locator(tid("desk-case-new")).count(), 0);
});

test("import: the reply bundle uploads with progress; applied, then skipped when sent again, and a bad bundle is refused with its reason", T, async () => {
  const dir = join(server.tmp, "desk");
  writeFileSync(join(dir, "reply.txt"), "Terima kasih. Laporan Anda sedang kami telaah.\n— Inspektorat");
  const bundle = join(dir, "replies.tar");
  run("wbs-inspect", ["reply", "--case", caseDir, "--message", join(dir, "reply.txt"), "--status", "in_review", "--out", bundle]);

  const result = page.locator(tid("desk-import-result"));
  await page.setInputFiles(tid("desk-import-file"), bundle);
  await page.click(tid("desk-import-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-import-result]").textContent.length > 0);
  assert.equal(await result.getAttribute("data-applied"), "1", await result.textContent());
  assert.equal(await result.getAttribute("data-skipped"), "0");
  const row = page.locator(tid("desk-case-row"));
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-case-status]").dataset.status === "in_review");
  assert.equal(await row.locator(tid("desk-clock-ack")).getAttribute("data-state"), "met");
  assert.equal(await row.locator(tid("desk-clock-feedback")).getAttribute("data-state"), "on_time");

  // The same bundle again: skipped, harmlessly.
  await page.setInputFiles(tid("desk-import-file"), bundle);
  await page.click(tid("desk-import-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-import-result]").dataset.skipped === "1");
  // Not a bundle at all: refused, and why.
  await page.setInputFiles(tid("desk-import-file"), { name: "junk.tar", mimeType: "application/x-tar", buffer: Buffer.from("not a tar file at all".repeat(40)) });
  await page.click(tid("desk-import-submit"));
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-import-result]").dataset.refused);
  assert.equal(await result.getAttribute("data-refused"), "invalid_bundle");
  assert.match(await result.textContent(), /invalid_bundle/);
  assert.equal(await page.locator(tid("desk-case-status")).getAttribute("data-status"), "in_review", "a refused bundle changed nothing");
  await assertAccessible(page, "/desk, after imports");
});

test("status: set in the page, shown on the reporter's status page with the verified reply", T, async () => {
  const row = page.locator(tid("desk-case-row"));
  await row.locator(tid("desk-status-select")).selectOption("investigating");
  await row.locator(tid("desk-status-save")).click();
  await page.waitForFunction(() => document.querySelector("[data-testid=desk-case-status]").dataset.status === "investigating");

  const rctx = await watch.context(browser);
  const rp = await rctx.newPage();
  await rp.goto(`${server.url}/status`);
  await rp.waitForFunction(() => document.getElementById("followup-attachments-limits").textContent.length > 0);
  await rp.fill(tid("status-receipt"), receipt);
  await rp.click(tid("status-submit"));
  await rp.locator(tid("status-value")).waitFor();
  assert.equal(await rp.getAttribute(tid("status-value"), "data-status"), "investigating");
  await rp.locator(tid("reply-body")).waitFor();
  assert.match(await rp.textContent(tid("reply-body")), /sedang kami telaah/);
  assert.equal(await rp.locator(tid("status-reply-withheld")).count(), 0, "the reply is verified, not withheld");
  await rctx.close();
});

test("audit log: the last 90 days, with the desk's actions by name", T, async () => {
  await page.click(tid("desk-audit-load"));
  await page.locator("#desk-audit tbody tr").first().waitFor();
  const rows = await page.$$eval("#desk-audit tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const actions = rows.map((r) => r[2]);
  for (const a of ["login", "login_refused", "export", "import", "set_status"]) assert.ok(actions.includes(a), `${a} in ${actions}`);
  assert.ok(rows.some((r) => r[1] === "siti" && r[2] === "import"));
  // The refusals of the first test, each for its reason: the client was told none of them.
  const refused = rows.filter((r) => r[2] === "login_refused").map((r) => r[3]).sort();
  assert.deepEqual(refused, ["totp_replayed", "totp_required", "totp_wrong"]);
  await assertAccessible(page, "/desk, audit log");
  await assertFits(page, "audit log");
});

test("stolen cookie: its value without the CSRF token can read and change nothing", T, async () => {
  const jar = await ctx.cookies();
  cookie = `${jar[0].name}=${jar[0].value}`;
  csrfToken = await page.evaluate(() => sessionStorage.getItem("wbs-desk-csrf"));
  assert.ok(csrfToken);
  for (const [path, init] of [
    [`/api/v1/desk/cases/${caseId}/status`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status: "rejected" }) }],
    ["/api/v1/desk/import", { method: "POST", headers: { "Content-Type": "application/x-tar" }, body: "x" }],
    ["/api/v1/desk/export", {}],
    ["/api/v1/desk/overview", {}],
    ["/api/v1/desk/audit", {}],
    ["/api/v1/desk/logout", { method: "POST" }],
    // A wrong token is no better than none.
    [`/api/v1/desk/cases/${caseId}/status`, { method: "POST", headers: { "Content-Type": "application/json", "X-Wbs-Csrf": "A".repeat(43) }, body: JSON.stringify({ status: "rejected" }) }],
  ]) {
    const res = await raw(path, init);
    assert.equal(res.status, 403, `${init.method || "GET"} ${path}`);
    assert.equal((await res.json()).error.code, "csrf");
  }
  // The session token, but from another site: refused all the same.
  const cross = await raw(`/api/v1/desk/cases/${caseId}/status`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Wbs-Csrf": csrfToken, Origin: "http://evil.example" },
    body: JSON.stringify({ status: "rejected" }),
  });
  assert.equal(cross.status, 403);
  assert.equal((await cross.json()).error.code, "cross_site");
  // In another browser profile, the cookie alone gets a login form.
  const thief = await watch.context(browser);
  await thief.addCookies([{ ...jar[0] }]);
  const tp = await thief.newPage();
  await tp.goto(`${server.url}/desk`);
  await tp.locator(tid("desk-token")).waitFor();
  assert.ok(await tp.locator("#desk-app").isHidden());
  const status = await tp.evaluate(async (id) => {
    const r = await fetch(`/api/v1/desk/cases/${id}/status`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status: "rejected" }) });
    return r.status;
  }, caseId);
  assert.equal(status, 403);
  await thief.close();
  // Nothing changed.
  await page.reload();
  await page.locator(tid("desk-case-row")).waitFor();
  assert.equal(await page.locator(tid("desk-case-status")).getAttribute("data-status"), "investigating");
});

test("language: English after the switch, the overview included, and back; no reload, the session kept", T, async () => {
  await page.click(tid("lang-switch"));
  await page.waitForFunction(() => document.documentElement.lang === "en");
  assert.equal((await page.textContent("h1")).trim(), desk.en["desk.title"]);
  assert.equal((await page.textContent(tid("desk-logout"))).trim(), desk.en["desk.logout"]);
  assert.match(await page.textContent(tid("desk-clock-ack")), /^Met on /);
  assert.equal((await page.textContent(tid("desk-case-status"))).trim(), LOCALES.en["statuslabel.investigating"]);
  await assertAccessible(page, "/desk in English");
  await page.click(tid("lang-switch"));
  await page.waitForFunction(() => document.documentElement.lang === "id");
  assert.equal((await page.textContent("h1")).trim(), desk.id["desk.title"]);
  assert.ok(await page.locator("#desk-app").isVisible());
});

test("logout: ends the session on the server; its cookie and CSRF token open nothing after", T, async () => {
  await page.click(tid("desk-logout"));
  await page.locator(tid("desk-token")).waitFor();
  assert.ok(await page.locator("#desk-app").isHidden());
  assert.deepEqual(await ctx.cookies(), [], "the cookie is cleared");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("wbs-desk-csrf")), null);
  const res = await raw("/api/v1/desk/overview", { headers: { "X-Wbs-Csrf": csrfToken } });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, "session_ended");
  await assertAccessible(page, "/desk, logged out");
});

test("desk hygiene: no CSP violation, page error, console error or request to another origin; cookies only from the session routes, HttpOnly and SameSite=Strict", T, async () => {
  const problems = (await watch.problems()).filter((p) => !p.startsWith("Set-Cookie: "));
  assert.deepEqual(problems, []);
  const cookies = watch.setCookies;
  assert.ok(cookies.length >= 2);
  for (const c of cookies) {
    assert.match(c, /\/api\/v1\/desk\/(session|logout): /, c);
    assert.match(c, /HttpOnly/, c);
    assert.match(c, /SameSite=Strict/, c);
  }
  // The server's log names no case, count or cursor for desk actions.
  const lines = server.log().split("\n").filter((l) => /desk action/.test(l));
  assert.ok(lines.length > 5);
  for (const l of lines) assert.ok(!l.includes(caseId) && !/cursor|cases=|applied=/.test(l), l);
});
