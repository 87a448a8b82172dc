import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
const load = (l) => JSON.parse(readFileSync(join(src, "locales", `${l}.json`), "utf8"));
// The desk page's strings are files of their own (bundled into desk.js only).
const id = { ...load("id"), ...load("desk-id") };
const en = { ...load("en"), ...load("desk-en") };

function filesUnder(dir, ext) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith(ext))
    .map((d) => join(d.parentPath ?? d.path, d.name));
}

test("Indonesian and English have the same keys, none empty", () => {
  assert.deepEqual(Object.keys(id).sort(), Object.keys(en).sort());
  for (const [k, v] of [...Object.entries(id), ...Object.entries(en)]) {
    assert.equal(typeof v, "string", k);
    assert.ok(v.trim().length > 0, `${k} is empty`);
  }
});

test("placeholders agree between the languages", () => {
  const names = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(id)) assert.deepEqual(names(id[k]), names(en[k]), k);
});

test("every key the pages and scripts use exists", () => {
  const used = new Set();
  for (const f of filesUnder(join(src, "html"), ".html")) {
    const html = readFileSync(f, "utf8");
    for (const m of html.matchAll(/data-i18n="([\w.]+)"/g)) used.add(m[1]);
    for (const m of html.matchAll(/\{\{(?:(?:id|en):)?([\w.]+)\}\}/g)) used.add(m[1]);
    for (const m of html.matchAll(/data-i18n-attr="([^"]+)"/g)) for (const p of m[1].split(";")) used.add(p.split(":")[1]);
  }
  for (const f of filesUnder(src, ".js")) {
    const js = readFileSync(f, "utf8");
    for (const m of js.matchAll(/(?:setText\([^,]+,\s*|\bt\(|UserError\(|\[\s*)"([a-z_]+\.[\w.]+)"/g)) used.add(m[1]);
  }
  assert.ok(used.size > 50);
  const missing = [...used].filter((k) => !(k in id));
  assert.deepEqual(missing, []);
});

test("every status the server knows has a fallback label", () => {
  for (const s of ["received", "in_review", "need_info", "investigating", "forwarded", "closed_substantiated", "closed_unsubstantiated", "rejected"]) {
    assert.ok(id[`statuslabel.${s}`] && en[`statuslabel.${s}`], s);
  }
});

test("the pages carry no inline script or style (CSP) and name no other origin", () => {
  for (const f of filesUnder(join(src, "html"), ".html")) {
    const html = readFileSync(f, "utf8");
    assert.ok(!/\sstyle=|<style|<script>|\son[a-z]+=|javascript:/i.test(html), f);
    assert.ok(!/(src|href)="(https?:)?\/\//i.test(html), f);
  }
});
