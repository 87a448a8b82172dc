// Outside a secure context (plain HTTP on a LAN address) browsers hide
// crypto.subtle. Encryption must still work through age's pure JS X25519.
import { test } from "node:test";
import assert from "node:assert/strict";

test("without crypto.subtle, recipients and encryption still work", async () => {
  Object.defineProperty(globalThis.crypto, "subtle", { configurable: true, value: undefined });
  assert.equal(globalThis.crypto.subtle, undefined);
  const { ensureX25519Fallback, recipientOf, encryptBytes, decryptText } = await import("../src/lib/envelope.js");
  const { replyIdentity, replyIdentityPq, generateReceipt } = await import("../src/lib/receipt.js");
  ensureX25519Fallback();
  const identity = replyIdentity(generateReceipt());
  const recipient = await recipientOf(identity);
  assert.match(recipient, /^age1/);
  const file = await encryptBytes([recipient], new TextEncoder().encode("halo"));
  assert.equal(await decryptText(identity, file), "halo");
  // Post-quantum (mlkem768x25519) recipients and reply identities too.
  const pqIdentity = replyIdentityPq(generateReceipt({ long: true }));
  const pqRecipient = await recipientOf(pqIdentity);
  assert.match(pqRecipient, /^age1pq1/);
  const pqFile = await encryptBytes([pqRecipient], new TextEncoder().encode("halo"));
  assert.equal(await decryptText(pqIdentity, pqFile), "halo");
});
