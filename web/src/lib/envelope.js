// age encryption on the device (docs/PROTOCOL.md §3–4), with padding.
// Attachments are streamed: read, hashed, zero-padded and encrypted chunk by
// chunk, so a file of tens of MB never sits in memory as plaintext at once.

import { Encrypter, Decrypter, identityToRecipient } from "age-encryption";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { padme } from "./padme.js";

const CHUNK = 64 * 1024;

// age-encryption uses WebCrypto X25519 and falls back to its pure JS code only
// on ReferenceError/NotSupportedError. Outside a secure context (plain HTTP on
// a LAN address) crypto.subtle is absent and reading it gives a TypeError, so
// make the absence look like the ReferenceError the fallback expects.
export function ensureX25519Fallback() {
  const c = globalThis.crypto;
  if (c && !c.subtle) {
    try {
      Object.defineProperty(c, "subtle", {
        configurable: true,
        get() {
          throw new ReferenceError("WebCrypto is unavailable here");
        },
      });
    } catch {
      /* nothing more to do: encryption will report its own error */
    }
  }
}

function encrypter(recipients) {
  if (!Array.isArray(recipients) || recipients.length === 0) throw new Error("no recipients configured");
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e;
}

/** Encrypts bytes to every recipient, in order. */
export async function encryptBytes(recipients, bytes) {
  return encrypter(recipients).encrypt(bytes);
}

/**
 * The reply recipient for a reply identity: `age1…` for `AGE-SECRET-KEY-1…`,
 * `age1pq1…` for `AGE-SECRET-KEY-PQ-1…`.
 */
export function recipientOf(identity) {
  return identityToRecipient(identity);
}

/** A hybrid post-quantum recipient (`mlkem768x25519`, X-Wing), `age1pq1…`. */
export function isPqRecipient(r) {
  return typeof r === "string" && r.startsWith("age1pq1");
}

/**
 * Whether the deployment is post-quantum: the server lists `age1pq1…`
 * recipients (a deployment is all-classic or all-PQ; the server refuses a
 * mixed set at start).
 */
export function isPqDeployment(recipients) {
  return Array.isArray(recipients) && recipients.length > 0 && recipients.every(isPqRecipient);
}

// One stanza in the header: "-> X25519 " + 43 base64 characters of the share
// and a newline, the 32-byte body as 43 characters and a newline; for
// mlkem768x25519, "-> mlkem768x25519 " + the 1,120-byte encapsulated key
// as 1,494 characters and a newline, then the same body line.
const STANZA_X25519 = 10 + 43 + 1 + 43 + 1;
const STANZA_MLKEM768X25519 = 18 + 1494 + 1 + 43 + 1;

/**
 * Size of the age file for a plaintext of `len` bytes: header
 * ("age-encryption.org/v1\n", one stanza per recipient, "--- " MAC line),
 * 16-byte nonce, 64 KiB chunks with 16-byte tags. `recipients` is the list
 * of recipient strings, or a number of X25519 recipients.
 */
export function ageSize(len, recipients) {
  const stanzas =
    typeof recipients === "number"
      ? recipients * STANZA_X25519
      : recipients.reduce((s, r) => s + (isPqRecipient(r) ? STANZA_MLKEM768X25519 : STANZA_X25519), 0);
  const header = 22 + stanzas + 4 + 43 + 1;
  const chunks = Math.max(1, Math.ceil(len / CHUNK));
  return header + 16 + len + 16 * chunks;
}

/** Size of the encrypted attachment for a file of `size` bytes (`recipients` as for ageSize). */
export function encryptedFileSize(size, recipients) {
  return ageSize(padme(size), recipients);
}

/** The largest file size whose encrypted, padded form fits in `maxObject`. */
export function maxFileSize(maxObject, recipients) {
  let lo = 0;
  let hi = maxObject;
  if (encryptedFileSize(0, recipients) > maxObject) return -1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (encryptedFileSize(mid, recipients) <= maxObject) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Encrypts a Blob/File: its bytes zero-padded to PADMÉ, to every recipient.
 * @param {string[]} recipients
 * @param {Blob} file
 * @param {(done: number) => void} [onProgress] plaintext bytes read so far
 * @returns {Promise<{blob: Blob, size: number, sha256: string}>}
 */
export async function encryptFile(recipients, file, onProgress = () => {}) {
  const size = file.size;
  const padded = padme(size);
  const hash = sha256.create();
  let read = 0;
  const tap = new TransformStream({
    transform(chunk, controller) {
      read += chunk.length;
      if (read > size) throw new Error("the file changed while it was read");
      hash.update(chunk);
      onProgress(read);
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (read !== size) throw new Error("the file changed while it was read");
      for (let left = padded - size; left > 0; left -= CHUNK) {
        controller.enqueue(new Uint8Array(Math.min(CHUNK, left)));
      }
    },
  });
  const encrypted = await encrypter(recipients).encrypt(file.stream().pipeThrough(tap));
  const parts = [];
  const reader = encrypted.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const blob = new Blob(parts, { type: "application/octet-stream" });
  return { blob, size, sha256: bytesToHex(hash.digest()) };
}

/** Decrypts an age file with one identity, as UTF-8 text. */
export async function decryptText(identity, bytes) {
  const d = new Decrypter();
  d.addIdentity(identity);
  return d.decrypt(bytes, "text");
}
