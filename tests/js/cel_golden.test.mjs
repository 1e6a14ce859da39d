// The vendored CEL evaluator agrees with the Python engine on the golden table.
// The table (tests/js/cel_golden.json) is written by tests/unit/test_cel_parity.py from
// the engine's own results; that test also compares every shipped schema condition live.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { judge } from "./parity.mjs";

const { cases } = JSON.parse(readFileSync(new URL("./cel_golden.json", import.meta.url), "utf8"));

test("the golden table covers true, false and unknown results", () => {
  assert.deepEqual(new Set(cases.map((c) => c.expected)), new Set([true, false, null]));
});

test("every golden case is judged as the engine judged it", () => {
  const results = judge(cases);
  const wrong = cases
    .map((c, i) => ({ id: c.id, values: c.values, expected: c.expected, got: results[i].holds }))
    .filter((r) => r.got !== r.expected);
  assert.deepEqual(wrong, []);
});
