// Languages: Indonesian by default, English one click away. The choice lives
// only in the URL (?lang=en): no cookie, no storage.
//
// Every text node that can change language carries data-i18n (the key) and,
// when it has placeholders, data-i18n-params (JSON), so switching language
// re-renders the whole page from the DOM alone.

import id from "../locales/id.json" with { type: "json" };
import en from "../locales/en.json" with { type: "json" };

const LOCALES = { id, en };

/** Adds a page's own strings (the desk's) to both languages. */
export function addLocales(extra) {
  Object.assign(LOCALES.id, extra.id);
  Object.assign(LOCALES.en, extra.en);
}
const INTL = { id: "id-ID", en: "en-GB" };
let lang = "id";
const listeners = [];

export function langFromUrl(search) {
  return new URLSearchParams(search).get("lang") === "en" ? "en" : "id";
}

export function currentLang() {
  return lang;
}

/** Formats a byte count, binary multiples, in the current language. */
export function formatSize(bytes) {
  const nf = (digits) => new Intl.NumberFormat(INTL[lang], { maximumFractionDigits: digits });
  if (bytes < 1024) return t("unit.b", { n: nf(0).format(bytes) });
  if (bytes < 1024 ** 2) return t("unit.kb", { n: nf(1).format(bytes / 1024) });
  if (bytes < 1024 ** 3) return t("unit.mb", { n: nf(1).format(bytes / 1024 ** 2) });
  return t("unit.gb", { n: nf(1).format(bytes / 1024 ** 3) });
}

/** Formats a `YYYY-MM-DD` date (UTC day) in the current language. */
export function formatDate(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(day));
  if (!m) return String(day);
  const when = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Intl.DateTimeFormat(INTL[lang], { dateStyle: "long", timeZone: "UTC" }).format(when);
}

function renderParam(v) {
  if (v && typeof v === "object") {
    if ("bytes" in v) return formatSize(v.bytes);
    if ("date" in v) return formatDate(v.date);
    if ("key" in v) return t(v.key);
  }
  if (typeof v === "number") return new Intl.NumberFormat(INTL[lang]).format(v);
  return String(v);
}

/**
 * The text for a key in the current language. Parameters replace {name};
 * a parameter may be {bytes: n}, {date: "YYYY-MM-DD"} or {key: "other.key"}.
 */
export function t(key, params) {
  const s = LOCALES[lang][key] ?? LOCALES.id[key] ?? key;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (all, name) => (name in params ? renderParam(params[name]) : all));
}

/** Sets an element's text from a key, remembering it for language switches. */
export function setText(el, key, params) {
  el.dataset.i18n = key;
  if (params) el.dataset.i18nParams = JSON.stringify(params);
  else delete el.dataset.i18nParams;
  el.textContent = t(key, params);
}

/** Text from the server in both languages ({id, en}). */
export function pick(localized) {
  if (!localized || typeof localized !== "object") return "";
  return localized[lang] || localized.id || localized.en || "";
}

/** Re-renders every data-i18n element and data-i18n-attr attribute under root. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const params = el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : undefined;
    el.textContent = t(el.dataset.i18n, params);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Calls fn after every language switch (for text built from server data). */
export function onLangChange(fn) {
  listeners.push(fn);
}

function hrefFor(path, l) {
  return l === "en" ? `${path}?lang=en` : path;
}

/** Updates links, the switch and <html lang> for the current language. */
function decorate() {
  document.documentElement.lang = lang;
  for (const a of document.querySelectorAll("a[data-nav]")) {
    a.setAttribute("href", hrefFor(a.dataset.nav, lang));
  }
  const other = lang === "en" ? "id" : "en";
  for (const sw of document.querySelectorAll("[data-testid=lang-switch]")) {
    sw.setAttribute("href", `?lang=${other}`);
    sw.setAttribute("lang", other);
    sw.setAttribute("hreflang", other);
  }
}

export function setLang(l) {
  lang = l === "en" ? "en" : "id";
  decorate();
  applyI18n();
  for (const fn of listeners) fn();
}

/** Reads the language from the URL and wires the switch (no reload, no state lost). */
export function initI18n() {
  lang = langFromUrl(location.search);
  if (lang !== "id") applyI18n();
  decorate();
  for (const sw of document.querySelectorAll("[data-testid=lang-switch]")) {
    sw.addEventListener("click", (e) => {
      e.preventDefault();
      const next = lang === "en" ? "id" : "en";
      const url = new URL(location.href);
      if (next === "en") url.searchParams.set("lang", "en");
      else url.searchParams.delete("lang");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
      setLang(next);
    });
  }
}
