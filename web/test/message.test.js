import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReport, buildFollowup, encodePadded } from "../src/lib/message.js";
import { padme } from "../src/lib/padme.js";

const base = { category: "korupsi", title: "  Judul  ", body: "Isi laporan\nbaris dua", replyRecipient: "age1xyz" };

test("a report without details leaves details out and sets contact to null", () => {
  const r = buildReport(base);
  assert.deepEqual(Object.keys(r), ["format", "category", "title", "body", "attachments", "reply_recipient", "contact"]);
  assert.equal(r.format, "wbs-report/1");
  assert.equal(r.title, "Judul");
  assert.equal(r.body, base.body);
  assert.deepEqual(r.attachments, []);
  assert.equal(r.contact, null);
  const blank = buildReport({ ...base, details: { what: " ", who: "", when: "\n" }, contact: "  " });
  assert.ok(!("details" in blank));
  assert.equal(blank.contact, null);
});

test("5W1H keeps only the filled subfields, attachments keep their shape and order", () => {
  const r = buildReport({
    ...base,
    details: { what: "pungli", who: "", where: " kantor X " },
    attachments: [
      { name: "b.pdf", type: "application/pdf", size: 10, sha256: "ab".repeat(32), extra: 1 },
      { name: "a.bin", type: "", size: 0, sha256: "cd".repeat(32) },
    ],
    contact: "Signal: 0812",
  });
  assert.deepEqual(r.details, { what: "pungli", where: "kantor X" });
  assert.deepEqual(r.attachments, [
    { name: "b.pdf", type: "application/pdf", size: 10, sha256: "ab".repeat(32) },
    { name: "a.bin", type: "application/octet-stream", size: 0, sha256: "cd".repeat(32) },
  ]);
  assert.equal(r.contact, "Signal: 0812");
});

test("nothing about time or the device goes into a report", () => {
  const json = JSON.stringify(buildReport({ ...base, details: { when: "Maret" } }));
  assert.ok(!/date|time|zone|agent|device|lang/i.test(json.replace(/"when":"Maret"/, "")));
});

test("documents are padded with spaces to their PADMÉ length and still parse", () => {
  for (const body of ["", "x", "é".repeat(1000), "a".repeat(70_000)]) {
    const doc = buildFollowup({ body });
    const bytes = encodePadded(doc);
    const json = new TextEncoder().encode(JSON.stringify(doc));
    assert.equal(bytes.length, padme(json.length));
    assert.deepEqual(bytes.subarray(0, json.length), json);
    assert.ok(bytes.subarray(json.length).every((b) => b === 0x20));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(bytes)), doc);
  }
});

test("the report carries the thread key last, when given", () => {
  const r = buildReport({ ...base, threadKey: "k".repeat(43) });
  assert.deepEqual(Object.keys(r), ["format", "category", "title", "body", "attachments", "reply_recipient", "contact", "thread_key"]);
  assert.equal(r.thread_key, "k".repeat(43));
});

test("a follow-up keeps Rust's field order: format, id, body, attachments, auth", () => {
  assert.deepEqual(Object.keys(buildFollowup({ body: "x" })), ["format", "body", "attachments"]);
  assert.deepEqual(Object.keys(buildFollowup({ id: "i", body: "x", auth: "a" })), ["format", "id", "body", "attachments", "auth"]);
});
