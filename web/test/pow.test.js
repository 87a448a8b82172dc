import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { powHasher, powCheck, powSolve, powSearch, leadingZeroBits } from "../src/lib/pow.js";

const sha = (s) => createHash("sha256").update(s).digest();

test("the midstate SHA-256 matches node:crypto for every prefix length and nonce width", () => {
  for (let len = 0; len < 200; len++) {
    const challenge = "c".repeat(len).replace(/c/g, (_, i) => String.fromCharCode(33 + ((i * 7 + len) % 90)));
    const h = powHasher(challenge);
    for (const nonce of ["0", "7", "12345", "9007199254740991", "18446744073709551615"]) {
      assert.deepEqual(Buffer.from(h.digest(nonce)), sha(`${challenge}:${nonce}`), `len ${len} nonce ${nonce}`);
    }
  }
});

test("non-ASCII challenges are hashed as UTF-8", () => {
  const challenge = "tantangan-é-✓";
  assert.deepEqual(Buffer.from(powHasher(challenge).digest("42")), sha(`${challenge}:42`));
});

test("leading zero bits (same cases as the Rust tests)", () => {
  assert.equal(leadingZeroBits([0, 0, 0x10]), 19);
  assert.equal(leadingZeroBits([0x80]), 0);
  assert.equal(leadingZeroBits([0, 1]), 15);
});

test("solutions check, difficulty 0 accepts anything", () => {
  const challenge = "test-challenge";
  const nonce = powSolve(challenge, 12);
  assert.ok(powCheck(challenge, nonce, 12));
  assert.ok(leadingZeroBits(sha(`${challenge}:${nonce}`)) >= 12);
  // The smallest: nothing below it solves.
  for (let n = 0; n < nonce; n++) assert.ok(!powCheck(challenge, n, 12));
  assert.ok(powCheck(challenge, 12345, 0));
  assert.ok(powCheck(challenge, 12345n, 0));
});

test("interleaved searches (as the workers run them) find valid nonces", () => {
  const h = powHasher("abc");
  const a = powSearch(h, 10, 1, 3, 1 << 16);
  assert.notEqual(a.nonce, null);
  assert.equal(a.nonce % 3, 1);
  assert.ok(powCheck("abc", a.nonce, 10));
});
