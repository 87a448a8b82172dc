import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, hkdfSync } from "node:crypto";
import {
  ALPHABET,
  generateReceipt,
  parseReceipt,
  formatReceipt,
  checkSymbols,
  lookupKey,
  replyIdentity,
  ReceiptError,
} from "../src/lib/receipt.js";
import { recipientOf, encryptBytes, decryptText } from "../src/lib/envelope.js";

const errorOf = (input) => {
  try {
    parseReceipt(input);
  } catch (e) {
    assert.ok(e instanceof ReceiptError);
    return { kind: e.kind, found: e.found, position: e.position };
  }
  return null;
};

test("generated codes are 20 symbols that parse back", () => {
  for (let i = 0; i < 200; i++) {
    const code = generateReceipt();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
    const grouped = formatReceipt(code);
    assert.match(grouped, /^[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    assert.equal(parseReceipt(grouped), code);
  }
});

test("symbols come from the low five bits of each random byte", () => {
  const bytes = Uint8Array.from({ length: 18 }, (_, i) => i * 37 + 224);
  const code = generateReceipt((b) => (b.set(bytes), b));
  const data = Array.from(bytes, (x) => ALPHABET[x & 31]).join("");
  assert.equal(code.slice(0, 18), data);
  const d = createHash("sha256").update(data).digest();
  const bits = (d[0] << 2) | (d[1] >> 6);
  assert.equal(code.slice(18), ALPHABET[(bits >> 5) & 31] + ALPHABET[bits & 31]);
  assert.equal(checkSymbols(data), code.slice(18));
});

test("parsing forgives case, spaces, dashes and look-alike letters", () => {
  const code = generateReceipt();
  const messy = [...code].map((c) => (c === "0" ? "o" : c === "1" ? "l" : c.toLowerCase())).join("");
  assert.equal(parseReceipt(` ${messy.slice(0, 7)} - ${messy.slice(7)}\t\n`), code);
  const withI = code.replace(/1/g, "I");
  assert.equal(parseReceipt(withI), code);
});

test("errors: length, symbol with its position, checksum — as in the Rust code", () => {
  assert.deepEqual(errorOf("ABCDE-FGHJK"), { kind: "length", found: 10, position: undefined });
  assert.deepEqual(errorOf(""), { kind: "length", found: 0, position: undefined });
  assert.deepEqual(errorOf("ABCDE-FGHJK-MNPQR-STVWU"), { kind: "symbol", found: undefined, position: 20 });
  assert.deepEqual(errorOf("ABCDÉ"), { kind: "symbol", found: undefined, position: 5 });
  // An invalid symbol is reported even past the 20th position.
  assert.deepEqual(errorOf("0".repeat(21) + "U"), { kind: "symbol", found: undefined, position: 22 });
  assert.deepEqual(errorOf("0".repeat(21)), { kind: "length", found: 21, position: undefined });
  // Characters outside ASCII never count as symbols, not even full-width digits.
  assert.equal(errorOf("０").kind, "symbol");
  // Unicode white space (as Rust's char::is_whitespace) is skipped; U+FEFF is not white space there.
  const code = generateReceipt();
  assert.equal(parseReceipt(`\u00a0${code}\u3000\u0085`), code);
  assert.equal(errorOf(`\ufeff${code}`).kind, "symbol");
});

test("nearly every single-symbol typo is caught by the check symbols", () => {
  let caught = 0;
  let total = 0;
  for (let round = 0; round < 5; round++) {
    const code = generateReceipt();
    for (let pos = 0; pos < 20; pos++) {
      for (const sym of ALPHABET) {
        if (code[pos] === sym) continue;
        total++;
        const typo = code.slice(0, pos) + sym + code.slice(pos + 1);
        if (errorOf(typo)) caught++;
      }
    }
  }
  assert.ok(caught * 100 >= total * 99, `caught ${caught} of ${total}`);
});

test("error messages never repeat the code", () => {
  const code = generateReceipt();
  try {
    parseReceipt(code + "X");
    assert.fail("should not parse");
  } catch (e) {
    assert.ok(!e.message.includes(code.slice(0, 10)));
  }
});

test("the lookup key is 32 bytes of HKDF-SHA256, base64url without padding", () => {
  const code = generateReceipt();
  const wire = lookupKey(code);
  assert.match(wire, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(wire, "base64url").length, 32);
  // An independent HKDF: node:crypto's.
  const expected = hkdfSync("sha256", Buffer.from(code, "ascii"), Buffer.from("wbs-receipt-v1"), Buffer.from("lookup"), 32);
  assert.equal(wire, Buffer.from(expected).toString("base64url"));
  assert.notEqual(lookupKey(generateReceipt()), wire);
});

test("the reply identity is Bech32 AGE-SECRET-KEY-1 of HKDF(reply-x25519), and decrypts replies", async () => {
  const code = generateReceipt();
  const identity = replyIdentity(code);
  assert.match(identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
  const recipient = await recipientOf(identity);
  assert.match(recipient, /^age1[0-9a-z]{58}$/);
  const reply = JSON.stringify({ format: "wbs-reply/1", body: "Terima kasih." }) + "   ";
  const file = await encryptBytes([recipient], new TextEncoder().encode(reply));
  assert.equal(await decryptText(identity, file), reply);
  // The same code always gives the same keys.
  assert.equal(replyIdentity(parseReceipt(formatReceipt(code).toLowerCase())), identity);
});
