// Judges CEL cases with Loom's browser evaluator and prints the results as JSON.
//
//   node tests/js/parity.mjs CASES.json      (or the JSON on standard input)
//
// CASES.json: {"cases": [{"id": "deal.loss_reason.visible_if#0", "expression": "stage == 'lost'",
//   "fields": {"stage": {"cel_type": "string"}}, "values": {"stage": "lost"}}, ...]}
// prints {"results": [{"id": ..., "holds": true | false | null}, ...]}.
// tests/unit/test_cel_parity.py writes the cases from the Python engine and compares.
import { readFileSync } from "node:fs";
import { bindings, compile } from "../../web/static/vendor/loom-cel/loom-cel.js";

/** ``holds`` of every case: true / false, or null when unknown (or the expression does not parse). */
export function judge(cases) {
  return cases.map((c) => {
    let holds;
    try {
      holds = compile(c.expression).holds(bindings(c.fields, c.values));
    } catch (error) {
      holds = `error: ${error.message}`;
    }
    return { id: c.id, holds };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = readFileSync(process.argv[2] ?? 0, "utf8");
  process.stdout.write(JSON.stringify({ results: judge(JSON.parse(text).cases) }) + "\n");
}
