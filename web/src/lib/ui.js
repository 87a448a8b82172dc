// Page building blocks shared by the report and status pages: errors,
// progress rows, the attachment picker, proof of work and the upload steps.

import { t, setText, formatSize } from "./i18n.js";
import { ApiError, getPow, uploadForm, isPowError } from "./api.js";
import { ReceiptError } from "./receipt.js";
import { encryptFile, encryptedFileSize, maxFileSize } from "./envelope.js";
import { powHasher, powSearch } from "./pow.js";
import { scrub, removedCodes, neutralName } from "./scrub.js";

/** An error meant for the reporter: a locale key and its parameters. */
export class UserError extends Error {
  constructor(key, params) {
    super(key);
    this.name = "UserError";
    this.key = key;
    this.params = params;
  }
}

/** The locale key and parameters that explain an error. */
export function explain(err) {
  if (err instanceof UserError) return [err.key, err.params];
  if (err instanceof ReceiptError) {
    if (err.kind === "length") return err.found === 0 ? ["error.receipt_empty"] : ["error.receipt_length", { found: err.found }];
    if (err.kind === "symbol") return ["error.receipt_symbol", { position: err.position }];
    return ["error.receipt_checksum"];
  }
  if (err instanceof ApiError) {
    const s = err.status;
    if (s === 0) return ["error.network"];
    if (s === 404) return ["error.not_found"];
    if (s === 413) return ["error.too_large"];
    if (s === 429) return ["error.busy"];
    if (s === 507) return ["error.storage_full"];
    if (s >= 500) return ["error.server", { status: String(s) }];
    return ["error.rejected", { code: err.code || String(s) }];
  }
  return ["error.encrypt", { detail: String((err && err.message) || err) }];
}

const errorBox = () => document.querySelector("[data-testid=error]");

/**
 * Shows one or more messages in the page's single alert box, moved next to
 * the form that caused them (before `near`) so that it is seen there.
 * @param {Array<[string, object?]>} messages
 * @param {Element} [near]
 */
