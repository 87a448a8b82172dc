// The investigators' desk page (docs/INVESTIGATORS.md, "The desk in the
// browser"; docs/PROTOCOL.md §7.1): log in with a token and a TOTP code,
// the case overview with its deadline clocks, export and reply bundles with
// progress, statuses, and the audit log.
//
// The session cookie is HttpOnly: this script never sees it. The CSRF token
// of the session comes once, in the login answer, and is kept in
// sessionStorage (this tab only, gone when it closes); every desk request
// sends it in X-Wbs-Csrf. The token and the code are never stored.

import { setText, onLangChange, formatDate, formatSize } from "../lib/i18n.js";

const CSRF_KEY = "wbs-desk-csrf";
const $ = (id) => document.getElementById(id);

/** A failed desk request: HTTP status (0: network), error code and message. */
export class DeskError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = "DeskError";
    this.status = status;
    this.code = code || "";
  }
}

async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && body.error) return new DeskError(res.status, String(body.error.code || ""), String(body.error.message || ""));
  } catch {
    /* not JSON */
  }
  return new DeskError(res.status, "", "");
}

function csrf() {
  try {
    return sessionStorage.getItem(CSRF_KEY) || "";
  } catch {
    return "";
  }
}

function setCsrf(value) {
  try {
    if (value) sessionStorage.setItem(CSRF_KEY, value);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    /* storage refused: the page then asks for a login after a reload */
  }
}

