// Receipt codes and the keys derived from them (docs/PROTOCOL.md §2; mirrors
// crates/wbs-protocol/src/receipt.rs exactly, including error precedence).
//
// The code is generated here, on the reporter's device, and never leaves it:
// the server only ever sees the lookup key and the reply recipient.

import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { base64urlnopad, bech32 } from "@scure/base";

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LEN = 20;
export const DATA_LEN = 18;

const ascii = (s) => new TextEncoder().encode(s);
const HKDF_SALT = ascii("wbs-receipt-v1");
const INFO_LOOKUP = ascii("lookup");
const INFO_REPLY = ascii("reply-x25519");
const INFO_THREAD = ascii("thread-hmac");

/** Why a string is not a receipt code. The message never repeats the code. */
export class ReceiptError extends Error {
  /**
   * @param {"length"|"symbol"|"checksum"} kind
   * @param {{found?: number, position?: number}} [info]
   */
  constructor(kind, info = {}) {
    super(`receipt code: ${kind}`);
    this.name = "ReceiptError";
    this.kind = kind;
    this.found = info.found;
    this.position = info.position;
  }
}

// Rust's char::is_whitespace (Unicode White_Space). JavaScript's \s differs
// (it has U+FEFF and lacks U+0085), so the set is spelled out.
function isWhitespace(c) {
  const cp = c.codePointAt(0);
  return (
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x20 ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

function symbolValue(c) {
  const cp = c.codePointAt(0);
  if (cp > 0x7f) return -1; // to_ascii_uppercase leaves these alone: never a symbol
  let u = c.toUpperCase();
  if (u === "O") u = "0";
  else if (u === "I" || u === "L") u = "1";
  return ALPHABET.indexOf(u);
}

/** The two check symbols for 18 data symbols: the first 10 bits of SHA-256. */
export function checkSymbols(data) {
  const d = sha256(ascii(data));
  const bits = (d[0] << 2) | (d[1] >> 6);
  return ALPHABET[(bits >> 5) & 31] + ALPHABET[bits & 31];
}

/**
 * A fresh canonical code (20 symbols, no dashes).
 * @param {(buf: Uint8Array) => Uint8Array} [fill] random source, for tests
 */
export function generateReceipt(fill = (b) => crypto.getRandomValues(b)) {
  const random = fill(new Uint8Array(DATA_LEN));
  let data = "";
  // 32 divides 256, so the low five bits of a uniform byte are uniform.
  for (const byte of random) data += ALPHABET[byte & 0x1f];
  random.fill(0);
  return data + checkSymbols(data);
}

/**
 * Parses a code the forgiving way: case-insensitive, whitespace and dashes
 * ignored, O read as 0, I and L as 1. Returns the canonical form.
 * @throws {ReceiptError}
 */
export function parseReceipt(input) {
  let canonical = "";
  let n = 0;
  for (const c of String(input)) {
    if (c === "-" || isWhitespace(c)) continue;
    n += 1;
    const v = symbolValue(c);
    if (v < 0) throw new ReceiptError("symbol", { position: n });
    if (n <= CODE_LEN) canonical += ALPHABET[v];
  }
  if (n !== CODE_LEN) throw new ReceiptError("length", { found: n });
  if (checkSymbols(canonical.slice(0, DATA_LEN)) !== canonical.slice(DATA_LEN)) {
    throw new ReceiptError("checksum");
  }
  return canonical;
}

/** `XXXXX-XXXXX-XXXXX-XXXXX` from the canonical form. */
export function formatReceipt(canonical) {
  return canonical.match(/.{1,5}/g).join("-");
}

function derive(canonical, info) {
  return hkdf(sha256, ascii(canonical), HKDF_SALT, info, 32);
}

/** The lookup key, base64url without padding: what the server sees. */
export function lookupKey(canonical) {
  const key = derive(canonical, INFO_LOOKUP);
  const wire = base64urlnopad.encode(key);
  key.fill(0);
  return wire;
}

/** The reply identity, `AGE-SECRET-KEY-1…` (Bech32, not Bech32m, upper case). */
export function replyIdentity(canonical) {
  const secret = derive(canonical, INFO_REPLY);
  const identity = bech32.encodeFromBytes("AGE-SECRET-KEY-", secret).toUpperCase();
  secret.fill(0);
  return identity;
}

/**
 * The case's thread key (32 bytes): shared with the inspectorate inside the
 * encrypted report, never sent to the server on its own; it authenticates
 * follow-ups and replies (docs/PROTOCOL.md §4.4). The caller zeroes it.
 */
export function threadKey(canonical) {
  return derive(canonical, INFO_THREAD);
}
