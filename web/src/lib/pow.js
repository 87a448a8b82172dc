// Proof of work (docs/PROTOCOL.md §6; crates/wbs-protocol/src/pow.rs): find a
// u64 nonce such that SHA-256(challenge ‖ ":" ‖ decimal(nonce)) starts with at
// least `difficulty` zero bits.
//
// A small SHA-256 of our own, because the hot loop hashes millions of short
// messages: the blocks that hold only the fixed prefix are compressed once
// (the "midstate") and each try compresses only the last one or two blocks,
// with no allocation.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const W = new Uint32Array(64);

/** Compresses the 64-byte block at `off` of `buf` into `state` (8 words). */
function compress(state, buf, off) {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (buf[j] << 24) | (buf[j + 1] << 16) | (buf[j + 2] << 8) | buf[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

/** Leading zero bits of a digest given as eight 32-bit words. */
function leadingZeroWords(state) {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const z = Math.clz32(state[i]);
    n += z;
    if (z < 32) break;
  }
  return n;
}

/** Leading zero bits of a byte string. */
export function leadingZeroBits(bytes) {
  let n = 0;
  for (const b of bytes) {
    if (b === 0) {
      n += 8;
    } else {
      n += Math.clz32(b) - 24;
      break;
    }
  }
  return n;
}

/**
 * Hashes `prefix ‖ decimal(nonce)` for many nonces with a fixed prefix.
 * @param {string} challenge
 */
export function powHasher(challenge) {
  const prefix = new TextEncoder().encode(challenge + ":");
  const full = prefix.length - (prefix.length % 64);
  const mid = new Int32Array(IV);
  for (let off = 0; off < full; off += 64) compress(mid, prefix, off);
  const tailLen = prefix.length - full;
  // The tail, at most 20 digits, 0x80, and the 8-byte length fit in 2 blocks.
  const buf = new Uint8Array(128);
  buf.set(prefix.subarray(full), 0);
  const state = new Int32Array(8);

  /** The digest's words (a view reused across calls) for a decimal nonce. */
  function hashWords(digits) {
    let p = tailLen;
    for (let i = 0; i < digits.length; i++) buf[p++] = digits.charCodeAt(i);
    buf[p++] = 0x80;
    const blocks = p + 8 <= 64 ? 1 : 2;
    const end = blocks * 64;
    buf.fill(0, p, end - 8);
    const bits = (prefix.length + digits.length) * 8;
    const hi = Math.floor(bits / 0x100000000);
    buf[end - 8] = hi >>> 24; buf[end - 7] = hi >>> 16; buf[end - 6] = hi >>> 8; buf[end - 5] = hi;
    buf[end - 4] = bits >>> 24; buf[end - 3] = bits >>> 16; buf[end - 2] = bits >>> 8; buf[end - 1] = bits;
    state.set(mid);
    compress(state, buf, 0);
    if (blocks === 2) compress(state, buf, 64);
    return state;
  }

  return {
    /** Leading zero bits of SHA-256(challenge:nonce). */
    zeroBits(nonce) {
      return leadingZeroWords(hashWords(String(nonce)));
    },
    /** The full digest as bytes (for tests). */
    digest(message) {
      const w = hashWords(message);
      const out = new Uint8Array(32);
      for (let i = 0; i < 8; i++) {
        out[i * 4] = w[i] >>> 24; out[i * 4 + 1] = w[i] >>> 16;
        out[i * 4 + 2] = w[i] >>> 8; out[i * 4 + 3] = w[i];
      }
      return out;
    },
  };
}

/**
 * Whether `nonce` (number, bigint or decimal string) solves `challenge`.
 */
export function powCheck(challenge, nonce, difficulty) {
  return powHasher(challenge).zeroBits(BigInt(nonce).toString()) >= difficulty;
}

/**
 * Searches nonces start, start+step, start+2·step, … for at most `tries`
 * candidates. Returns the solving nonce or null, and how many were tried.
 * Nonces stay far below 2^53, so plain numbers are exact.
 */
export function powSearch(hasher, difficulty, start, step, tries) {
  let nonce = start;
  for (let i = 0; i < tries; i++) {
    if (hasher.zeroBits(nonce) >= difficulty) return { nonce, tried: i + 1 };
    nonce += step;
  }
  return { nonce: null, tried: tries };
}

/** The smallest solving nonce (expected 2^difficulty tries); for tests and the CLI-less fallback. */
export function powSolve(challenge, difficulty) {
  const hasher = powHasher(challenge);
  for (let nonce = 0; ; nonce++) {
    if (hasher.zeroBits(nonce) >= difficulty) return nonce;
  }
}
