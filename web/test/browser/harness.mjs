// Shared harness of the browser tests and the screenshot script: a real
// wbs-server process on 127.0.0.1 (temporary data folder, a fresh age key
// made with age-keygen, or with `pq` an mlkem768x25519 one made with typage,
// a desk token, low proof of work), the real wbs-desk
// and wbs-inspect, and headless Chromium driven by playwright-core.
//
// Nothing here stands in for a component. Environment:
//   WBS_BIN_DIR   folder with wbs-server, wbs-desk, wbs-inspect (default ../target/debug)
//   CHROMIUM      the browser (default /usr/bin/chromium)
//   WBS_KEEP_TMP  set to 1 to keep the temporary folder (its path is printed)

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, chmodSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { generateHybridIdentity, identityToRecipient } from "age-encryption";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB = resolve(here, "..", "..");
export const ROOT = resolve(WEB, "..");
export const BIN_DIR = resolve(WEB, process.env.WBS_BIN_DIR || join("..", "target", "debug"));
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ORGANIZATION = "Inspektorat Daerah Kota Uji";

const require = createRequire(import.meta.url);
export const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const LOCALES = {
  id: JSON.parse(readFileSync(join(WEB, "src", "locales", "id.json"), "utf8")),
  en: JSON.parse(readFileSync(join(WEB, "src", "locales", "en.json"), "utf8")),
};

/** The environment for the binaries: none of the caller's WBS_* settings leak in. */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WBS_")) env[k] = v;
  env.WBS_LOG = "info";
  return env;
}