/** fetch() for the desk API: same origin, the session cookie, the CSRF token. */
async function call(path, init = {}) {
  let res;
  try {
    res = await fetch(path, {
      ...init,
      headers: { "X-Wbs-Csrf": csrf(), ...(init.headers || {}) },
      credentials: "same-origin",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      redirect: "error",
    });
  } catch (e) {
    throw new DeskError(0, "network", String(e && e.message));
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function json(path, init) {
  return (await call(path, init)).json();
}

// ---- messages --------------------------------------------------------------

function explain(err) {
  if (!(err instanceof DeskError)) return ["desk.error.server", { code: "client", message: String((err && err.message) || err) }];
  if (err.status === 0) return ["desk.error.network"];
  if (err.code === "login_failed") return ["desk.error.login"];
  if (err.code === "login_limited") return ["desk.error.limited"];
  if (err.code === "cross_site") return ["desk.error.cross_site"];
  if (err.code === "csrf") return ["desk.error.csrf"];
  if (err.status === 401) return ["desk.login.ended"];
  return ["desk.error.server", { code: err.code || String(err.status), message: err.message }];
}

function showMessage(key, params) {
  const box = $("desk-error");
  const p = document.createElement("p");
  setText(p, key, params);
  box.replaceChildren(p);
  if (box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
}

function showError(err) {
  showMessage(...explain(err));
}

function clearMessages() {
  $("desk-error").replaceChildren();
  $("desk-note").replaceChildren();
}

function note(key, params) {
  const p = document.createElement("span");
  setText(p, key, params);
  $("desk-note").replaceChildren(p);
}

/** Any request that finds the session gone (or its CSRF token lost) leads back to the login. */
function sessionLost(err) {
  if (err instanceof DeskError && (err.status === 401 || err.code === "csrf")) {
    setCsrf("");
    showLogin();
    showError(err);
    return true;
  }
  return false;
}

// ---- login -----------------------------------------------------------------

let who = null;

function showLogin() {
  who = null;
  $("desk-app").hidden = true;
  $("desk-login-section").hidden = false;
}

function showApp(session) {
  who = session;
  $("desk-login-section").hidden = true;
  $("desk-app").hidden = false;
  setText($("desk-who"), "desk.who", { name: session.name, idle: session.idle_minutes });
}

async function login(e) {
  e.preventDefault();
  clearMessages();
  const tokenEl = $("desk-token");
  const totpEl = $("desk-totp");
  const token = tokenEl.value.trim();
  const code = totpEl.value.replace(/\s+/g, "");
  if (!token) {
    showMessage("desk.error.token_empty");
    tokenEl.focus();
    return;
  }
  const button = e.submitter || $("desk-login-form").querySelector("button");
  button.disabled = true;
  try {
    const body = code ? { token, totp: code } : { token };
    const session = await json("/api/v1/desk/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    setCsrf(session.csrf);
    tokenEl.value = "";
    totpEl.value = "";
    showApp(session);
    await refresh();
    $("main").focus();
  } catch (err) {
    totpEl.value = "";
    showError(err);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  clearMessages();
  try {
    await call("/api/v1/desk/logout", { method: "POST" });
  } catch (err) {
    if (!(err instanceof DeskError && err.status === 401)) {
      showError(err);
      return;
    }
  }
  setCsrf("");
  $("desk-cases").replaceChildren();
  $("desk-audit").tBodies[0].replaceChildren();
  $("desk-audit-wrap").hidden = true;
  showLogin();
  note("desk.logged_out");
}

// ---- overview --------------------------------------------------------------

let overview = null;

function clockText(c) {
  const due = { date: c.due };
  switch (c.state) {
    case "on_time":
      return ["desk.clock.on_time", { due, n: c.days_left }];
    case "due_soon":
      return c.days_left === 0 ? ["desk.clock.due_today", { due }] : ["desk.clock.due_soon", { due, n: c.days_left }];
    case "overdue":
      return ["desk.clock.overdue", { due, n: c.days_over }];
    default:
      return c.late ? ["desk.clock.met_late", { due, on: { date: c.on } }] : ["desk.clock.met", { on: { date: c.on } }];
  }
}

function clockState(c) {
  return c.state === "met" && c.late ? "met_late" : c.state;
}

function fact(dl, labelKey, build) {
  const dt = document.createElement("dt");
  setText(dt, labelKey);
  const dd = document.createElement("dd");
  build(dd);
  dl.append(dt, dd);
  return dd;
}

function caseRow(c, statuses) {
  const li = document.createElement("li");
  li.className = `desk-case ${clockState(c.acknowledge)} ${clockState(c.feedback)}`;
  li.dataset.testid = "desk-case-row";
  li.dataset.case = c.id;
  const h = document.createElement("h3");
  const code = document.createElement("code");
  code.textContent = c.id;
  h.append(code);
  if (c.new_objects > 0) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.testid = "desk-case-new";
    setText(badge, "desk.case.new", { n: c.new_objects });
    h.append(" ", badge);
  }
  li.append(h);
  const dl = document.createElement("dl");
  dl.className = "desk-facts";
  fact(dl, "desk.case.received", (dd) => {
    const day = document.createElement("span");
    day.textContent = formatDate(c.received_on);
    day.dataset.date = c.received_on;
    const thread = document.createElement("span");
    thread.className = "muted";
    setText(thread, "desk.case.thread", { f: c.followups, r: c.replies });
    dd.append(day, " · ", thread);
  });
  fact(dl, "desk.case.status", (dd) => {
    dd.dataset.testid = "desk-case-status";
    dd.dataset.status = c.status;
    setText(dd, `statuslabel.${c.status}`);
  });
  for (const [key, clock, testid] of [
    ["desk.case.ack", c.acknowledge, "desk-clock-ack"],
    ["desk.case.feedback", c.feedback, "desk-clock-feedback"],
  ]) {
    fact(dl, key, (dd) => {
      dd.dataset.testid = testid;
      dd.dataset.state = clockState(clock);
      dd.className = `clock ${clockState(clock)}`;
      const [k, p] = clockText(clock);
      setText(dd, k, p);
    });
  }
  li.append(dl);

  const form = document.createElement("form");
  form.className = "desk-status";
  form.noValidate = true;
  const sel = document.createElement("select");
  sel.id = `desk-status-${c.id}`;
  sel.dataset.testid = "desk-status-select";
  for (const s of statuses) {
    const o = document.createElement("option");
    o.value = s;
    setText(o, `statuslabel.${s}`);
    if (s === c.status) o.selected = true;
    sel.append(o);
  }
  const label = document.createElement("label");
  label.htmlFor = sel.id;
  setText(label, "desk.case.set_status");
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "secondary";
  button.dataset.testid = "desk-status-save";
  setText(button, "desk.case.save");
  form.append(label, sel, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setStatus(c.id, sel.value, button);
  });
  li.append(form);
  return li;
}

function render() {
  if (!overview) return;
  const o = overview;
  if (o.organization) $("desk-org").textContent = o.organization;
  $("desk-count-total").textContent = String(o.counts.total);
  $("desk-count-new").textContent = String(o.counts.new);
  $("desk-count-overdue").textContent = String(o.counts.overdue);
  $("desk-count-due-soon").textContent = String(o.counts.due_soon);
  $("desk-cases-none").hidden = o.cases.length > 0;
  $("desk-cases").replaceChildren(...o.cases.map((c) => caseRow(c, o.statuses)));
}

async function refresh() {
  try {
    overview = await json("/api/v1/desk/overview");
    render();
  } catch (err) {
    if (!sessionLost(err)) showError(err);
  }
}

async function setStatus(id, status, button) {
  clearMessages();
  button.disabled = true;
  try {
    await call(`/api/v1/desk/cases/${encodeURIComponent(id)}/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status }),
    });
    note("desk.case.saved", { id, status: { key: `statuslabel.${status}` } });
    await refresh();
  } catch (err) {
    if (!sessionLost(err)) showError(err);
  } finally {
    button.disabled = false;
  }
}

// ---- bundles ---------------------------------------------------------------

/** Streams the export, showing the bytes as they arrive, then saves it. */
async function exportBundle() {
  clearMessages();
  const button = $("desk-export");
  const what = document.querySelector("input[name=desk-export-what]:checked").value;
  const since = what === "new" && overview ? overview.last_pull : "0";
  const row = $("desk-export-row");
  const bar = $("desk-export-progress");
  const text = $("desk-export-text");
  $("desk-export-done").replaceChildren();
  button.disabled = true;
  row.hidden = false;
  bar.removeAttribute("value");
  text.textContent = "";
  try {
    const res = await call(`/api/v1/desk/export?since=${encodeURIComponent(since)}`);
    const cursor = res.headers.get("x-wbs-cursor") || "";
    const reader = res.body.getReader();
    const chunks = [];
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.length;
      setText(text, "desk.export.received", { size: { bytes: got } });
    }
    bar.max = 1;
    bar.value = 1;
    const name = `wbs-export-${since}-${cursor || "x"}.tar`;
    const url = URL.createObjectURL(new Blob(chunks, { type: "application/x-tar" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    setText($("desk-export-done"), "desk.export.done", { file: name, size: { bytes: got } });
    await refresh();
  } catch (err) {
    row.hidden = true;
    if (!sessionLost(err)) showError(err);
  } finally {
    button.disabled = false;
  }
}

/** Uploads a reply bundle with XMLHttpRequest, for its upload progress. */
function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/desk/import");
    xhr.withCredentials = false; // same origin: the cookie goes anyway
    xhr.setRequestHeader("Content-Type", "application/x-tar");
    xhr.setRequestHeader("X-Wbs-Csrf", csrf());
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onerror = () => reject(new DeskError(0, "network", ""));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else if (body && body.error) reject(new DeskError(xhr.status, String(body.error.code || ""), String(body.error.message || "")));
      else reject(new DeskError(xhr.status, "", ""));
    };
    xhr.send(file);
  });
}

async function importBundle(e) {
  e.preventDefault();
  clearMessages();
  const input = $("desk-import-file");
  const result = $("desk-import-result");
  result.className = "desk-result";
  result.replaceChildren();
  const file = input.files && input.files[0];
  if (!file) {
    const p = document.createElement("p");
    setText(p, "desk.import.none");
    result.replaceChildren(p);
    result.classList.add("refused");
    input.focus();
    return;
  }
  const button = $("desk-import-form").querySelector("button");
  const row = $("desk-import-row");
  const bar = $("desk-import-progress");
  const text = $("desk-import-text");
  row.hidden = false;
  bar.max = 1;
  bar.value = 0;
  text.textContent = "";
  button.disabled = true;
  try {
    const r = await upload(file, (loaded, total) => {
      bar.value = total ? loaded / total : 0;
      text.textContent = `${formatSize(loaded)} / ${formatSize(total)}`;
    });
    bar.value = 1;
    const p = document.createElement("p");
    setText(p, "desk.import.applied", { applied: r.applied, skipped: r.skipped });
    result.dataset.applied = String(r.applied);
    result.dataset.skipped = String(r.skipped);
    result.classList.add("applied");
    result.replaceChildren(p);
    input.value = "";
    await refresh();
  } catch (err) {
    row.hidden = true;
    if (sessionLost(err)) return;
    const p = document.createElement("p");
    if (err instanceof DeskError && err.status >= 400 && err.status !== 401) {
      setText(p, "desk.import.refused", { why: `${err.code}: ${err.message}` });
      result.dataset.refused = err.code;
    } else {
      const [k, params] = explain(err);
      setText(p, k, params);
    }
    result.classList.add("refused");
    result.replaceChildren(p);
  } finally {
    button.disabled = false;
  }
}

// ---- audit log -------------------------------------------------------------

async function loadAudit() {
  clearMessages();
  try {
    const v = await json("/api/v1/desk/audit");
    const rows = v.entries.map((e) => {
      const tr = document.createElement("tr");
      for (const [value, date] of [[e.on, true], [e.actor], [e.action], [e.detail]]) {
        const td = document.createElement("td");
        if (date) {
          td.dataset.date = value;
          td.textContent = formatDate(value);
        } else td.textContent = value;
        tr.append(td);
      }
      return tr;
    });
    $("desk-audit").tBodies[0].replaceChildren(...rows);
    $("desk-audit-wrap").hidden = rows.length === 0;
    const n = $("desk-audit-note");
    if (rows.length === 0) setText(n, "desk.audit.empty");
    else if (v.truncated) setText(n, "desk.audit.truncated", { n: rows.length });
    else n.replaceChildren();
  } catch (err) {
    if (!sessionLost(err)) showError(err);
  }
}

function redrawDates() {
  for (const el of document.querySelectorAll("#desk-audit td[data-date], #desk-cases [data-date]")) {
    el.textContent = formatDate(el.dataset.date);
  }
}

// ---- start -----------------------------------------------------------------

/** Wires the page; resumes a session this tab already holds. */
export async function initDesk() {
  $("desk-login-form").addEventListener("submit", login);
  $("desk-logout").addEventListener("click", logout);
  $("desk-export").addEventListener("click", exportBundle);
  $("desk-import-form").addEventListener("submit", importBundle);
  $("desk-audit-load").addEventListener("click", loadAudit);
  onLangChange(() => {
    render();
    redrawDates();
    if (who) setText($("desk-who"), "desk.who", { name: who.name, idle: who.idle_minutes });
  });
  if (!csrf()) {
    showLogin();
    return;
  }
  try {
    const session = await json("/api/v1/desk/session");
    showApp(session);
    await refresh();
  } catch (err) {
    setCsrf("");
    showLogin();
    if (!(err instanceof DeskError && err.status === 401)) showError(err);
  }
}
