// The status page: the receipt code is parsed and turned into the lookup key
// and reply identity here; only the lookup key is sent. Replies are decrypted
// on the device. The code lives in this module's memory only, until the
// reporter clears it or leaves the page.

import { setText, pick, onLangChange } from "../lib/i18n.js";
import { parseReceipt, lookupKey, replyIdentity } from "../lib/receipt.js";
import { buildFollowup, encodePadded, parseReply, MAX_DOCUMENT_LEN } from "../lib/message.js";
import { encryptBytes, decryptText } from "../lib/envelope.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { postStatus } from "../lib/api.js";
import {
  UserError,
  showError,
  clearError,
  createProgress,
  createFilePicker,
  obtainPow,
  encryptAttachments,
  checkRequestSize,
  sendWithPow,
  upload,
} from "../lib/ui.js";

function base64ToBytes(b64) {
  const bin = atob(String(b64).replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function initStatus(config) {
  const $ = (id) => document.getElementById(id);
  const lookupForm = $("status-form");
  const receiptInput = $("status-receipt");
  const lookupSubmit = lookupForm.querySelector("[data-testid=status-submit]");
  const result = $("status-result");
  const followForm = $("followup-form");
  const followBody = $("followup-body");
  const followSubmit = followForm.querySelector("[data-testid=followup-submit]");
  const followActions = followSubmit.parentElement;
  const followDone = $("followup-done");
  const progress = createProgress($("followup-progress"));
  const picker = createFilePicker({
    input: $("followup-attachments"),
    list: $("followup-files"),
    limitsEl: $("followup-attachments-limits"),
    limits: config.limits,
    recipients: config.recipients,
    near: followActions,
  });
  const cache = new WeakMap();

  /** @type {null | {lookup: string, identity: string, answer: any, replies: Array<{id: string, on: string, body: string|null}>}} */
  let current = null;
  /** The last follow-up encrypted but not confirmed stored (see the form). */
  let unconfirmed = null;

  function statusLabel(status) {
    const entry = (config.statuses || []).find((s) => s.status === status);
    return entry ? pick(entry.label) : null;
  }

  function setStatusText(el, status) {
    const label = statusLabel(status);
    if (label) {
      delete el.dataset.i18n;
      el.textContent = label;
    } else {
      setText(el, `statuslabel.${status}`);
    }
  }

  function render() {
    if (!current) return;
    const a = current.answer;
    const value = $("status-value");
    value.dataset.status = a.status;
    setStatusText(value, a.status);
    setText($("status-received"), "status.date", { date: { date: a.received_on } });

    const history = $("status-history");
    history.replaceChildren();
    for (const h of a.history || []) {
      const li = document.createElement("li");
      const when = document.createElement("span");
      when.className = "when";
      setText(when, "status.date", { date: { date: h.on } });
      const what = document.createElement("span");
      setStatusText(what, h.status);
      li.append(when, " ", what);
      history.append(li);
    }

    const replies = $("status-replies");
    replies.replaceChildren();
    if (current.replies.length === 0) {
      const p = document.createElement("p");
      setText(p, "status.no_replies");
      replies.append(p);
    }
    for (const r of current.replies) {
      const art = document.createElement("article");
      art.className = "reply";
      const h = document.createElement("h4");
      setText(h, "status.reply_on", { date: { date: r.on } });
      art.append(h);
      const div = document.createElement("div");
      if (r.body === null) {
        div.className = "reply-failed";
        setText(div, "status.reply_failed");
      } else {
        div.className = "reply-body";
        div.dataset.testid = "reply-body";
        div.textContent = r.body;
      }
      art.append(div);
      replies.append(art);
    }
    setText($("status-followups"), "status.followups", { n: Number(a.followups) || 0 });
  }
  onLangChange(() => {
    render();
    picker.relabel();
  });

  async function load(lookup, identity) {
    const answer = await postStatus(lookup);
    const replies = [];
    for (const r of answer.replies || []) {
      let body = null;
      try {
        body = parseReply(await decryptText(identity, base64ToBytes(r.age)));
      } catch {
        body = null;
      }
      replies.push({ id: r.id, on: r.on, body });
    }
    current = { lookup, identity, answer, replies };
    render();
  }

  lookupForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (lookupSubmit.disabled) return;
    clearError();
    $("status-cleared").replaceChildren();
    receiptInput.removeAttribute("aria-invalid");
    let canonical;
    try {
      canonical = parseReceipt(receiptInput.value);
    } catch (err) {
      receiptInput.setAttribute("aria-invalid", "true");
      showError(err, $("status-cleared"));
      receiptInput.focus();
      return;
    }
    lookupSubmit.disabled = true;
    lookupForm.setAttribute("aria-busy", "true");
    try {
      const lookup = lookupKey(canonical);
      const identity = replyIdentity(canonical);
      canonical = null;
      await load(lookup, identity);
      receiptInput.value = "";
      followDone.replaceChildren();
      result.hidden = false;
      result.focus();
    } catch (err) {
      forget();
      showError(err, $("status-cleared"));
    } finally {
      lookupSubmit.disabled = false;
      lookupForm.removeAttribute("aria-busy");
    }
  });

  followForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (followSubmit.disabled || !current) return;
    clearError();
    followDone.replaceChildren();
    if (!followBody.value.trim() && picker.files.length === 0) {
      showError(new UserError("error.required_followup"), followActions);
      followBody.focus();
      return;
    }
    followSubmit.disabled = true;
    followForm.setAttribute("aria-busy", "true");
    const { lookup, identity } = current;
    try {
      const withPow = Boolean(config.pow && config.pow.difficulty > 0);
      progress.reset(withPow);
      const powTask = obtainPow(config, progress);
      powTask.catch(() => {});
      const encrypted = await encryptAttachments(picker.files, config.recipients, progress, cache);
      const plain = encodePadded(
        buildFollowup({
          body: followBody.value,
          attachments: encrypted.map((x) => ({ name: x.file.name, type: x.file.type, size: x.size, sha256: x.sha256 })),
        }),
      );
      if (plain.length > MAX_DOCUMENT_LEN) throw new UserError("error.too_long");
      // Sent again unchanged after a failure, the follow-up goes out as the
      // same bytes, so a server that did store the first attempt stores it
      // once (docs/PROTOCOL.md, 7.1). Only a digest of the text is kept
      // (computed in JS: crypto.subtle is missing outside secure contexts).
      const digest = bytesToHex(sha256(plain));
      let message;
      if (unconfirmed && unconfirmed.lookup === lookup && unconfirmed.digest === digest) {
        message = unconfirmed.message;
      } else {
        message = await encryptBytes(config.recipients, plain);
        unconfirmed = { lookup, digest, message };
      }
      plain.fill(0);
      progress.set("encrypt", 1);
      checkRequestSize(config.limits, [{ size: message.length }, ...encrypted.map((x) => ({ size: x.blob.size }))]);
      const send = (pow) => {
        const meta = { lookup };
        if (pow) meta.pow = pow.pow;
        const fd = new FormData();
        fd.append("meta", JSON.stringify(meta));
        fd.append("message", new Blob([message], { type: "application/octet-stream" }), "message.age");
        for (const x of encrypted) fd.append("attachment", x.blob, "attachment.age");
        return upload("/api/v1/followups", fd, progress);
      };
      await sendWithPow(send, powTask, config, progress);
      unconfirmed = null;
      followForm.reset();
      picker.clear();
      progress.hide();
      setText(followDone, "followup.done");
      // Refresh the count (and any new reply); a failure here changes nothing sent.
      try {
        await load(lookup, identity);
      } catch {
        /* the follow-up is stored; the old view stays */
      }
    } catch (err) {
      showError(err, followActions);
    } finally {
      followSubmit.disabled = false;
      followForm.removeAttribute("aria-busy");
    }
  });

  function forget() {
    current = null;
    unconfirmed = null;
    result.hidden = true;
    $("status-value").replaceChildren();
    delete $("status-value").dataset.status;
    $("status-history").replaceChildren();
    $("status-replies").replaceChildren();
    followForm.reset();
    picker.clear();
    progress.hide();
    followDone.replaceChildren();
  }

  $("status-forget").addEventListener("click", () => {
    forget();
    clearError();
    setText($("status-cleared"), "status.forgotten");
    receiptInput.focus();
  });

  if (!config.recipients || config.recipients.length === 0) {
    followSubmit.disabled = true;
  }
}