function bin(name) {
  const p = join(BIN_DIR, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run 'cargo build --bins' first (or set WBS_BIN_DIR)`);
  return p;
}

/** Runs one of the binaries to completion; throws with its output on failure. */
export function run(name, args, { timeout = 120_000 } = {}) {
  const path = bin(name);
  try {
    return execFileSync(path, args, { encoding: "utf8", env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"], timeout });
  } catch (e) {
    throw new Error(`${name} ${args.join(" ")} failed (${e.status ?? e.signal ?? e.code}):\n${e.stdout || ""}${e.stderr || ""}`);
  }
}

/**
 * Makes a key, a config and a desk token in a temporary folder, then starts
 * wbs-server and waits for its "WBS serving … on http://…" line.
 */
export async function startServer(options = {}) {
  for (const name of ["wbs-server", "wbs-desk", "wbs-inspect"]) bin(name);
  const tmp = mkdtempSync(join(tmpdir(), "wbs-browser-"));
  try {
    return await start(tmp, options);
  } catch (e) {
    if (process.env.WBS_KEEP_TMP !== "1") rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function start(tmp, { powDifficulty = 10, limits = {}, demoKey = false, pq = false }) {
  const keysDir = join(tmp, "keys");
  let keyFile = join(tmp, "inspector.key"); // outside the recipients folder
  mkdirSync(keysDir, { recursive: true });
  if (pq) {
    // A post-quantum deployment (issue 15): an mlkem768x25519 key pair made
    // by typage, a second implementation beside the server's and wbs-inspect's.
    const identity = await generateHybridIdentity();
    const recipient = await identityToRecipient(identity);
    writeFileSync(keyFile, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
    writeFileSync(join(keysDir, "test.pub"), `${recipient}\n`);
  } else if (demoKey) {
    // The repository's demo pair, as `cargo run -p wbs-server` uses it.
    writeFileSync(join(keysDir, "demo-inspectorate.pub"), readFileSync(join(ROOT, "keys", "demo-inspectorate.pub")));
    keyFile = join(ROOT, "keys", "demo-inspectorate.key");
  } else {
    try {
      execFileSync("age-keygen", ["-o", keyFile], { stdio: ["ignore", "ignore", "pipe"] });
      writeFileSync(join(keysDir, "test.pub"), execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }));
    } catch (e) {
      throw new Error(`age-keygen failed (is Debian's 'age' installed?): ${e.message}`);
    }
  }
  const config = join(tmp, "wbs.toml");
  writeFileSync(
    config,
    [
      `organization = ${JSON.stringify(ORGANIZATION)}`,
      `listen = "127.0.0.1:0"`,
      `data = ${JSON.stringify(join(tmp, "data"))}`,
      `recipients = ${JSON.stringify(keysDir)}`,
      `[pow]`,
      `difficulty = ${powDifficulty}`,
      `[limits]`,
      ...Object.entries(limits).map(([k, v]) => `${k} = ${v}`),
      ``,
    ].join("\n"),
  );
  const token = run("wbs-server", ["--config", config, "token", "add", "desk1"]).trim().split("\n").pop().trim();
  const tokenFile = join(tmp, "desk1.token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);

  const child = spawn(bin("wbs-server"), ["--config", config], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  const exited = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
  const url = await new Promise((res, rej) => {
    // Never left running: a server that does not come up is killed.
    const fail = (err) => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      rej(err);
    };
    const timer = setTimeout(() => fail(new Error(`wbs-server did not report its address within 30 s:\n${log}`)), 30_000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /WBS serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`wbs-server exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  const killNow = () => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
  process.once("exit", killNow);

  let stopped = false;
  return {
    url,
    tmp,
    keyFile,
    tokenFile,
    log: () => log,
    /** wbs-desk with this server and token. */
    desk: (args) => run("wbs-desk", [args[0], "--server", url, "--token-file", tokenFile, ...args.slice(1)]),
    /** SIGTERM, then SIGKILL after 10 s; removes the temporary folder unless WBS_KEEP_TMP=1. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(killNow, 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener("exit", killNow);
      if (process.env.WBS_KEEP_TMP === "1") console.log(`# work files kept in ${tmp}`);
      else rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Belt and braces: no host name resolves, so nothing can leave the machine.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
}

/**
 * Everything a browser context did that the client promises never to do:
 * CSP violations, uncaught errors, console errors, cookies, requests to
 * another origin. Shared by every context of a run.
 */
export class Watch {
  constructor(origin) {
    this.origin = origin;
    this.requests = [];
    this.foreign = [];
    this.csp = [];
    this.pageErrors = [];
    this.consoleErrors = [];
    this.setCookies = [];
    this.pending = [];
  }

  /** A fresh context (own cookie jar, no storage) with every listener attached. */
  async context(browser, options = {}) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, ...options });
    ctx.setDefaultTimeout(30_000);
    ctx.on("request", (r) => {
      const url = r.url();
      this.requests.push(url);
      if (url.startsWith("data:")) return;
      let origin;
      try {
        origin = new URL(url).origin; // blob:http://host/… has the host's origin
      } catch {
        origin = url;
      }
      if (origin !== this.origin) this.foreign.push(url);
    });
    ctx.on("response", (r) => {
      this.pending.push(
        r.headerValue("set-cookie").then(
          (v) => v && this.setCookies.push(`${r.url()}: ${v}`),
          () => {},
        ),
      );
    });
    if (options.javaScriptEnabled !== false) {
      await ctx.exposeBinding("__wbsTestCspViolation", (_src, v) => this.csp.push(v));
      await ctx.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) =>
          window.__wbsTestCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`),
        );
      });
    }
    ctx.on("page", (page) => this.attach(page));
    return ctx;
  }

  attach(page) {
    page.on("pageerror", (e) => this.pageErrors.push(`${page.url()}: ${e}`));
    page.on("console", (m) => {
      const text = m.text();
      if (/Content.Security.Policy|Refused to/i.test(text)) this.csp.push(`${page.url()}: ${text}`);
      // A 404 or a cut connection the test provokes shows up as "Failed to load resource".
      else if (m.type() === "error" && !/Failed to load resource/.test(text)) this.consoleErrors.push(`${page.url()}: ${text}`);
    });
  }

  /** The problems so far, as strings; empty when all is well. */
  async problems() {
    await Promise.all(this.pending);
    return [
      ...this.csp.map((s) => `CSP violation: ${s}`),
      ...this.pageErrors.map((s) => `uncaught error: ${s}`),
      ...this.consoleErrors.map((s) => `console error: ${s}`),
      ...this.setCookies.map((s) => `Set-Cookie: ${s}`),
      ...this.foreign.map((s) => `request to another origin: ${s}`),
    ];
  }
}

/**
 * Runs axe-core in the page (injected through the DevTools protocol, which
 * the page's CSP does not apply to) and returns every violation.
 */
export async function axe(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    }));
  });
}

/** Throws, listing them, when axe finds a serious or critical violation. */
export async function assertAccessible(page, label) {
  const all = await axe(page);
  const bad = all.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    throw new Error(
      `axe-core, ${label}: ${bad.length} serious/critical violation(s):\n` +
        bad.map((v) => `  [${v.impact}] ${v.id}: ${v.help} — ${v.nodes.join(", ")}`).join("\n"),
    );
  }
  return all; // minor and moderate ones, for the log
}

export const tid = (id) => `[data-testid="${id}"]`;
