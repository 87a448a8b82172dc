// Entry point for every page: language, configuration, then the page itself.

import { initI18n, setText } from "./lib/i18n.js";
import { getConfig } from "./lib/api.js";
import { ensureX25519Fallback } from "./lib/envelope.js";
import { initLanding } from "./pages/landing.js";
import { initReport } from "./pages/report.js";
import { initStatus } from "./pages/status.js";
import { usesDemoKey } from "./lib/demo.js";

function supported() {
  return (
    typeof crypto !== "undefined" &&
    typeof crypto.getRandomValues === "function" &&
    typeof TextEncoder === "function" &&
    typeof ReadableStream === "function" &&
    typeof TransformStream === "function" &&
    typeof Blob === "function" &&
    typeof Blob.prototype.stream === "function" &&
    typeof XMLHttpRequest === "function" &&
    typeof FormData === "function" &&
    typeof BigInt === "function"
  );
}

function fatal(key) {
  const box = document.querySelector("[data-testid=error]");
  if (!box) return;
  const p = document.createElement("p");
  setText(p, key);
  box.replaceChildren(p);
}

function fillOrganization(config) {
  if (!config.organization) return;
  for (const el of document.querySelectorAll("[data-org]")) {
    delete el.dataset.i18n;
    el.textContent = config.organization;
  }
}

async function main() {
  // Never let a form submit natively: it would put what was typed in a URL.
  for (const f of document.forms) f.addEventListener("submit", (e) => e.preventDefault());
  initI18n();
  const page = document.body.dataset.page;
  const app = document.getElementById("app");
  if (app) app.hidden = false;
  if (page !== "landing" && !supported()) {
    for (const b of document.querySelectorAll("form button[type=submit]")) b.disabled = true;
    fatal("error.browser");
    return;
  }
  ensureX25519Fallback();
  let config;
  try {
    config = await getConfig();
  } catch {
    if (page !== "landing") {
      for (const b of document.querySelectorAll("form button[type=submit]")) b.disabled = true;
      fatal("error.config");
    }
    return;
  }
  fillOrganization(config);
  // Loud on every page: reports to this server can be read by anyone.
  const demo = document.getElementById("demo-warning");
  if (demo && usesDemoKey(config)) demo.hidden = false;
  if (page === "landing") initLanding(config);
  else if (page === "report") initReport(config);
  else if (page === "status") initStatus(config);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
