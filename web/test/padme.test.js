import { test } from "node:test";
import assert from "node:assert/strict";
import { padme } from "../src/lib/padme.js";

test("small lengths are unchanged", () => {
  for (let l = 0; l <= 8; l++) assert.equal(padme(l), l);
});

test("known values (same as the Rust tests)", () => {
  assert.equal(padme(9), 10);
  assert.equal(padme(100), 104);
  assert.equal(padme(1000), 1024);
  assert.equal(padme(1025), 1088);
  assert.equal(padme(1_000_000), 1_015_808);
});

test("never smaller, overhead at most 12% from 256 bytes on, past 2^31 and 2^53", () => {
  for (let len = 2n; len < 1n << 62n; len *= 2n) {
    for (const l of [len, len + 1n, (len * 3n) / 2n, len * 2n - 1n]) {
      const p = padme(l);
      assert.ok(p >= l);
      if (l >= 256n) assert.ok((p - l) * 100n <= l * 12n, `${l} -> ${p}`);
      if (l < 1n << 53n) assert.equal(padme(Number(l)), Number(p));
    }
  }
});

test("idempotent and monotonic", () => {
  let prev = 0;
  for (let l = 0; l < 20_000; l++) {
    const p = padme(l);
    assert.equal(padme(p), p);
    assert.ok(p >= prev);
    prev = p;
  }
});

test("saturates at u64::MAX like the Rust checked_add", () => {
  const max = (1n << 64n) - 1n;
  const p = padme(max);
  assert.ok(p <= max);
  assert.equal(typeof p, "bigint");
});
