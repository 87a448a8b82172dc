// Known-answer vectors shared with the Rust implementation
// (crates/wbs-protocol/tests/testdata/vectors.json). Any disagreement fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import {
  parseReceipt,
  formatReceipt,
  lookupKey,
  replyIdentity,
  replyIdentityPq,
  replyIdentityOf,
  threadKey,
  ReceiptError,
} from "../src/lib/receipt.js";
import { threadKeyWire, followupAuth, replyAuth, verifyReply, sortReplies } from "../src/lib/thread.js";
import { recipientOf } from "../src/lib/envelope.js";
import { padme } from "../src/lib/padme.js";
import { powCheck } from "../src/lib/pow.js";

const FILE =
  process.env.WBS_VECTORS ||
  join(dirname(fileURLToPath(import.meta.url)), "..", "..", "crates", "wbs-protocol", "tests", "testdata", "vectors.json");

function load() {
  // Lengths and nonces may exceed 2^53: read them as exact integers.
  const raw = readFileSync(FILE, "utf8").replace(/("(?:len|padded|nonce)"\s*:\s*)(\d+)/g, '$1"$2"');
  return JSON.parse(raw);
}

test("the shared vectors file exists", () => {
  assert.ok(existsSync(FILE), `missing ${FILE}`);
});

const v = existsSync(FILE) ? load() : {};

function section(name) {
  assert.ok(Array.isArray(v[name]) && v[name].length > 0, `vectors.json has no "${name}" vectors`);
  return v[name];
}

test("receipt: canonical form, lookup key, reply identity and recipient", async () => {
  for (const r of section("receipt")) {
    const canonical = parseReceipt(r.code);
    assert.equal(canonical, r.canonical, r.code);
    assert.equal(formatReceipt(canonical), r.code.includes("-") ? r.code.toUpperCase() : formatReceipt(r.canonical));
    assert.equal(lookupKey(canonical), r.lookup, `lookup of ${r.code}`);
    const identity = replyIdentity(canonical);
    assert.equal(identity, r.reply_identity, `reply identity of ${r.code}`);
    assert.equal(await recipientOf(identity), r.reply_recipient, `reply recipient of ${r.code}`);
  }
});

test("receipt_long: 28-symbol codes, lookup key and hash, thread key, PQ reply identity and recipient", async () => {
  for (const r of section("receipt_long")) {
    const canonical = parseReceipt(r.code);
    assert.equal(canonical, r.canonical, r.code);
    assert.equal(canonical.length, 28);
    assert.match(r.code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){6}$/);
    assert.equal(formatReceipt(canonical), r.code);
    const lookup = lookupKey(canonical);
    assert.equal(lookup, r.lookup, `lookup of ${r.code}`);
    assert.equal(createHash("sha256").update(Buffer.from(lookup, "base64url")).digest("hex"), r.lookup_hash, `lookup hash of ${r.code}`);
    assert.equal(threadKeyWire(threadKey(canonical)), r.thread_key, `thread key of ${r.code}`);
    const identity = replyIdentityPq(canonical);
    assert.equal(identity, r.reply_pq_identity, `PQ reply identity of ${r.code}`);
    assert.equal(await recipientOf(identity), r.reply_pq_recipient, `PQ reply recipient of ${r.code}`);
    // The reply identity a 28-symbol code goes with is the post-quantum one.
    assert.equal(replyIdentityOf(canonical), r.reply_pq_identity);
  }
});

test("reply_pq: the PQ reply identity and recipient of 20- and 28-symbol codes", async () => {
  const lengths = new Set();
  for (const r of section("reply_pq")) {
    const canonical = parseReceipt(r.code ?? r.canonical);
    lengths.add(canonical.length);
    const identity = replyIdentityPq(canonical);
    assert.equal(identity, r.identity, `PQ reply identity of ${canonical}`);
    assert.match(identity, /^AGE-SECRET-KEY-PQ-1/);
    const recipient = await recipientOf(identity);
    assert.equal(recipient, r.recipient, `PQ reply recipient of ${canonical}`);
    assert.match(recipient, /^age1pq1/);
  }
  assert.deepEqual([...lengths].sort(), [20, 28], "vectors for both lengths");
});

test("parse: forgiving inputs and the three kinds of error", () => {
  for (const p of section("parse")) {
    if ("canonical" in p && p.canonical !== null && p.canonical !== undefined) {
      assert.equal(parseReceipt(p.input), p.canonical, JSON.stringify(p.input));
    } else {
      assert.throws(
        () => parseReceipt(p.input),
        (e) => e instanceof ReceiptError && e.kind === p.error,
        `${JSON.stringify(p.input)} should fail with ${p.error}`,
      );
    }
  }
});

test("padme: padded lengths", () => {
  for (const p of section("padme")) {
    assert.equal(padme(BigInt(p.len)), BigInt(p.padded), `padme(${p.len})`);
  }
});

test("pow: valid and invalid solutions", () => {
  for (const p of section("pow")) {
    assert.equal(powCheck(p.challenge, BigInt(p.nonce), Number(p.difficulty)), p.valid, JSON.stringify(p));
  }
});

test("thread: key, follow-up and reply authenticators; altered replies fail", async () => {
  for (const c of section("thread")) {
    const canonical = parseReceipt(c.canonical);
    const key = threadKey(canonical);
    assert.equal(threadKeyWire(key), c.thread_key, `thread key of ${c.canonical}`);
    assert.equal(await recipientOf(replyIdentity(canonical)), c.case, `case of ${c.canonical}`);
    assert.equal(followupAuth(key, c.case, c.followup), c.followup.auth, "follow-up authenticator");
    assert.ok(c.replies.length > 0 && c.fail_replies.length > 0);
    for (const r of c.replies) {
      assert.equal(replyAuth(key, c.case, r), r.auth, `reply ${r.id}`);
      assert.equal(verifyReply(key, c.case, r), true, `reply ${r.id} verifies`);
    }
    for (const r of c.fail_replies) assert.equal(verifyReply(key, c.case, r), false, `altered reply ${r.id} must fail`);
    // Through the status page's sorting: only the genuine replies are shown.
    const items = [...c.replies, ...c.fail_replies].map((r) => ({ on: "2025-01-01", text: JSON.stringify(r) }));
    const view = sortReplies(key, c.case, items);
    assert.deepEqual(
      view.shown.map((r) => r.body),
      c.replies.map((r) => r.body),
    );
    assert.equal(view.withheld, c.fail_replies.length);
  }
});
