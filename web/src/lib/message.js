// The JSON documents that get encrypted (docs/PROTOCOL.md §4): report,
// follow-up, reply. No timestamp, time zone or device detail ever goes in.

import { padme } from "./padme.js";

export const REPORT_FORMAT = "wbs-report/1";
export const FOLLOWUP_FORMAT = "wbs-followup/1";
export const REPLY_FORMAT = "wbs-reply/1";
export const DETAIL_FIELDS = ["what", "who", "when", "where", "how"];
/** Largest padded document the readers accept (wbs-protocol MAX_DOCUMENT_LEN). */
export const MAX_DOCUMENT_LEN = 4 * 1024 * 1024;

/**
 * @typedef {{name: string, type: string, size: number, sha256: string}} AttachmentMeta
 */

/**
 * The report document. Empty 5W1H subfields are left out, and `details` is
 * left out when all are empty; `contact` is null unless given. `threadKey`
 * is the case's thread key in its wire form (base64url, docs/PROTOCOL.md
 * §4.4): the only way it reaches the inspectorate.
 */
export function buildReport({ category, title, body, details = {}, attachments = [], replyRecipient, contact, threadKey }) {
  const report = {
    format: REPORT_FORMAT,
    category,
    title: title.trim(),
    body,
  };
  const d = {};
  for (const k of DETAIL_FIELDS) {
    const v = (details[k] ?? "").trim();
    if (v) d[k] = v;
  }
  if (Object.keys(d).length > 0) report.details = d;
  report.attachments = attachments.map(attachmentMeta);
  report.reply_recipient = replyRecipient;
  const c = (contact ?? "").trim();
  report.contact = c ? c : null;
  if (threadKey) report.thread_key = threadKey;
  return report;
}

/**
 * The follow-up document; `id` and `auth` (docs/PROTOCOL.md §4.4) are left
 * out when not given. See thread.js for the authenticated form.
 */
export function buildFollowup({ id, body, attachments = [], auth }) {
  const doc = { format: FOLLOWUP_FORMAT };
  if (id !== undefined) doc.id = id;
  doc.body = body;
  doc.attachments = attachments.map(attachmentMeta);
  if (auth !== undefined) doc.auth = auth;
  return doc;
}

function attachmentMeta(a) {
  const m = { name: a.name, type: a.type || "application/octet-stream", size: a.size, sha256: a.sha256 };
  // What the device did with the file's metadata (§4.1); not covered by
  // the follow-up authenticator.
  if (a.metadata) m.metadata = a.metadata;
  return m;
}

/** UTF-8 JSON padded with ASCII spaces to its PADMÉ length. */
export function encodePadded(doc) {
  const json = new TextEncoder().encode(JSON.stringify(doc));
  const out = new Uint8Array(padme(json.length));
  out.set(json);
  out.fill(0x20, json.length);
  return out;
}
