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
  replyIdentityPq,
  replyIdentityOf,
  isLongReceipt,
  threadKey,
  ReceiptError,
} from "../src/lib/receipt.js";
import { recipientOf, encryptBytes, decryptText } from "../src/lib/envelope.js";
import { bech32 } from "@scure/base";

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
  const code = generateReceipt({ fill: (b) => (b.set(bytes), b) });
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

test("long codes (post-quantum deployments) are 28 symbols in seven groups of four that parse back", () => {
  for (let i = 0; i < 200; i++) {
    const code = generateReceipt({ long: true });
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{28}$/);
    assert.ok(isLongReceipt(code));
    const grouped = formatReceipt(code);
    assert.match(grouped, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
    assert.equal(parseReceipt(grouped), code);
    // Grouped any other way, or not at all, it is the same code.
    assert.equal(parseReceipt(code.match(/.{1,5}/g).join(" ").toLowerCase()), code);
  }
  assert.equal(isLongReceipt(generateReceipt()), false);
  assert.equal(generateReceipt({ long: false }).length, 20);
});

test("long codes: 26 data symbols from the low five bits of 26 random bytes, check symbols by the same rule", () => {
  let asked = 0;
  const bytes = Uint8Array.from({ length: 26 }, (_, i) => i * 53 + 200);
  const code = generateReceipt({ long: true, fill: (b) => ((asked = b.length), b.set(bytes), b) });
  assert.equal(asked, 26);
  const data = Array.from(bytes, (x) => ALPHABET[x & 31]).join("");
  assert.equal(code.slice(0, 26), data);
  const d = createHash("sha256").update(data).digest();
  const bits = (d[0] << 2) | (d[1] >> 6);
  assert.equal(code.slice(26), ALPHABET[(bits >> 5) & 31] + ALPHABET[bits & 31]);
});

test("long codes: length errors name both lengths, other lengths fail, typos are caught", () => {
  for (const n of [0, 19, 21, 24, 27, 29, 40]) {
    assert.deepEqual(errorOf("0".repeat(n)), { kind: "length", found: n, position: undefined }, `${n} symbols`);
  }
  try {
    parseReceipt("0".repeat(24));
    assert.fail("should not parse");
  } catch (e) {
    assert.deepEqual(e.expected, [20, 28]);
    assert.match(e.message, /20 or 28/);
  }
  // An invalid symbol is reported even past the 28th position, before the length.
  assert.deepEqual(errorOf("0".repeat(29) + "U"), { kind: "symbol", found: undefined, position: 30 });
  // A long code whose last symbol is changed, and one cut to 20 symbols, do not parse.
  const code = generateReceipt({ long: true });
  const last = code[27] === "0" ? "1" : "0";
  assert.equal(errorOf(code.slice(0, 27) + last).kind, "checksum");
  // The first 20 symbols of a long code carry no valid check symbols for a short one (bar a 1 in 1,024 chance).
  let caught = 0;
  for (let i = 0; i < 50; i++) if (errorOf(generateReceipt({ long: true }).slice(0, 20))) caught++;
  assert.ok(caught >= 45, `caught ${caught} of 50`);
  let typos = 0;
  let total = 0;
  for (let pos = 0; pos < 28; pos++) {
    for (const sym of ALPHABET) {
      if (code[pos] === sym) continue;
      total++;
      if (errorOf(code.slice(0, pos) + sym + code.slice(pos + 1))) typos++;
    }
  }
  assert.ok(typos * 100 >= total * 99, `caught ${typos} of ${total}`);
});

test("every derivation takes the canonical code, whatever its length, as IKM", () => {
  const code = generateReceipt({ long: true });
  const ikm = Buffer.from(code, "ascii");
  const salt = Buffer.from("wbs-receipt-v1");
  const hk = (info) => Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from(info), 32));
  assert.equal(lookupKey(code), hk("lookup").toString("base64url"));
  assert.deepEqual(Buffer.from(threadKey(code)), hk("thread-hmac"));
  assert.equal(replyIdentity(code), bech32.encodeFromBytes("AGE-SECRET-KEY-", hk("reply-x25519")).toUpperCase());
  assert.equal(replyIdentityPq(code), bech32.encodeFromBytes("AGE-SECRET-KEY-PQ-", hk("reply-mlkem768x25519")).toUpperCase());
});

test("the post-quantum reply identity is AGE-SECRET-KEY-PQ-1 of HKDF(reply-mlkem768x25519), its recipient age1pq1, and it decrypts replies", async () => {
  for (const long of [true, false]) {
    const code = generateReceipt({ long });
    const identity = replyIdentityPq(code);
    assert.match(identity, /^AGE-SECRET-KEY-PQ-1[0-9A-Z]{58}$/);
    const decoded = bech32.decodeToBytes(identity);
    assert.equal(decoded.prefix, "age-secret-key-pq-");
    assert.equal(decoded.bytes.length, 32);
    const recipient = await recipientOf(identity);
    // Bech32 of the 1,216-byte X-Wing public key: 1,946 data characters, no length limit.
    assert.match(recipient, /^age1pq1[0-9a-z]+$/);
    assert.equal(bech32.fromWords(bech32.decode(recipient, false).words).length, 1216);
    const reply = JSON.stringify({ format: "wbs-reply/1", body: "Terima kasih." }) + "   ";
    const file = await encryptBytes([recipient], new TextEncoder().encode(reply));
    assert.match(new TextDecoder().decode(file.subarray(0, 60)), /^age-encryption\.org\/v1\n-> mlkem768x25519 /);
    assert.equal(await decryptText(identity, file), reply);
    // The classic identity of the same code cannot open it.
    await assert.rejects(decryptText(replyIdentity(code), file));
    assert.notEqual(identity, replyIdentityPq(generateReceipt({ long })));
  }
});

test("a code goes with the reply identity of its length: 28 symbols post-quantum, 20 X25519", () => {
  const long = generateReceipt({ long: true });
  const short = generateReceipt();
  assert.equal(replyIdentityOf(long), replyIdentityPq(long));
  assert.equal(replyIdentityOf(short), replyIdentity(short));
  assert.equal(replyIdentityOf(parseReceipt(formatReceipt(long).toLowerCase())), replyIdentityPq(long));
});
