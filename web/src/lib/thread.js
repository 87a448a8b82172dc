// Authenticated case threads (docs/PROTOCOL.md §4.4; mirrors
// crates/wbs-protocol/src/thread.rs exactly).
//
// The thread key is derived from the receipt code and travels to the
// inspectorate only inside the encrypted report, so the server never holds
// it. Every follow-up and reply carries, inside its own encryption, an
// HMAC-SHA256 under that key over its direction, the case (the reporter's
// reply recipient), its random id and its content. Encryption alone proves
// nothing here: the inspectorate's and the reporter's keys are public, so
// the server (or whoever controls it) can encrypt a "reply" of its own.
//
// The reporter's page shows the text of a reply only when its
// authenticator verifies; every other reply is withheld.

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64urlnopad } from "@scure/base";
import { REPLY_FORMAT, buildFollowup } from "./message.js";

export const THREAD_LABEL = "wbs-thread/1";
export const DIRECTION_FOLLOWUP = "followup";
export const DIRECTION_REPLY = "reply";
export const MESSAGE_ID_BYTES = 16;

const utf8 = (s) => new TextEncoder().encode(s);

/** The authenticator's input: each field as 4-byte big-endian length, then its UTF-8 bytes. */
function fields(list) {
  const parts = list.map((f) => utf8(String(f)));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length, false);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

function tag(key, input) {
  return base64urlnopad.encode(hmac(sha256, key, input));
}

/** A fresh random message id: 16 bytes, base64url without padding. */
export function newMessageId(fill = (b) => crypto.getRandomValues(b)) {
  return base64urlnopad.encode(fill(new Uint8Array(MESSAGE_ID_BYTES)));
}

/** The thread key as carried in the report: base64url without padding (43 characters). */
export function threadKeyWire(key) {
  return base64urlnopad.encode(key);
}

/**
 * The authenticator of a follow-up in the case whose reply recipient is
 * `kase`: over its id, body and attachments (name, type, size, sha256).
 */
export function followupAuth(key, kase, f) {
  const list = [THREAD_LABEL, DIRECTION_FOLLOWUP, kase, f.id ?? "", f.body, String(f.attachments.length)];
  for (const a of f.attachments) list.push(a.name, a.type, String(a.size), a.sha256);
  return tag(key, fields(list));
}

/**
 * A follow-up document with its id and authenticator, as the attachments
 * appear in the document (the authenticator covers exactly what is sent).
 */
export function authenticatedFollowup(key, kase, { id, body, attachments = [] }) {
  const doc = buildFollowup({ id, body, attachments });
  doc.auth = followupAuth(key, kase, doc);
  return doc;
}

/** The authenticator of a reply: over its id, body and the status it sets ("" if none). */
export function replyAuth(key, kase, r) {
  return tag(key, fields([THREAD_LABEL, DIRECTION_REPLY, kase, r.id ?? "", r.body, r.status ?? ""]));
}

/** Compares two strings without stopping at the first difference. */
function sameString(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks a parsed reply document. True only when it is a well-formed
 * wbs-reply/1 whose `auth` is the authenticator of its own fields.
 */
export function verifyReply(key, kase, doc) {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return false;
  if (doc.format !== REPLY_FORMAT || typeof doc.body !== "string") return false;
  const optionalString = (v) => v === undefined || v === null || typeof v === "string";
  if (!optionalString(doc.id) || !optionalString(doc.status)) return false;
  if (typeof doc.auth !== "string") return false;
  // serde reads a JSON null as an absent optional field: so does this.
  const r = { id: doc.id ?? "", body: doc.body, status: doc.status ?? "" };
  return sameString(doc.auth, replyAuth(key, kase, r));
}

/**
 * What the status page may show of the replies the server gave.
 *
 * `items` are the server's replies in its order, each `{on, text}` with
 * `text` the decrypted document (padding included), or null when it could
 * not be decrypted. Returns:
 *  - `shown`: the verified replies, each id once (a replayed copy is
 *    dropped), as `{on, id, body, status}`;
 *  - `withheld`: how many replies were not shown because they could not be
 *    verified as the inspectorate's (undecryptable, unparsable, no or a
 *    wrong authenticator). Their text is never returned;
 *  - `confirmed`: the statuses a verified reply sets.
 */
export function sortReplies(key, kase, items) {
  const shown = [];
  const seen = new Set();
  const confirmed = new Set();
  let withheld = 0;
  for (const item of items) {
    let doc = null;
    try {
      doc = item.text === null || item.text === undefined ? null : JSON.parse(item.text);
    } catch {
      doc = null;
    }
    if (!verifyReply(key, kase, doc)) {
      withheld += 1;
      continue;
    }
    const status = doc.status ?? "";
    if (status) confirmed.add(status);
    // An id-less reply (still verified) is told apart by its authenticator.
    const dedup = doc.id ? `id:${doc.id}` : `auth:${doc.auth}`;
    if (seen.has(dedup)) continue;
    seen.add(dedup);
    if (!doc.body.trim() && !status) continue; // says nothing
    shown.push({ on: item.on, id: doc.id ?? "", body: doc.body, status });
  }
  return { shown, withheld, confirmed };
}