export function showErrors(messages, near) {
  const box = errorBox();
  if (near && near !== box && box.nextElementSibling !== near) near.before(box);
  box.replaceChildren();
  for (const [key, params] of messages) {
    const p = document.createElement("p");
    setText(p, key, params);
    box.append(p);
  }
  if (box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
}

export function showError(err, near) {
  showErrors([explain(err)], near);
}

export function clearError() {
  errorBox().replaceChildren();
}

/**
 * Progress rows (encryption, proof of work, upload), each a labelled <progress>.
 * @param {HTMLElement} box
 */
export function createProgress(box) {
  const rows = {};
  box.replaceChildren();
  const title = document.createElement("h3");
  setText(title, "progress.title");
  box.append(title);
  for (const name of ["encrypt", "pow", "upload"]) {
    const row = document.createElement("div");
    row.className = "prow";
    const id = `${box.id}-${name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    setText(label, `progress.${name}`);
    const bar = document.createElement("progress");
    bar.id = id;
    bar.max = 100;
    bar.value = 0;
    const text = document.createElement("span");
    text.className = "ptext";
    text.setAttribute("aria-hidden", "true");
    row.append(label, bar, text);
    box.append(row);
    rows[name] = { row, bar, text };
  }
  const api = {
    reset(withPow) {
      for (const [name, r] of Object.entries(rows)) {
        r.bar.value = 0;
        setText(r.text, "progress.waiting");
        r.row.hidden = name === "pow" && !withPow;
      }
      box.hidden = false;
    },
    set(name, fraction, key = "progress.percent", params) {
      const r = rows[name];
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      r.bar.value = pct;
      if (fraction >= 1 && key === "progress.percent") setText(r.text, "progress.done");
      else setText(r.text, key, params ?? { n: pct });
    },
    hide() {
      box.hidden = true;
    },
  };
  return api;
}

// Room kept in a request for the JSON document and the multipart framing
// when the attachments' share of the request limit is worked out.
export const RESERVE = 64 * 1024;

/**
 * The attachment picker: shows every file's name and size and the limits
 * before anything is uploaded, and refuses what would not fit.
 */
export function createFilePicker({ input, list, limitsEl, limits, recipients, near }) {
  const files = [];
  const maxCount = Number(limits.max_attachments) || 0;
  const maxFile = Math.max(0, maxFileSize(Number(limits.max_object_bytes), recipients));
  const maxTotal = Number(limits.max_request_bytes) - RESERVE;

  const encTotal = () => files.reduce((s, f) => s + encryptedFileSize(f.size, recipients), 0);

  // Per file: what the metadata check found and what the reporter chose
  // (issue 13). Nothing here leaves the device.
  const checks = new WeakMap();

  function check(f) {
    let c = checks.get(f);
    if (!c) {
      c = { result: null, keep: false, neutral: false, consent: false, sent: new Map() };
      c.done = f
        .arrayBuffer()
        .then((buf) => scrub(new Uint8Array(buf)))
        .catch(() => ({ outcome: "unreadable" }))
        .then((r) => {
          c.result = r;
          if (files.includes(f)) render();
        });
      checks.set(f, c);
    }
    return c;
  }

  function label(field) {
    return t(`scrub.field.${field}`);
  }

  function checkbox(testid, key, params, checked, onChange) {
    const wrap = document.createElement("label");
    wrap.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = checked;
    box.dataset.testid = testid;
    box.addEventListener("change", () => onChange(box.checked));
    const span = document.createElement("span");
    setText(span, key, params);
    wrap.append(box, " ", span);
    return wrap;
  }

  function findings(f, i) {
    const c = check(f);
    const box = document.createElement("div");
    box.className = "findings";
    box.dataset.testid = "attachment-findings";
    box.setAttribute("aria-live", "polite");
    const r = c.result;
    const para = (key, params, cls) => {
      const p = document.createElement("p");
      if (cls) p.className = cls;
      setText(p, key, params);
      return p;
    };
    if (!r) {
      box.append(para("scrub.checking"));
    } else if (r.outcome === "cleaned") {
      if (r.found.length === 0) {
        box.append(para("scrub.none_found"));
      } else {
        box.append(para("scrub.found"));
        const ul = document.createElement("ul");
        const seen = new Set();
        for (const x of r.found) {
          const text = x.value ? `${label(x.field)}: ${x.value}` : label(x.field);
          if (seen.has(text)) continue;
          seen.add(text);
          const li = document.createElement("li");
          li.textContent = text;
          ul.append(li);
        }
        box.append(ul);
      }
      const verdict = para(c.keep ? "scrub.will_keep" : "scrub.will_remove", null, c.keep ? "warn" : "");
      box.append(verdict);
      if (r.found.length) {
        box.append(
          checkbox("attachment-keep", "scrub.keep", null, c.keep, (v) => {
            c.keep = v;
            setText(verdict, v ? "scrub.will_keep" : "scrub.will_remove");
            verdict.className = v ? "warn" : "";
          }),
        );
      }
    } else if (r.outcome === "unchecked") {
      const w = para("scrub.unchecked", null, "warn");
      w.dataset.testid = "attachment-unchecked-warning";
      box.append(w);
    } else {
      const w = para("scrub.refused", { reason: r.reason || "" }, "warn");
      w.dataset.testid = "attachment-unchecked-warning";
      box.append(w);
      box.append(
        checkbox("attachment-send-unchecked", "scrub.send_unchecked", null, c.consent, (v) => {
          c.consent = v;
        }),
      );
    }
    box.append(
      checkbox("attachment-neutral-name", "scrub.neutral_name", { name: neutralName(i + 1, f.name) }, c.neutral, (v) => {
        c.neutral = v;
      }),
    );
    return box;
  }

  function render() {
    list.replaceChildren();
    if (files.length === 0) {
      const p = document.createElement("p");
      p.className = "hint";
      setText(p, "files.none");
      list.append(p);
      return;
    }
    const h = document.createElement("p");
    h.className = "files-title";
    h.id = `${list.id}-title`;
    setText(h, "files.list");
    const ul = document.createElement("ul");
    ul.setAttribute("aria-labelledby", h.id);
    files.forEach((f, i) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "fname";
      name.textContent = f.name;
      const size = document.createElement("span");
      size.className = "fsize";
      setText(size, "files.size", { size: { bytes: f.size } });
      const rm = document.createElement("button");
      rm.type = "button";
      rm.className = "link";
      setText(rm, "files.remove");
      rm.setAttribute("aria-label", t("files.remove_label", { name: f.name }));
      rm.addEventListener("click", () => {
        files.splice(i, 1);
        render();
        input.focus();
      });
      li.append(name, " ", size, " ", rm, findings(f, i));
      ul.append(li);
    });
    const total = document.createElement("p");
    total.className = "hint";
    setText(total, "files.total", { size: { bytes: files.reduce((s, f) => s + f.size, 0) }, max: { bytes: maxTotal } });
    list.append(h, ul, total);
  }

  function renderLimits() {
    if (maxCount === 0) {
      input.disabled = true;
      setText(limitsEl, "files.none_allowed");
    } else {
      setText(limitsEl, "files.limits", { count: maxCount, max: { bytes: maxFile }, total: { bytes: maxTotal } });
    }
  }

  input.addEventListener("change", () => {
    const refused = [];
    for (const f of Array.from(input.files || [])) {
      if (files.length >= maxCount) {
        refused.push(["error.too_many_files", { count: maxCount, name: f.name }]);
      } else if (f.size > maxFile) {
        refused.push(["error.file_too_big", { name: f.name, size: { bytes: f.size }, max: { bytes: maxFile } }]);
      } else if (encTotal() + encryptedFileSize(f.size, recipients) > maxTotal) {
        refused.push(["error.total_too_big", { size: { bytes: files.reduce((s, x) => s + x.size, 0) + f.size }, max: { bytes: maxTotal } }]);
      } else {
        files.push(f);
        check(f);
      }
    }
    // The picker only adds: clearing it lets the same input add more files.
    input.value = "";
    render();
    if (refused.length) showErrors(refused, near);
    else clearError();
  });

  renderLimits();
  render();
  return {
    files,
    clear() {
      files.length = 0;
      input.value = "";
      render();
    },
    /**
     * Waits for every file's check, then gives what is to be sent: the
     * cleaned bytes (or, by the reporter's choice, the file as it is) under
     * the chosen name, and the metadata note (docs/PROTOCOL.md §4.1). A file
     * that could not be read safely is left out unless the reporter agreed
     * to send it unchanged. The same choices give the same File objects, so
     * a retry does not encrypt again.
     */
    async prepare() {
      const out = [];
      for (const [i, f] of files.entries()) {
        const c = check(f);
        await c.done;
        const r = c.result;
        if (r.outcome !== "cleaned" && r.outcome !== "unchecked" && !c.consent) continue;
        const name = c.neutral ? neutralName(i + 1, f.name) : f.name;
        const clean = r.outcome === "cleaned" && !c.keep;
        const k = `${clean}/${name}`;
        if (!c.sent.has(k)) {
          c.sent.set(k, clean || name !== f.name ? new File([clean ? r.bytes : f], name, { type: f.type }) : f);
        }
        let metadata = { checked: false };
        if (r.outcome === "cleaned") {
          const codes = removedCodes(r.found);
          metadata = { checked: true };
          if (codes.length) metadata[c.keep ? "kept" : "removed"] = codes;
        }
        out.push({ file: c.sent.get(k), metadata });
      }
      return out;
    },
    /** Re-renders the remove buttons' labels, which carry a file name. */
    relabel() {
      render();
    },
  };
}

// The worker sits next to this bundle, wherever the server puts assets.
const WORKER_URL = (() => {
  try {
    const s = document.currentScript;
    if (s && s.src) return new URL("pow-worker.js", s.src).href;
  } catch {
    /* fall through */
  }
  return "/assets/pow-worker.js";
})();

/** Solves on the page itself, in slices, when workers are unavailable. */
async function solveHere(challenge, difficulty, onTried) {
  const hasher = powHasher(challenge);
  for (let next = 0; ; next += 8192) {
    const r = powSearch(hasher, difficulty, next, 1, 8192);
    onTried(r.tried);
    if (r.nonce !== null) return r.nonce;
    await new Promise((res) => setTimeout(res, 0));
  }
}

/**
 * Finds a nonce for a challenge in Web Workers (one per spare core, at most
 * four), reporting progress as the chance that it would be found by now.
 */
export function solvePow(challenge, difficulty, onProgress) {
  const expected = 2 ** difficulty;
  let tried = 0;
  const onTried = (n) => {
    tried += n;
    onProgress(Math.min(0.99, 1 - Math.exp(-tried / expected)));
  };
  return new Promise((resolve, reject) => {
    const count = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    const workers = [];
    let settled = false;
    const stop = () => workers.forEach((w) => w.terminate());
    const fallback = () => {
      if (settled) return;
      settled = true;
      stop();
      solveHere(challenge, difficulty, onTried).then(resolve, reject);
    };
    try {
      for (let i = 0; i < count; i++) {
        const w = new Worker(WORKER_URL);
        w.onmessage = (e) => {
          if (settled) return;
          onTried(e.data.tried || 0);
          if (typeof e.data.found === "number") {
            settled = true;
            stop();
            onProgress(1);
            resolve(e.data.found);
          }
        };
        w.onerror = (e) => {
          e.preventDefault();
          fallback();
        };
        workers.push(w);
        w.postMessage({ challenge, difficulty, start: i, step: count });
      }
    } catch {
      fallback();
    }
  });
}

/**
 * Gets and solves a challenge when the server asks for work.
 * @returns {Promise<null | {pow: {challenge: string, nonce: number}, freshUntil: number}>}
 */
export async function obtainPow(config, progress) {
  if (!config.pow || !(config.pow.difficulty > 0)) return null;
  const ch = await getPow();
  const fetchedAt = Date.now();
  let ttl = Number(ch.expires_at) * 1000 - fetchedAt;
  // A clock far off makes expires_at useless here: assume five minutes.
  if (!(ttl > 0 && ttl < 24 * 3600 * 1000)) ttl = 5 * 60 * 1000;
  if (!(ch.difficulty > 0)) {
    progress.set("pow", 1);
    return { pow: { challenge: ch.challenge, nonce: 0 }, freshUntil: fetchedAt + ttl - 30_000 };
  }
  let nonce;
  try {
    nonce = await solvePow(ch.challenge, ch.difficulty, (f) => progress.set("pow", f));
  } catch {
    throw new UserError("error.pow");
  }
  progress.set("pow", 1);
  return { pow: { challenge: ch.challenge, nonce }, freshUntil: fetchedAt + ttl - 30_000 };
}

/**
 * Sends an upload with the proof of work from `powTask` (solved while the
 * files were encrypted), renewed first if it went stale, and once more with
 * a fresh challenge if the server says it expired or was spent.
 * @param {(pow: any) => Promise<any>} send
 */
export async function sendWithPow(send, powTask, config, progress) {
  let pow = await powTask;
  if (pow && Date.now() > pow.freshUntil) pow = await obtainPow(config, progress);
  try {
    return await send(pow);
  } catch (e) {
    if (!isPowError(e)) throw e;
    return await send(await obtainPow(config, progress));
  }
}

/**
 * Encrypts attachments one after another, caching results per File so that
 * a retry does not encrypt again.
 * @param {File[]} files
 * @param {WeakMap<File, any>} cache
 */
export async function encryptAttachments(files, recipients, progress, cache) {
  const total = files.reduce((s, f) => s + f.size, 0) || 1;
  let done = 0;
  const out = [];
  for (const f of files) {
    let r = cache.get(f);
    if (!r) {
      try {
        r = await encryptFile(recipients, f, (n) => progress.set("encrypt", (done + n) / total));
      } catch (e) {
        if (e instanceof DOMException || /changed|read/i.test(String(e && e.message))) {
          throw new UserError("error.file_read", { name: f.name });
        }
        throw e;
      }
      cache.set(f, r);
    }
    done += f.size;
    progress.set("encrypt", done / total);
    out.push({ file: f, ...r });
  }
  return out;
}

/** Checks the finished request against the server's limits before sending. */
export function checkRequestSize(limits, objects) {
  const maxObject = Number(limits.max_object_bytes);
  const total = objects.reduce((s, o) => s + o.size + 512, 1024);
  if (objects.some((o) => o.size > maxObject) || total > Number(limits.max_request_bytes)) {
    throw new UserError("error.total_too_big", { size: { bytes: total }, max: { bytes: Number(limits.max_request_bytes) } });
  }
}

/** Uploads a multipart form, showing byte progress. */
export function upload(path, form, progress) {
  return uploadForm(path, form, (loaded, total) => {
    progress.set("upload", total ? loaded / total : 0, "progress.uploaded", { done: { bytes: loaded }, total: { bytes: total } });
  }).then((r) => {
    progress.set("upload", 1);
    return r;
  });
}

export { formatSize };
