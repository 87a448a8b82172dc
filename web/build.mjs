// Builds the browser client into crates/wbs-server/assets/, byte for byte the
// same on every run from the same lock file: no timestamps, no absolute
// paths, no legal comments, a fixed target. That directory is generated as a
// whole (the server embeds every file in it): sources live under web/src/.

import { build } from "esbuild";
import { readFileSync, writeFileSync, readdirSync, rmSync, mkdirSync, statSync, copyFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = join(here, "..", "crates", "wbs-server", "assets");
const PAGES = { "index.html": "/", "report.html": "/report", "status.html": "/status", "desk.html": "/desk" };
const TARGET = ["es2020"];

const readLocale = (name) => JSON.parse(readFileSync(join(src, "locales", name), "utf8"));
// The desk page's strings live in their own files, bundled into desk.js
// only; the templates see both sets.
const locales = {
  id: { ...readLocale("id.json"), ...readLocale("desk-id.json") },
  en: { ...readLocale("en.json"), ...readLocale("desk-en.json") },
};

function fail(msg) {
  console.error(`build: ${msg}`);
  process.exit(1);
}

// The two locales must have exactly the same keys.
for (const [a, b] of [["id", "en"], ["en", "id"]]) {
  const missing = Object.keys(locales[a]).filter((k) => !(k in locales[b]));
  if (missing.length) fail(`keys in ${a}.json missing from ${b}.json: ${missing.join(", ")}`);
}

const escapeHtml = (s) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

function text(lang, key) {
  if (!(key in locales[lang])) fail(`unknown locale key "${key}"`);
  return escapeHtml(locales[lang][key]);
}

/** Renders a page template: partials, {{key}} / {{en:key}}, and empty data-i18n elements. */
function renderPage(name) {
  let html = readFileSync(join(src, "html", name), "utf8");
  html = html.replace(/\{\{> (\w+)\}\}/g, (_, p) => readFileSync(join(src, "html", "partials", `${p}.html`), "utf8").trimEnd());
  html = html.replace(/\{\{(?:(id|en):)?([\w.]+)\}\}/g, (_, lang, key) => text(lang || "id", key));
  // Leaf elements written empty get their Indonesian text, so the page reads
  // right before (and without) JavaScript.
  html = html.replace(/(<([a-z0-9]+)\b[^>]*\sdata-i18n="([\w.]+)"[^>]*>)(<\/\2>)/g, (_, open, tag, key, close) => open + text("id", key) + close);
  const leftover = /data-i18n="[\w.]+"[^>]*><\/|\{\{/.exec(html);
  if (leftover) fail(`${name}: unrendered template text near ${JSON.stringify(html.slice(leftover.index, leftover.index + 60))}`);
  // The current page's own link is marked for assistive technology.
  html = html.replace(new RegExp(`(<a data-nav="${PAGES[name]}" href="[^"]*")`, "g"), '$1 aria-current="page"');
  if (/\sstyle=|<style|<script>|\son[a-z]+=/i.test(html)) fail(`${name}: inline style or script is not allowed (CSP)`);
  return html;
}

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: TARGET,
  legalComments: "none",
  charset: "utf8",
  sourcemap: false,
  write: false,
  logLevel: "warning",
  absWorkingDir: here,
};

const results = await Promise.all([
  build({ ...common, entryPoints: ["src/main.js"], outfile: "app.js" }),
  build({ ...common, entryPoints: ["src/pow-worker.js"], outfile: "pow-worker.js" }),
  build({ ...common, entryPoints: ["src/app.css"], outfile: "app.css", loader: { ".css": "css" } }),
  build({ ...common, entryPoints: ["src/desk.js"], outfile: "desk.js" }),
  build({ ...common, entryPoints: ["src/desk.css"], outfile: "desk.css", loader: { ".css": "css" } }),
]);

const files = new Map();
for (const r of results) {
  for (const f of r.outputFiles) files.set(f.path.split(/[\\/]/).pop(), Buffer.from(f.contents));
}
for (const page of Object.keys(PAGES)) files.set(page, Buffer.from(renderPage(page), "utf8"));
for (const f of readdirSync(join(src, "static")).sort()) files.set(f, readFileSync(join(src, "static", f)));

// Replace the directory's contents as a whole, so no stale file gets embedded.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) {
  const p = join(out, f);
  if (statSync(p).isFile()) rmSync(p);
}
for (const [name, data] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
  writeFileSync(join(out, name), data);
}

// Budgets, gzip -9: the reporter pages' JavaScript (what a reporter on a
// slow Tor circuit downloads) and, apart, the desk page's.
let jsGz = 0;
let deskGz = 0;
for (const [name, data] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const gz = gzipSync(data, { level: 9 }).length;
  if (name === "desk.js") deskGz += gz;
  else if (name.endsWith(".js")) jsGz += gz;
  console.log(`${name.padEnd(16)} ${String(data.length).padStart(8)} B  gzip ${String(gz).padStart(7)} B`);
}
console.log(`JavaScript of the reporter pages, gzip -9 total: ${jsGz} B (${(jsGz / 1024).toFixed(1)} KiB; budget 150 KiB)`);
console.log(`JavaScript of the desk page, gzip -9: ${deskGz} B (${(deskGz / 1024).toFixed(1)} KiB; budget 40 KiB)`);
if (jsGz > 150 * 1024) fail("the reporter pages' JavaScript is over the 150 KiB gzip budget");
if (deskGz > 40 * 1024) fail("the desk page's JavaScript is over the 40 KiB gzip budget");
