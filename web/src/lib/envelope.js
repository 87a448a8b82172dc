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

/** The reply recipient `age1…` for a reply identity. */
export function recipientOf(identity) {
  return identityToRecipient(identity);
}

/**
 * Size of the age file for a plaintext of `len` bytes and `n` X25519
 * recipients: header ("age-encryption.org/v1\n", one stanza of 2 lines per
 * recipient, "--- " MAC line), 16-byte nonce, 64 KiB chunks with 16-byte tags.
 */
export function ageSize(len, n) {
  const header = 22 + n * (10 + 43 + 1 + 43 + 1) + 4 + 43 + 1;
  const chunks = Math.max(1, Math.ceil(len / CHUNK));
  return header + 16 + len + 16 * chunks;
}

/** Size of the encrypted attachment for a file of `size` bytes. */
export function encryptedFileSize(size, n) {
  return ageSize(padme(size), n);
}

/** The largest file size whose encrypted, padded form fits in `maxObject`. */
export function maxFileSize(maxObject, n) {
  let lo = 0;
  let hi = maxObject;
  if (encryptedFileSize(0, n) > maxObject) return -1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (encryptedFileSize(mid, n) <= maxObject) lo = mid;
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
