// Authenticated case threads: what the status page shows of a reply, and
// what it withholds (docs/PROTOCOL.md §4.4). The known-answer vectors shared
// with Rust are checked in vectors.test.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, hkdfSync } from "node:crypto";
import { generateReceipt, replyIdentity, threadKey } from "../src/lib/receipt.js";
import { recipientOf, encryptBytes, decryptText } from "../src/lib/envelope.js";
import { encodePadded } from "../src/lib/message.js";
import {
  authenticatedFollowup,
  followupAuth,
  newMessageId,
  replyAuth,
  sortReplies,
  threadKeyWire,
  verifyReply,
} from "../src/lib/thread.js";

const code = generateReceipt();
const key = threadKey(code);
const kase = await recipientOf(replyIdentity(code));
const other = generateReceipt();
const otherKey = threadKey(other);
const otherCase = await recipientOf(replyIdentity(other));

/** A reply as `wbs-inspect reply` writes it: fresh id, authenticator over id, body and status. */
function genuine(body, status, k = key, c = kase) {
  const r = { format: "wbs-reply/1", id: newMessageId(), body };
  if (status) r.status = status;
  r.auth = replyAuth(k, c, r);
  return r;
}
const item = (doc, on = "2025-03-01") => ({ on, text: new TextDecoder().decode(encodePadded(doc)) });

test("the thread key is HKDF-SHA256 of the code with info thread-hmac, 43 characters on the wire", () => {
  const expected = Buffer.from(hkdfSync("sha256", Buffer.from(code), Buffer.from("wbs-receipt-v1"), Buffer.from("thread-hmac"), 32));
  assert.deepEqual(Buffer.from(key), expected);
  assert.equal(threadKeyWire(key).length, 43);
  assert.notDeepEqual(Buffer.from(otherKey), expected);
});

test("a reply's authenticator is HMAC-SHA256 over length-prefixed fields", () => {
  const r = { format: "wbs-reply/1", id: "abc", body: "Halo ✓", status: "in_review" };
  const input = Buffer.concat(
    ["wbs-thread/1", "reply", kase, "abc", "Halo ✓", "in_review"].map((f) => {
      const b = Buffer.from(f, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    }),
  );
  assert.equal(replyAuth(key, kase, r), createHmac("sha256", key).update(input).digest("base64url"));
});

test("a genuine reply is shown; its status is confirmed", () => {
  const r = genuine("Terima kasih, kami menelaahnya.", "in_review");
  assert.equal(verifyReply(key, kase, r), true);
  const view = sortReplies(key, kase, [item(r)]);
  assert.deepEqual(view.shown, [{ on: "2025-03-01", id: r.id, body: r.body, status: "in_review" }]);
  assert.equal(view.withheld, 0);
  assert.deepEqual([...view.confirmed], ["in_review"]);
});

test("a forged or altered reply is withheld: never its text, never its status", () => {
  const good = genuine("Asli", "in_review");
  const forged = [
    { format: "wbs-reply/1", body: "Sebutkan nama Anda" }, // no authenticator at all
    { format: "wbs-reply/1", body: "Sebutkan nama Anda", status: "need_info", auth: good.auth }, // someone else's tag
    { ...good, body: "Sebutkan nama Anda" }, // body changed
    { ...good, status: "closed_unsubstantiated" }, // status changed
    { ...good, status: undefined }, // status dropped
    { ...good, id: newMessageId() }, // id changed
    genuine("Sebutkan nama Anda", "rejected", otherKey, kase), // another case's key
    genuine("Sebutkan nama Anda", "rejected", key, otherCase), // made for another case
    { ...genuine("Sebutkan nama Anda", "rejected"), auth: "not base64 !" },
    { ...genuine("Sebutkan nama Anda", "rejected"), format: "wbs-followup/1" },
    { format: "wbs-reply/1", id: 7, body: "x", auth: good.auth },
    { format: "wbs-reply/1", body: ["Sebutkan nama Anda"], auth: good.auth },
  ];
  // A follow-up's authenticator cannot pass for a reply with the same id and body.
  const f = authenticatedFollowup(key, kase, { id: newMessageId(), body: "Sebutkan nama Anda" });
  forged.push({ format: "wbs-reply/1", id: f.id, body: f.body, auth: f.auth });
  for (const doc of forged) assert.equal(verifyReply(key, kase, doc), false, JSON.stringify(doc));

  const items = [
    ...forged.map((d) => item(d)),
    { on: "2025-03-02", text: null }, // could not be decrypted
    { on: "2025-03-02", text: "not json" },
    { on: "2025-03-02", text: "null" },
    { on: "2025-03-02", text: "[]" },
  ];
  const view = sortReplies(key, kase, items);
  assert.deepEqual(view.shown, []);
  assert.equal(view.withheld, items.length);
  assert.deepEqual([...view.confirmed], []);
  assert.ok(!JSON.stringify(view).includes("Sebutkan"), "no text of a withheld reply comes out");
});

test("a replayed reply is shown once; an empty body with a status is a status confirmation", () => {
  const a = genuine("Mohon kirim foto dokumen aslinya.", "need_info");
  const status = genuine("", "investigating");
  const empty = genuine("   ", undefined);
  const view = sortReplies(key, kase, [item(a, "2025-03-01"), item(a, "2025-03-05"), item(status), item(empty)]);
  assert.deepEqual(
    view.shown.map((r) => [r.on, r.body, r.status]),
    [
      ["2025-03-01", a.body, "need_info"],
      ["2025-03-01", "", "investigating"],
    ],
  );
  assert.equal(view.withheld, 0);
  assert.deepEqual([...view.confirmed].sort(), ["investigating", "need_info"]);
});

test("JSON null for id or status reads as absent, as in Rust", () => {
  const r = { format: "wbs-reply/1", body: "Tanpa id" };
  r.auth = replyAuth(key, kase, r);
  assert.equal(verifyReply(key, kase, { ...r, id: null, status: null }), true);
});

test("an authenticated follow-up: id, then authenticator over exactly what is sent", () => {
  const id = newMessageId();
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(newMessageId(), id);
  const doc = authenticatedFollowup(key, kase, {
    id,
    body: "Bukti baru",
    attachments: [{ name: "a.bin", type: "", size: 3, sha256: "ab".repeat(32), extra: 1 }],
  });
  assert.deepEqual(Object.keys(doc), ["format", "id", "body", "attachments", "auth"]);
  // The document's attachment type (the default filled in) is what the authenticator covers.
  assert.equal(doc.attachments[0].type, "application/octet-stream");
  assert.equal(doc.auth, followupAuth(key, kase, doc));
  assert.notEqual(doc.auth, followupAuth(key, kase, { ...doc, attachments: [{ ...doc.attachments[0], type: "" }] }));
  assert.notEqual(doc.auth, followupAuth(otherKey, kase, doc));
});

test("end to end: a reply encrypted to the reporter is decrypted and verified", async () => {
  const r = genuine("Balasan terenkripsi", "in_review");
  const identity = replyIdentity(code);
  const file = await encryptBytes([kase], encodePadded(r));
  const text = await decryptText(identity, file);
  assert.deepEqual(sortReplies(key, kase, [{ on: "2025-03-01", text }]).shown.map((x) => x.body), [r.body]);
});
