import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DEMO_RECIPIENT, usesDemoKey } from "../src/lib/demo.js";

test("the demo recipient is the one in keys/demo-inspectorate.pub", () => {
  const text = readFileSync(new URL("../../keys/demo-inspectorate.pub", import.meta.url), "utf8");
  const keys = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(keys, [DEMO_RECIPIENT]);
});

test("a configuration is flagged only when it lists the demo key", () => {
  assert.equal(usesDemoKey({ recipients: [DEMO_RECIPIENT] }), true);
  assert.equal(usesDemoKey({ recipients: ["age1other", DEMO_RECIPIENT] }), true);
  assert.equal(usesDemoKey({ recipients: ["age1other"] }), false);
  assert.equal(usesDemoKey({}), false);
  assert.equal(usesDemoKey(null), false);
});
