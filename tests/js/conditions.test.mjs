// web/static/loom/conditions.js: reading form controls and judging a form's rules.
// The DOM wiring (attach) is exercised in a real browser by the e2e tests; here the
// controls are plain objects with the properties the module reads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileRules, evaluate, readControls } from "../../web/static/loom/conditions.js";

const DEAL = {
  fields: {
    stage: { cel_type: "string" },
    amount: { cel_type: "double" },
    done: { cel_type: "bool" },
    tags: { cel_type: "list(string)" },
    members: { cel_type: "list(int)", many: true },
    close_date: { cel_type: "timestamp" },
  },
  rules: [
    { field: "loss_reason", visible_if: "stage == 'lost'", required_if: "stage == 'lost'" },
    { field: "discount", required_if: "amount > 1000.0", read_only_if: "stage in ['won', 'lost']" },
    { field: "summary", visible_if: "done || 'vip' in tags" },
  ],
};
const RULES = compileRules(DEAL);

const input = (value, type = "text") => ({ tagName: "INPUT", type, value, checked: false });
const box = (value, checked) => ({ tagName: "INPUT", type: "checkbox", value, checked });
const multi = (...selected) => ({
  tagName: "SELECT", multiple: true, type: "select-multiple",
  options: ["hot", "cold", "vip"].map((value) => ({ value, selected: selected.includes(value) })),
});

test("a hidden field's condition follows the value it reads", () => {
  assert.equal(evaluate(DEAL.fields, RULES, { stage: "lost" }).loss_reason.visible, true);
  assert.equal(evaluate(DEAL.fields, RULES, { stage: "won" }).loss_reason.visible, false);
});

test("an empty field is unknown, and unknown never satisfies a condition", () => {
  const states = evaluate(DEAL.fields, RULES, { stage: "", amount: "" });
  assert.deepEqual(states.loss_reason, { visible: false, required: false, readOnly: false });
  assert.equal(states.discount.required, false);
});

test("decimals bind as doubles read from form strings", () => {
  assert.equal(evaluate(DEAL.fields, RULES, { amount: "1,000.50" }).discount.required, true);
  assert.equal(evaluate(DEAL.fields, RULES, { amount: "999.99" }).discount.required, false);
  assert.equal(evaluate(DEAL.fields, RULES, { amount: "many" }).discount.required, false);
});

test("read_only_if is judged on the stored record, not on the values being typed", () => {
  const stored = { stage: "won" };
  assert.equal(evaluate(DEAL.fields, RULES, { stage: "lead" }, stored).discount.readOnly, true);
  assert.equal(evaluate(DEAL.fields, RULES, { stage: "won" }, { stage: "lead" }).discount.readOnly, false);
  assert.equal(evaluate(DEAL.fields, RULES, { stage: "won" }).discount.readOnly, false);
});

test("an || condition holds when its known side holds", () => {
  assert.equal(evaluate(DEAL.fields, RULES, { done: true }).summary.visible, true);
  assert.equal(evaluate(DEAL.fields, RULES, { done: false, tags: ["vip"] }).summary.visible, true);
  assert.equal(evaluate(DEAL.fields, RULES, { done: false }).summary.visible, false);
});

test("an expression that does not parse never holds", () => {
  const warn = console.warn;
  console.warn = () => {};
  try {
    const rules = compileRules({ rules: [{ field: "broken", visible_if: "stage ==" }] });
    assert.equal(evaluate(DEAL.fields, rules, { stage: "x" }).broken.visible, false);
  } finally {
    console.warn = warn;
  }
});

test("a lone checkbox reads as a bool, with or without a hidden companion", () => {
  assert.equal(readControls([box("y", true)], DEAL.fields.done), true);
  assert.equal(readControls([input("false", "hidden"), box("true", false)], DEAL.fields.done), false);
});

test("a multiple select and a checkbox group read as lists of the chosen values", () => {
  assert.deepEqual(readControls([multi("hot", "vip")], DEAL.fields.tags), ["hot", "vip"]);
  assert.deepEqual(readControls([box("hot", true), box("cold", false), box("vip", true)],
    DEAL.fields.tags), ["hot", "vip"]);
  assert.deepEqual(readControls([multi()], DEAL.fields.tags), []);
});

test("radios read as the checked one, text as its value", () => {
  const radios = [{ ...box("won", false), type: "radio" }, { ...box("lost", true), type: "radio" }];
  assert.equal(readControls(radios, DEAL.fields.stage), "lost");
  assert.equal(readControls([input("2024-05-01", "date")], DEAL.fields.close_date), "2024-05-01");
});

test("an empty link list binds as [] so size(...) == 0 holds", () => {
  const rules = compileRules({ rules: [{ field: "x", visible_if: "size(members) == 0" }] });
  assert.equal(evaluate(DEAL.fields, rules, { members: [] }).x.visible, true);
  assert.equal(evaluate(DEAL.fields, rules, {}).x.visible, false);
});
