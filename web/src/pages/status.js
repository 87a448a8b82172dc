// The status page: the receipt code is parsed and turned into the lookup key,
// reply identity and thread key here; only the lookup key is sent. Replies
// are decrypted and verified on the device: a reply whose authenticator does
// not verify under the thread key (docs/PROTOCOL.md §4.4) is withheld, its
// text never shown, and the statuses no verified reply sets are marked as
// the server's word only. The code is dropped once the keys are derived; the
// keys live in this module's memory only, until the reporter clears them or
// leaves the page.

import { setText, pick, onLangChange } from "../lib/i18n.js";
import { parseReceipt, lookupKey, replyIdentityOf, threadKey } from "../lib/receipt.js";
import { buildFollowup, encodePadded, MAX_DOCUMENT_LEN } from "../lib/message.js";
import { authenticatedFollowup, newMessageId, sortReplies } from "../lib/thread.js";
import { encryptBytes, decryptText, recipientOf } from "../lib/envelope.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { postStatus } from "../lib/api.js";
import { uploadLarge, appendAttachment } from "../lib/upload.js";
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

  /**
   * The case on screen: its keys (`key` is the thread key, `kase` the reply
   * recipient that names the case in authenticators), the server's answer,
   * and what of its replies may be shown (see sortReplies).
   * @type {null | {lookup: string, identity: string, key: Uint8Array, kase: string, answer: any,
   *   view: {shown: Array<{on: string, id: string, body: string, status: string}>, withheld: number, confirmed: Set<string>}}}
   */
  let current = null;
  /** Counts lookups and clears, so a slow answer never overwrites a newer one. */
  let generation = 0;
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

  /** "Confirmed by the inspectorate" or "shown by the server only", for a status. */
  function confirmationMark(status, testid) {
    const ok = current.view.confirmed.has(status);
    const mark = document.createElement("span");
    mark.className = ok ? "mark confirmed" : "mark unconfirmed";
    mark.dataset.testid = testid || (ok ? "status-confirmed" : "status-unconfirmed");
    mark.dataset.confirmed = ok ? "yes" : "no";
    setText(mark, ok ? "status.confirmed" : "status.unconfirmed");
    return mark;
  }

  function render() {
    if (!current) return;
    const a = current.answer;
    const { shown, withheld } = current.view;
    const value = $("status-value");
    value.dataset.status = a.status;
    setStatusText(value, a.status);
    const currentMark = $("status-current-conf");
    currentMark.replaceChildren();
    if (a.status !== "received") currentMark.append(confirmationMark(a.status, "status-current-mark"));
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
      // `received` is the server's own doing: nobody else could confirm it.
      if (h.status !== "received") li.append(" ", confirmationMark(h.status));
      history.append(li);
    }

    const replies = $("status-replies");
    replies.replaceChildren();
    if (withheld > 0) {
      const box = document.createElement("div");
      box.className = "warning withheld";
      box.dataset.testid = "status-reply-withheld";
      const p1 = document.createElement("p");
      const strong = document.createElement("strong");
      setText(strong, withheld === 1 ? "status.withheld_one" : "status.withheld_many", { n: withheld });
      p1.append(strong);
      const p2 = document.createElement("p");
      setText(p2, "status.withheld_why");
      box.append(p1, p2);
      replies.append(box);
    }
    if (shown.length === 0 && withheld === 0) {
      const p = document.createElement("p");
      setText(p, "status.no_replies");
      replies.append(p);
    }
    for (const r of shown) {
      const art = document.createElement("article");
      art.className = "reply";
      const h = document.createElement("h4");
      setText(h, "status.reply_on", { date: { date: r.on } });
      const verified = document.createElement("p");
      verified.className = "verified";
      setText(verified, "status.reply_verified");
      art.append(h, verified);
      if (r.body.trim()) {
        const div = document.createElement("div");
        div.className = "reply-body";
        div.dataset.testid = "reply-body";
        div.textContent = r.body;
        art.append(div);
      }
      if (r.status) {
        const p = document.createElement("p");
        p.dataset.testid = "reply-status";
        p.dataset.status = r.status;
        const label = document.createElement("span");
        setText(label, "status.reply_status");
        const what = document.createElement("strong");
        setStatusText(what, r.status);
        p.append(label, " ", what);
        art.append(p);
      }
      replies.append(art);
    }
    setText($("status-followups"), "status.followups", { n: Number(a.followups) || 0 });
  }
  onLangChange(() => {
    render();
    picker.relabel();
  });

  /**
   * Fetches and shows the case; returns false, changing nothing, when a
   * lookup or "clear" started meanwhile (`gen` is then out of date).
   */
  async function load(keys, gen) {
    const answer = await postStatus(keys.lookup);
    const items = [];
    for (const r of answer.replies || []) {
      let text = null;
      try {
        text = await decryptText(keys.identity, base64ToBytes(r.age));
      } catch {
        text = null; // withheld like any other reply that does not verify
      }
      items.push({ on: r.on, text });
    }
    if (gen !== generation) return false;
    const view = sortReplies(keys.key, keys.kase, items);
    if (current && current.key !== keys.key) current.key.fill(0);
    current = { ...keys, answer, view };
    render();
    return true;
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
    const gen = ++generation;
    let key = null;
    try {
      const lookup = lookupKey(canonical);
      // The post-quantum reply identity for a 28-symbol code (made in a
      // post-quantum deployment), the X25519 one for a 20-symbol code.
      const identity = replyIdentityOf(canonical);
      key = threadKey(canonical);
      canonical = null;
      const kase = await recipientOf(identity);
      if (!(await load({ lookup, identity, key, kase }, gen))) {
        key.fill(0);
        return;
      }
      receiptInput.value = "";
      followDone.replaceChildren();
      result.hidden = false;
      result.focus();
    } catch (err) {
      forget();
      if (key) key.fill(0);
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
    const keys = current;
    const { lookup, kase } = keys;
    // A copy: looking up another code (or clearing the page) meanwhile
    // zeroes the case's key, and must not leave this follow-up with a wrong
    // authenticator.
    const key = keys.key.slice();
    try {
      const withPow = Boolean(config.pow && config.pow.difficulty > 0);
      progress.reset(withPow);
      const powTask = obtainPow(config, progress);
      powTask.catch(() => {});
      const prepared = await picker.prepare();
      const encrypted = await encryptAttachments(
        prepared.map((p) => p.file),
        config.recipients,
        progress,
        cache,
      );
      const content = {
        body: followBody.value,
        attachments: encrypted.map((x, i) => ({ name: x.file.name, type: x.file.type, size: x.size, sha256: x.sha256, metadata: prepared[i].metadata })),
      };
      // Sent again unchanged after a failure, the follow-up goes out as the
      // same bytes (same id, same authenticator), so a server that did store
      // the first attempt stores it once (docs/PROTOCOL.md, 7.1). Only a
      // digest of the content is kept (computed in JS: crypto.subtle is
      // missing outside secure contexts).
      const probe = encodePadded(buildFollowup(content));
      const digest = bytesToHex(sha256(probe));
      probe.fill(0);
      let message;
      if (unconfirmed && unconfirmed.lookup === lookup && unconfirmed.digest === digest) {
        message = unconfirmed.message;
      } else {
        const plain = encodePadded(authenticatedFollowup(key, kase, { id: newMessageId(), ...content }));
        if (plain.length > MAX_DOCUMENT_LEN) {
          plain.fill(0);
          throw new UserError("error.too_long");
        }
        message = await encryptBytes(config.recipients, plain);
        plain.fill(0);
        unconfirmed = { lookup, digest, message };
      }
      progress.set("encrypt", 1);
      checkRequestSize(config.limits, [{ size: message.length }, ...encrypted.map((x) => ({ size: x.blob.size }))]);
      // Large attachments first, in parts that survive a lost connection.
      await uploadLarge(encrypted, config, progress);
      const send = (pow) => {
        const meta = { lookup };
        if (pow) meta.pow = pow.pow;
        const fd = new FormData();
        fd.append("meta", JSON.stringify(meta));
        fd.append("message", new Blob([message], { type: "application/octet-stream" }), "message.age");
        for (const x of encrypted) appendAttachment(fd, x);
        return upload("/api/v1/followups", fd, progress);
      };
      await sendWithPow(send, powTask, config, progress);
      unconfirmed = null;
      followForm.reset();
      picker.clear();
      progress.hide();
      setText(followDone, "followup.done");
      // Refresh the count (and any new reply); a failure here changes nothing
      // sent. Not when another code was looked up meanwhile.
      try {
        if (current === keys) await load(keys, generation);
      } catch {
        /* the follow-up is stored; the old view stays */
      }
    } catch (err) {
      showError(err, followActions);
    } finally {
      key.fill(0);
      followSubmit.disabled = false;
      followForm.removeAttribute("aria-busy");
    }
  });

  function forget() {
    generation += 1;
    if (current) current.key.fill(0);
    current = null;
    unconfirmed = null;
    result.hidden = true;
    $("status-value").replaceChildren();
    delete $("status-value").dataset.status;
    $("status-current-conf").replaceChildren();
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
