// Receipt codes and the keys derived from them (docs/PROTOCOL.md §2; mirrors
// crates/wbs-protocol/src/receipt.rs exactly, including error precedence).
//
// The code is generated here, on the reporter's device, and never leaves it:
// the server only ever sees the lookup key and the reply recipient.
//
// Two lengths: 20 symbols (18 random, 90 bits) in a classic deployment, 28
// (26 random, 130 bits) in a post-quantum one, where a quantum search halves
// the bits an attacker holding the server's lookup hashes must find. Both
// end in two check symbols; parsing accepts either; every derivation takes
// the canonical code, whatever its length. A 28-symbol code goes with the
// post-quantum reply identity (reply-mlkem768x25519), a 20-symbol one with
// the X25519 one, as the client that made it chose (replyIdentityOf).

import { sha256 } from "@noble/hashes/sha2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { base64urlnopad, bech32 } from "@scure/base";

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LEN = 20;
export const DATA_LEN = 18;
/** The long code of post-quantum deployments: 26 data symbols + 2 check symbols. */
export const LONG_CODE_LEN = 28;
export const LONG_DATA_LEN = 26;
const CHECK_LEN = 2;

const ascii = (s) => new TextEncoder().encode(s);
const HKDF_SALT = ascii("wbs-receipt-v1");
const INFO_LOOKUP = ascii("lookup");
const INFO_REPLY = ascii("reply-x25519");
const INFO_REPLY_PQ = ascii("reply-mlkem768x25519");
const INFO_THREAD = ascii("thread-hmac");

/** Why a string is not a receipt code. The message never repeats the code. */
export class ReceiptError extends Error {
  /**
   * @param {"length"|"symbol"|"checksum"} kind
   * @param {{found?: number, position?: number}} [info]
   */
  constructor(kind, info = {}) {
    super(
      kind === "length"
        ? `receipt code: length (a code has ${CODE_LEN} or ${LONG_CODE_LEN} symbols, this one has ${info.found})`
        : `receipt code: ${kind}`,
    );
    this.name = "ReceiptError";
    this.kind = kind;
    this.found = info.found;
    this.position = info.position;
    if (kind === "length") this.expected = [CODE_LEN, LONG_CODE_LEN];
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

/** The two check symbols for the data symbols (18 or 26): the first 10 bits of SHA-256. */
export function checkSymbols(data) {
  const d = sha256(ascii(data));
  const bits = (d[0] << 2) | (d[1] >> 6);
  return ALPHABET[(bits >> 5) & 31] + ALPHABET[bits & 31];
}

/**
 * A fresh canonical code, no dashes: 28 symbols when `long` (a post-quantum
 * deployment), else 20.
 * @param {{long?: boolean, fill?: (buf: Uint8Array) => Uint8Array}} [options] `fill`: random source, for tests
 */
export function generateReceipt({ long = false, fill = (b) => crypto.getRandomValues(b) } = {}) {
  const random = fill(new Uint8Array(long ? LONG_DATA_LEN : DATA_LEN));
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
    if (n <= LONG_CODE_LEN) canonical += ALPHABET[v];
  }
  if (n !== CODE_LEN && n !== LONG_CODE_LEN) throw new ReceiptError("length", { found: n });
  const data = n - CHECK_LEN;
  if (checkSymbols(canonical.slice(0, data)) !== canonical.slice(data)) {
    throw new ReceiptError("checksum");
  }
  return canonical;
}

/** Whether a canonical code is a long one (28 symbols: a post-quantum deployment's). */
export function isLongReceipt(canonical) {
  return canonical.length === LONG_CODE_LEN;
}

/**
 * The display form: `XXXXX-XXXXX-XXXXX-XXXXX` for 20 symbols,
 * `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX` for 28.
 */
export function formatReceipt(canonical) {
  return canonical.match(isLongReceipt(canonical) ? /.{1,4}/g : /.{1,5}/g).join("-");
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
 * The post-quantum reply identity, `AGE-SECRET-KEY-PQ-1…`: Bech32 (HRP
 * `age-secret-key-pq-`, upper case) of the 32-byte X-Wing seed HKDF(info
 * `reply-mlkem768x25519`). Its recipient is `age1pq1…` (typage's
 * identityToRecipient).
 */
export function replyIdentityPq(canonical) {
  const seed = derive(canonical, INFO_REPLY_PQ);
  const identity = bech32.encodeFromBytes("AGE-SECRET-KEY-PQ-", seed).toUpperCase();
  seed.fill(0);
  return identity;
}

/**
 * The reply identity a code goes with: clients make 28-symbol codes in
 * post-quantum deployments, where the reply recipient they send is the
 * post-quantum one, and 20-symbol codes in classic deployments, with the
 * X25519 one. So the code alone says which (and a 20-symbol code from
 * before a deployment moved to post-quantum keeps its X25519 replies).
 */
export function replyIdentityOf(canonical) {
  return isLongReceipt(canonical) ? replyIdentityPq(canonical) : replyIdentity(canonical);
}

/**
 * The case's thread key (32 bytes): shared with the inspectorate inside the
 * encrypted report, never sent to the server on its own; it authenticates
 * follow-ups and replies (docs/PROTOCOL.md §4.4). The caller zeroes it.
 */
export function threadKey(canonical) {
  return derive(canonical, INFO_THREAD);
}
