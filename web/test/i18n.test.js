import { test } from "node:test";
import assert from "node:assert/strict";
import { t, langFromUrl, formatSize, formatDate, pick, currentLang } from "../src/lib/i18n.js";

test("Indonesian unless the URL asks for English", () => {
  assert.equal(langFromUrl(""), "id");
  assert.equal(langFromUrl("?lang=en"), "en");
  assert.equal(langFromUrl("?lang=fr"), "id");
  assert.equal(langFromUrl("?x=1&lang=en"), "en");
  assert.equal(currentLang(), "id");
});

test("placeholders, sizes and dates are rendered in the language", () => {
  assert.equal(t("error.receipt_symbol", { position: 7 }), "Karakter ke-7 bukan karakter yang sah dalam kode tanda terima. Periksa lagi.");
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536), "1,5 KB");
  assert.equal(formatSize(3 * 1024 * 1024), "3 MB");
  assert.equal(formatDate("2025-03-07"), "7 Maret 2025");
  assert.equal(formatDate("nonsense"), "nonsense");
  assert.equal(t("files.total", { size: { bytes: 2048 }, max: { bytes: 10 * 1024 * 1024 } }), "Total: 2 KB dari 10 MB");
  assert.equal(t("no.such.key"), "no.such.key");
});

test("server texts pick the language, falling back to Indonesian", () => {
  assert.equal(pick({ id: "Korupsi", en: "Corruption" }), "Korupsi");
  assert.equal(pick({ id: "", en: "Corruption" }), "Corruption");
  assert.equal(pick(null), "");
});
