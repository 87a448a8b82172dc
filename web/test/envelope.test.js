import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Decrypter, generateX25519Identity, generateHybridIdentity, identityToRecipient } from "age-encryption";
import { encryptBytes, encryptFile, ageSize, encryptedFileSize, maxFileSize, isPqDeployment, isPqRecipient } from "../src/lib/envelope.js";
import { padme } from "../src/lib/padme.js";

async function keys(n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(await generateX25519Identity());
  return { ids, recipients: await Promise.all(ids.map((id) => identityToRecipient(id))) };
}

async function decrypt(identity, bytes) {
  const d = new Decrypter();
  d.addIdentity(identity);
  return d.decrypt(bytes);
}

test("every recipient can decrypt, and the file is a standard age v1 file with one X25519 stanza each", async () => {
  const { ids, recipients } = await keys(3);
  const file = await encryptBytes(recipients, new TextEncoder().encode("rahasia"));
  const header = new TextDecoder().decode(file.subarray(0, 400));
  assert.ok(header.startsWith("age-encryption.org/v1\n"));
  assert.equal(header.match(/^-> X25519 /gm).length, 3);
  for (const id of ids) assert.equal(new TextDecoder().decode(await decrypt(id, file)), "rahasia");
});

test("the predicted age size is exact around chunk boundaries", async () => {
  for (const n of [1, 2, 3]) {
    const { recipients } = await keys(n);
    for (const len of [0, 1, 100, 65535, 65536, 65537, 131072, 200_000]) {
      const file = await encryptBytes(recipients, new Uint8Array(len));
      assert.equal(file.length, ageSize(len, n), `len ${len}, ${n} recipients`);
    }
  }
});

test("attachments stream: zero-padded to PADMÉ, hashed over the real bytes only", async () => {
  const { ids, recipients } = await keys(2);
  for (const size of [0, 1, 5000, 65536 * 3 + 17]) {
    const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
    let seen = 0;
    const r = await encryptFile(recipients, new Blob([data]), (n) => (seen = n));
    assert.equal(r.size, size);
    assert.equal(seen, size);
    assert.equal(r.sha256, createHash("sha256").update(data).digest("hex"));
    const file = new Uint8Array(await r.blob.arrayBuffer());
    assert.equal(file.length, encryptedFileSize(size, 2));
    for (const id of ids) {
      const plain = await decrypt(id, file);
      assert.equal(plain.length, padme(size));
      assert.deepEqual(plain.subarray(0, size), data);
      assert.ok(plain.subarray(size).every((b) => b === 0));
    }
  }
});

test("the largest allowed file is the largest whose encrypted form fits", () => {
  for (const max of [1000, 65536, 10 * 1024 * 1024, 50_000_000]) {
    for (const n of [1, 3]) {
      const m = maxFileSize(max, n);
      assert.ok(encryptedFileSize(m, n) <= max);
      assert.ok(encryptedFileSize(m + 1, n) > max);
    }
  }
  assert.equal(maxFileSize(10, 1), -1);
});

async function pqKeys(n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(await generateHybridIdentity());
  return { ids, recipients: await Promise.all(ids.map((id) => identityToRecipient(id))) };
}

test("post-quantum recipients: one mlkem768x25519 stanza each, every recipient can decrypt", async () => {
  const { ids, recipients } = await pqKeys(2);
  assert.ok(recipients.every((r) => r.startsWith("age1pq1")));
  const file = await encryptBytes(recipients, new TextEncoder().encode("rahasia"));
  const header = new TextDecoder().decode(file.subarray(0, 4000));
  assert.equal(header.match(/^-> /gm).length, 2);
  assert.equal(header.match(/^-> mlkem768x25519 [A-Za-z0-9+/]{1494}$/gm).length, 2);
  for (const id of ids) assert.equal(new TextDecoder().decode(await decrypt(id, file)), "rahasia");
});

test("the predicted age size is exact for post-quantum recipients (and for a list of X25519 ones)", async () => {
  const pq = (await pqKeys(2)).recipients;
  const classic = (await keys(2)).recipients;
  for (const recipients of [pq.slice(0, 1), pq, classic, [pq[0], classic[0]]]) {
    for (const len of [0, 1, 65536, 65537, 200_000]) {
      const file = await encryptBytes(recipients, new Uint8Array(len));
      assert.equal(file.length, ageSize(len, recipients), `len ${len}, ${recipients.map((r) => r.slice(0, 7))}`);
    }
  }
  // A number still means that many X25519 recipients.
  assert.equal(ageSize(1000, classic), ageSize(1000, 2));
  // An mlkem768x25519 stanza takes 1,557 bytes of the header, an X25519 one 98.
  assert.equal(encryptedFileSize(1000, pq) - encryptedFileSize(1000, classic), 2 * (1557 - 98));
  const m = maxFileSize(10 * 1024 * 1024, pq);
  assert.ok(encryptedFileSize(m, pq) <= 10 * 1024 * 1024 && encryptedFileSize(m + 1, pq) > 10 * 1024 * 1024);
});

test("a deployment is post-quantum when every recipient it lists is age1pq1", async () => {
  const pq = (await pqKeys(2)).recipients;
  const classic = (await keys(1)).recipients;
  assert.equal(isPqDeployment(pq), true);
  assert.equal(isPqDeployment(classic), false);
  assert.equal(isPqDeployment([...pq, ...classic]), false);
  assert.equal(isPqDeployment([]), false);
  assert.equal(isPqDeployment(undefined), false);
  assert.equal(isPqRecipient(pq[0]), true);
  assert.equal(isPqRecipient(classic[0]), false);
});
