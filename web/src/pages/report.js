// The report page: write, encrypt on the device, solve the proof of work,
// upload, then show the receipt code once.

import { t, setText, pick, onLangChange } from "../lib/i18n.js";
import { generateReceipt, formatReceipt, lookupKey, replyIdentityOf, threadKey } from "../lib/receipt.js";
import { threadKeyWire } from "../lib/thread.js";
import { buildReport, encodePadded, DETAIL_FIELDS, MAX_DOCUMENT_LEN } from "../lib/message.js";
import { encryptBytes, recipientOf, isPqDeployment } from "../lib/envelope.js";
import { ApiError } from "../lib/api.js";
import { uploadLarge, appendAttachment } from "../lib/upload.js";
import {
  UserError,
  showError,
  showErrors,
  clearError,
  createProgress,
  createFilePicker,
  obtainPow,
  encryptAttachments,
  checkRequestSize,
  sendWithPow,
  upload,
} from "../lib/ui.js";

export function initReport(config) {
  const $ = (id) => document.getElementById(id);
  const form = $("report-form");
  const category = $("report-category");
  const title = $("report-title");
  const body = $("report-body");
  const contact = $("report-contact");
  const submit = form.querySelector("[data-testid=report-submit]");
  const actions = submit.parentElement;
  const progress = createProgress($("report-progress"));
  const picker = createFilePicker({
    input: $("report-attachments"),
    list: $("report-files"),
    limitsEl: $("report-attachments-limits"),
    limits: config.limits,
    recipients: config.recipients,
    near: actions,
  });
  const cache = new WeakMap();

  // The keys everything is encrypted to, for a reporter who wants to
  // compare them with what the inspectorate publishes elsewhere.
  $("report-keys-list").replaceChildren(
    ...(config.recipients || []).map((r) => {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = r;
      li.append(code);
      return li;
    }),
  );

  function fillCategories() {
    const chosen = category.value;
    for (const opt of Array.from(category.options).slice(1)) opt.remove();
    for (const c of config.categories || []) {
      const opt = document.createElement("option");
      opt.value = c.id;
      opt.textContent = pick(c.label) || c.id;
      category.append(opt);
    }
    category.value = chosen;
  }
  fillCategories();
  onLangChange(() => {
    fillCategories();
    picker.relabel();
  });

  // One receipt code per report until the server confirms it: if an answer
  // is lost on the way back, the retry meets 409 and so learns that the
  // first attempt was stored under this very code.
  let code = null;
  let maybeStored = false;

  function validate() {
    const missing = [];
    for (const el of [category, title, body]) el.removeAttribute("aria-invalid");
    if (!category.value) missing.push([category, "error.required_category"]);
    if (!title.value.trim()) missing.push([title, "error.required_title"]);
    if (!body.value.trim()) missing.push([body, "error.required_body"]);
    for (const [el] of missing) el.setAttribute("aria-invalid", "true");
    if (missing.length) {
      showErrors(missing.map(([, key]) => [key]), actions);
      missing[0][0].focus();
      return false;
    }
    return true;
  }

  async function attempt() {
    // A post-quantum deployment (the server lists age1pq1… recipients) gets
    // a 28-symbol code and the post-quantum reply recipient (age1pq1…) that
    // goes with it; a classic one a 20-symbol code and an X25519 one.
    if (!code) code = generateReceipt({ long: isPqDeployment(config.recipients) });
    const lookup = lookupKey(code);
    const identity = replyIdentityOf(code);
    const replyRecipient = await recipientOf(identity);
    // The thread key goes to the inspectorate inside the encrypted report
    // only: it is how the reporter's pages tell the inspectorate's replies
    // from messages anyone else (the server included) could encrypt.
    const key = threadKey(code);
    const wireKey = threadKeyWire(key);
    key.fill(0);

    const withPow = Boolean(config.pow && config.pow.difficulty > 0);
    progress.reset(withPow);
    // The worker solves while this thread encrypts.
    const powTask = obtainPow(config, progress);
    powTask.catch(() => {});

    const prepared = await picker.prepare();
    const encrypted = await encryptAttachments(
      prepared.map((p) => p.file),
      config.recipients,
      progress,
      cache,
    );
    const details = {};
    for (const k of DETAIL_FIELDS) details[k] = $(`report-${k}`).value;
    const doc = buildReport({
      category: category.value,
      title: title.value,
      body: body.value,
      details,
      attachments: encrypted.map((e, i) => ({ name: e.file.name, type: e.file.type, size: e.size, sha256: e.sha256, metadata: prepared[i].metadata })),
      replyRecipient,
      contact: contact.value,
      threadKey: wireKey,
    });
    // Which client sent it (docs/PROTOCOL.md §4.1): seen only by the
    // inspectorate, inside the encryption, for its figures per channel.
    doc.channel = "web";
    const plain = encodePadded(doc);
    if (plain.length > MAX_DOCUMENT_LEN) throw new UserError("error.too_long");
    const report = await encryptBytes(config.recipients, plain);
    plain.fill(0);
    progress.set("encrypt", 1);
    checkRequestSize(config.limits, [{ size: report.length }, ...encrypted.map((e) => ({ size: e.blob.size }))]);

    // Large attachments first, each in parts that survive a lost connection
    // (PROTOCOL.md §7.4); the submission then names them.
    await uploadLarge(encrypted, config, progress);
    const send = async (pow) => {
      const meta = { lookup, reply_recipient: replyRecipient };
      if (pow) meta.pow = pow.pow;
      const fd = new FormData();
      fd.append("meta", JSON.stringify(meta));
      fd.append("report", new Blob([report], { type: "application/octet-stream" }), "report.age");
      for (const e of encrypted) appendAttachment(fd, e);
      return upload("/api/v1/submissions", fd, progress);
    };

    return sendWithPow(send, powTask, config, progress);
  }

  function showReceipt(grouped, receivedOn, earlier) {
    form.hidden = true;
    const section = $("receipt");
    if (receivedOn) setText($("receipt-date"), "receipt.received_on", { date: { date: receivedOn } });
    else setText($("receipt-date"), "receipt.received");
    $("receipt-earlier").hidden = !earlier;
    // Each group (with its dash) stays whole when a narrow screen wraps the
    // code; the element's text is still exactly the display form
    // (XXXXX-XXXXX-XXXXX-XXXXX, or seven groups of four for a long code).
    const codeEl = $("receipt-code");
    codeEl.replaceChildren(
      ...grouped.match(/[^-]+-?/g).map((g) => {
        const span = document.createElement("span");
        span.textContent = g;
        return span;
      }),
    );
    $("receipt-action").replaceChildren();
    section.hidden = false;
    section.focus();
  }

  function clearForm() {
    form.reset();
    picker.clear();
    progress.hide();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    clearError();
    if (!validate()) return;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      let answer;
      let earlier = false;
      try {
        answer = await attempt();
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        // A fresh 90-bit code cannot collide by chance: the lookup exists
        // because one of our own transmissions of this very report was
        // stored (an answer lost on the way back, or the browser resending
        // the request on its own). That stored report is the receipt's.
        earlier = maybeStored;
        answer = {};
      }
      const grouped = formatReceipt(code);
      code = null;
      maybeStored = false;
      clearForm();
      showReceipt(grouped, answer && answer.received_on, earlier);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 0 || (err.status >= 500 && err.status !== 507))) maybeStored = true;
      showError(err, actions);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  $("receipt-copy").addEventListener("click", async () => {
    const text = $("receipt-code").textContent;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      // Older browsers and insecure contexts: copy the selection instead.
      const range = document.createRange();
      range.selectNodeContents($("receipt-code"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
    }
    setText($("receipt-action"), ok ? "receipt.copied" : "receipt.copy_failed");
  });

  $("receipt-save").addEventListener("click", () => {
    // The code alone, and no site address: the file does not tell whoever
    // finds it on this device where the code is used.
    const text = `${$("receipt-code").textContent}\n`;
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = t("receipt.file_name");
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    setText($("receipt-action"), "receipt.saved");
  });

  if (!config.recipients || config.recipients.length === 0) {
    submit.disabled = true;
    showError(new UserError("error.no_recipients"), actions);
  }
}
