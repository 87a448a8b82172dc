// Screenshots for the README, made with the same harness as the browser
// tests (real wbs-server, wbs-desk, wbs-inspect, headless Chromium): the
// report page, the receipt view and the status page with a reply, each at
// phone (390×844) and desktop (1280×900) width; and the desk page (login,
// overview with its clocks, bundles and audit log).
//
//   npm run screenshots [-- OUT_DIR]      (default ../docs/screenshots)

import { mkdirSync, writeFileSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { startServer, launchBrowser, run, Watch, tid, ROOT } from "./harness.mjs";

const out = resolve(process.argv[2] || join(ROOT, "docs", "screenshots"));
mkdirSync(out, { recursive: true });

const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
const REPLY =
  "Terima kasih atas laporan Anda. Laporan ini sedang kami telaah.\n\n" +
  "Mohon simpan kwitansi aslinya. Jika Anda mengetahui tanggal kejadian yang lain, kirimkan sebagai informasi tambahan di bawah.";

/** No focus ring or hover left over from filling in: the page as a reader first sees it. */
async function shoot(page, file) {
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  const { width, height } = page.viewportSize();
  await page.mouse.move(width - 2, Math.floor(height / 2)); // the empty right margin
  await page.screenshot({ path: join(out, file), fullPage: true });
}

const server = await startServer({ powDifficulty: 10 });
const browser = await launchBrowser();
const watch = new Watch(server.url);
let failed = false;
try {
  const receipts = {};
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const ctx = await watch.context(browser, { viewport });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/report`);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=report-category] option").length > 1);
    await page.selectOption(tid("report-category"), "illegal_levy");
    await page.fill(tid("report-title"), "Pungutan liar di loket perizinan");
    await page.fill(
      tid("report-body"),
      "Petugas loket meminta uang Rp 500.000 di luar tarif resmi agar izin usaha cepat terbit. " +
        "Permintaan itu disampaikan secara lisan dan tanpa kwitansi resmi.",
    );
    await page.fill(tid("report-when"), "Setiap Senin pagi, sejak Maret");
    await page.fill(tid("report-where"), "Mal Pelayanan Publik, loket 3");
    await page.setInputFiles(tid("report-attachments"), {
      name: "kwitansi-tidak-resmi.jpg",
      mimeType: "image/jpeg",
      buffer: Buffer.alloc(245_760, 1),
    });
    await page.locator("#report-files li").first().waitFor();
    await shoot(page, `report-${name}.png`);

    await page.click(tid("report-submit"));
    await page.locator(`${tid("receipt-code")}:not(:empty)`).waitFor({ timeout: 90_000 });
    receipts[name] = (await page.textContent(tid("receipt-code"))).trim();
    await shoot(page, `receipt-${name}.png`);
    await ctx.close();
  }

  // The inspectorate answers every case, on the other side of the air gap.
  const dir = join(server.tmp, "desk");
  mkdirSync(dir, { recursive: true });
  server.desk(["pull", "--out", join(dir, "export.tar"), "--all"]);
  run("wbs-inspect", ["open", join(dir, "export.tar"), "--identity", server.keyFile, "--out", join(dir, "cases")]);
  writeFileSync(join(dir, "reply.txt"), REPLY);
  for (const id of readdirSync(join(dir, "cases"))) {
    run("wbs-inspect", ["reply", "--case", join(dir, "cases", id), "--message", join(dir, "reply.txt"), "--status", "in_review", "--out", join(dir, "replies.tar")]);
  }
  server.desk(["push", join(dir, "replies.tar")]);

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const ctx = await watch.context(browser, { viewport });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/status`);
    await page.waitForFunction(() => document.getElementById("followup-attachments-limits").textContent.length > 0);
    await page.fill(tid("status-receipt"), receipts[name]);
    await page.click(tid("status-submit"));
    await page.locator(tid("reply-body")).waitFor();
    await shoot(page, `status-reply-${name}.png`);
    await ctx.close();
  }
  // One more report, so that the desk shows something new since the pull.
  writeFileSync(join(dir, "laporan.txt"), "Pengadaan laptop: harga satuan dua kali harga pasar.");
  run("wbs-report", ["submit", "--server", server.url, "--message", join(dir, "laporan.txt")]);
  const token = readFileSync(server.tokenFile, "utf8").trim();
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const ctx = await watch.context(browser, { viewport });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/desk`);
    await page.locator(tid("desk-token")).waitFor();
    await shoot(page, `desk-login-${name}.png`);
    await page.fill(tid("desk-token"), token);
    await page.click(tid("desk-login"));
    await page.locator(tid("desk-case-row")).first().waitFor();
    await page.setInputFiles(tid("desk-import-file"), join(dir, "replies.tar"));
    await page.click(tid("desk-import-submit"));
    await page.waitForFunction(() => document.querySelector("[data-testid=desk-import-result]").textContent.length > 0);
    await page.click(tid("desk-audit-load"));
    await page.locator("#desk-audit tbody tr").first().waitFor();
    await shoot(page, `desk-overview-${name}.png`);
    await ctx.close();
  }
  // The desk's session cookie is expected; nothing else may set one.
  const problems = (await watch.problems()).filter((p) => !/^Set-Cookie: \S+\/api\/v1\/desk\/session: /.test(p));
  if (problems.length) throw new Error(problems.join("\n"));
  for (const f of readdirSync(out).filter((f) => f.endsWith(".png")).sort()) console.log(`wrote ${join(out, f)}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  await server.stop();
}
process.exit(failed ? 1 : 0);
