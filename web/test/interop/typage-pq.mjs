// A thin command line over typage (web/node_modules/age-encryption), for
// the Rust interoperability test crates/wbs-protocol/tests/typage.rs. It is
// not part of the browser bundle and not a test on its own.
//
//   node typage-pq.mjs keygen                         → identity line, recipient line
//   node typage-pq.mjs recipient IDENTITY_FILE        → the identity's recipient
//   node typage-pq.mjs encrypt RECIPIENT IN OUT       → age file to RECIPIENT
//   node typage-pq.mjs decrypt IDENTITY_FILE IN OUT   → plaintext
//
// Identities travel in files, never on the command line.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const age = await import(join(here, "../../node_modules/age-encryption/dist/index.js"));

const [command, ...args] = process.argv.slice(2);
const readIdentity = (path) => readFileSync(path, "utf8").trim();

switch (command) {
  case "keygen": {
    const identity = await age.generateHybridIdentity();
    const recipient = await age.identityToRecipient(identity);
    process.stdout.write(`${identity}\n${recipient}\n`);
    break;
  }
  case "recipient": {
    process.stdout.write(`${await age.identityToRecipient(readIdentity(args[0]))}\n`);
    break;
  }
  case "encrypt": {
    const e = new age.Encrypter();
    e.addRecipient(args[0]);
    writeFileSync(args[2], await e.encrypt(readFileSync(args[1])));
    break;
  }
  case "decrypt": {
    const d = new age.Decrypter();
    d.addIdentity(readIdentity(args[0]));
    writeFileSync(args[2], await d.decrypt(readFileSync(args[1])));
    break;
  }
  default:
    process.stderr.write(`unknown command ${command}\n`);
    process.exit(2);
}
