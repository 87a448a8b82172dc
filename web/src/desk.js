// Entry point of the desk page: its own bundle, so the reporter pages carry
// none of it.

import { addLocales, initI18n } from "./lib/i18n.js";
import id from "./locales/desk-id.json" with { type: "json" };
import en from "./locales/desk-en.json" with { type: "json" };
import { initDesk } from "./pages/desk.js";

async function main() {
  // Never let a form submit natively: it would put what was typed in a URL.
  for (const f of document.forms) f.addEventListener("submit", (e) => e.preventDefault());
  addLocales({ id, en });
  initI18n();
  await initDesk();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
