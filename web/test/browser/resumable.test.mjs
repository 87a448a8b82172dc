// Resumable uploads in the browser (docs/PROTOCOL.md §7.4), against the real
// wbs-server through a TCP proxy that cuts the connection several times
// during one upload, plus a spell offline: the page says "connection lost,
// resuming…", goes on by itself, and the attachment arrives whole (checked
// with wbs-desk pull and wbs-inspect open), having cost no more than 1.5
// times its size on the wire (counted at the proxy).
//
// WBS_BROWSER_RESUMABLE_MIB sets the attachment's size (default 100).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect } from "node:net";
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startServer, launchBrowser, run, Watch, tid, LOCALES } from "./harness.mjs";

const MIB = 1024 * 1024;
const SIZE = Number(process.env.WBS_BROWSER_RESUMABLE_MIB || 100) * MIB;
const T = { timeout: 3_600_000 };

let server;
let browser;
let proxy;

/**
 * A TCP proxy to `port` that counts what the browser sends and cuts the
 * connection that is sending when the count passes each of `cuts`.
 */
function startProxy(port, cuts) {
  const state = { sent: 0, cuts: [...cuts], cut: 0, log: [] };
  const sockets = new Set();
  const srv = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    let line = "";
    client.on("data", (chunk) => {
      state.sent += chunk.length;
      const text = chunk.subarray(0, 200).toString("latin1");
      const m = /^(GET|HEAD|POST|PATCH|DELETE) [^ ]+/.exec(text);
      if (m) {
        line = m[0];
        const o = /upload-offset: *(\d+)/i.exec(text + chunk.subarray(200, 2000).toString("latin1"));
        state.log.push(`${line.slice(0, 30)} @${o ? o[1] : "-"} (sent so far ${state.sent})`);
      }
      if (state.cuts.length && state.sent >= state.cuts[0]) {
        state.cuts.shift();
        state.cut += 1;
        state.log.push(`cut at ${state.sent} in ${line}`);
        close();
        return;
      }
      // With back-pressure: the proxy holds no more than a socket's worth,
      // so a cut loses what a real network would, not a buffer of ours.
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  return new Promise((resolve) => {
    srv.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${srv.address().port}`,
        state,
        close: () => {
          for (const s of sockets) s.destroy();
          srv.close();
        },
      });
    });
  });
}

before(async () => {
  server = await startServer({ powDifficulty: 4, limits: { max_object_bytes: 512 << 20 } });
  browser = await launchBrowser();
  const port = Number(new URL(server.url).port);
  const cuts = [0.15, 0.4, 0.65, 0.9].map((f) => Math.floor(f * SIZE));
  proxy = await startProxy(port, cuts);
});

after(async () => {
  proxy?.close();
  await browser?.close().catch(() => {});
  await server?.stop();
});

test(`a ${SIZE / MIB} MiB attachment survives four cuts and a spell offline, and arrives whole`, T, async () => {
  const dir = join(server.tmp, "resumable");
  mkdirSync(dir, { recursive: true });
  const data = randomBytes(SIZE);
  const file = join(dir, "rekaman-rapat.bin");
  writeFileSync(file, data);

  const watch = new Watch(proxy.url);
  const ctx = await watch.context(browser, {});
  const page = await ctx.newPage();
  try {
    await page.goto(`${proxy.url}/report`);
    await page.waitForSelector(`${tid("report-category")} option[value=other]`, { state: "attached" });
    await page.selectOption(tid("report-category"), "other");
    await page.fill(tid("report-title"), "Rekaman rapat");
    await page.fill(tid("report-body"), "Rekaman rapat pembagian proyek terlampir.");
    await page.setInputFiles(tid("report-attachments"), file);
    await page.locator("#report-files li").filter({ hasText: "rekaman-rapat.bin" }).waitFor();

    // Notes it when the progress says, in Indonesian, "connection lost,
    // resuming…" (the pause it shows may be short: watched, not polled).
    const resuming = LOCALES.id["progress.resuming"].split("…")[0];
    await page.evaluate((text) => {
      const box = document.getElementById("report-progress");
      new MutationObserver(() => {
        if (box.innerText.includes(text)) window.__sawResuming = true;
      }).observe(box, { subtree: true, childList: true, characterData: true });
    }, resuming);
    const crashed = new Promise((_, reject) => page.once("crash", () => reject(new Error("the page crashed"))));
    crashed.catch(() => {});
    const started = Date.now();
    await page.click(tid("report-submit"));

    // Offline for a while once half of it is through: the page waits, and
    // goes on by itself when the browser says the network is back.
    for (;;) {
      const ended = await page.evaluate(() => document.querySelector("[data-testid=receipt-code]")?.textContent || document.querySelector("[data-testid=error]")?.textContent);
      assert.ok(!ended, `it ended before half of it was sent: ${ended}`);
      if (proxy.state.sent >= SIZE / 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await ctx.setOffline(true);
    await page.waitForTimeout(3000);
    await ctx.setOffline(false);

    await Promise.race([
      page.waitForFunction(() => document.querySelector("[data-testid=receipt-code]")?.textContent || document.querySelector("[data-testid=error]")?.textContent, null, { timeout: 0 }),
      crashed,
    ]);
    assert.equal(await page.evaluate(() => window.__sawResuming), true, "the page never said it was resuming");
    const error = await page.textContent(tid("error")).catch(() => "");
    const receipt = (await page.textContent(tid("receipt-code"))).trim();
    assert.ok(receipt, `no receipt; the page says: ${error}; cuts ${proxy.state.log.join("; ")}; requests:\n${watch.requests.slice(-15).join("\n")}`);
    const took = (Date.now() - started) / 1000;
    console.log(`# ${SIZE / MIB} MiB from the browser through ${proxy.state.cut} cuts and a spell offline: ${(proxy.state.sent / MIB).toFixed(1)} MiB sent, ${took.toFixed(1)} s from the click`);
    assert.equal(proxy.state.cut, 4, "the proxy cut four times");
    assert.ok(proxy.state.sent <= SIZE * 1.5, `${proxy.state.sent} bytes went over the wire for ${SIZE}:\n${proxy.state.log.join("\n")}`);
    assert.deepEqual(watch.foreign, []);
    assert.deepEqual(watch.pageErrors, []);
  } finally {
    await ctx.close();
  }

  // The server's staging directory is empty, and the attachment decrypts
  // to the very bytes attached.
  assert.deepEqual(readdirSync(join(server.tmp, "data", "uploads")), []);
  server.desk(["pull", "--out", join(dir, "export.tar"), "--all"]);
  run("wbs-inspect", ["open", join(dir, "export.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")], { timeout: 600_000 });
  const [caseId] = readdirSync(join(dir, "cases"));
  const files = readdirSync(join(dir, "cases", caseId, "attachments"));
  assert.equal(files.length, 1, `attachments: ${files}`);
  const back = readFileSync(join(dir, "cases", caseId, "attachments", files[0]));
  assert.ok(back.equals(data), "the decrypted attachment differs from the original");
});
