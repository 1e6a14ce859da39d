/**
 * Live visible_if / required_if / read_only_if in a record form.
 *
 * Judges the entity's CEL conditions in the browser with the vendored evaluator
 * (/static/vendor/loom-cel/loom-cel.js, built from @bufbuild/cel by web/assets),
 * with the record service's semantics (engine/rules, engine/records/validation.py):
 * an empty field is unbound, an expression that needs it is unknown, and unknown
 * never satisfies a condition. The server stays the judge: this only shows the
 * form as the server will see it. It must not post, fetch or change values.
 *
 * DOM contract (the form template renders it):
 *
 *   <form data-loom-conditions='{{ conditions|tojson }}'>   (single quotes: tojson
 *                                                             escapes ' < > &)
 *     <div data-loom-field="loss_reason">
 *       <label for="loss_reason">Loss reason</label>
 *       <input name="loss_reason" id="loss_reason">     (any control(s) named as the field)
 *     </div>
 *
 *   conditions = {
 *     "fields": {                    every variable an expression reads
 *       "stage":   {"cel_type": "string"},               field.type.cel_type(field)
 *       "amount":  {"cel_type": "double"},
 *       "members": {"cel_type": "list(int)", "many": true}   many = not field.stored
 *     },
 *     "values": {"owner": 3},        optional: JSON values (record-JSON shape) of variables
 *                                    with no control in the form (standard columns,
 *                                    read-only fields); never a field the actor can't read
 *     "stored": {"stage": "won"},    optional, edit forms: the stored record's JSON values,
 *                                    read_only_if is judged on it (as the server does);
 *                                    without it read_only_if is not applied (create)
 *     "rules": [{"field": "loss_reason", "visible_if": "stage == 'lost'",
 *                "required_if": "stage == 'lost'", "read_only_if": null}]
 *   }
 *
 * Each variable's value is read from the form controls named as it (form.elements),
 * else from "values". Controls: a checkbox alone is a bool (checked); checkboxes
 * sharing a name, and <select multiple>, are lists; radios give the checked one;
 * other controls give their value ("" = empty; a list from a text box splits on ",";
 * a "dyn" value is parsed as JSON). Numbers, dates and ids are read from the
 * strings as the server coerces them (a date-time without a zone is UTC).
 *
 * What it does on load and on every input/change event in the form:
 * - visible_if false or unknown: the wrapper gets `d-none` (and data-loom-hidden);
 *   its controls stay enabled, so their values are posted and kept: the record
 *   service keeps values of invisible fields (visible_if only shapes the form);
 * - required = the control's own `required` at load, or (visible and required_if holds):
 *   toggles the `required` attribute (not on checkboxes: a bool always has a value;
 *   never on a hidden field, which the browser could not focus) and the class
 *   `loom-required` on the wrapper's <label>s (the form's CSS draws the marker);
 * - read_only_if holds on "stored": text controls get `readonly`; selects, checkboxes
 *   and radios get aria-readonly and ignore changes (they are not disabled, so the
 *   value is still posted and unchanged, which the server accepts); the wrapper gets
 *   `loom-readonly`.
 * An expression that does not parse is logged and never holds.
 *
 * Loaded as a module: <script type="module" src="/static/loom/conditions.js"></script>.
 * It attaches itself to every form[data-loom-conditions] once the page is parsed,
 * and to forms htmx swaps in later; `attach(form)` is exported for other scripts.
 */
import { bindings, compile } from "../vendor/loom-cel/loom-cel.js";

/** Attribute holding the JSON conditions on the form. */
export const CONDITIONS_ATTR = "data-loom-conditions";
/** Attribute naming the field of a wrapper element. */
export const FIELD_ATTR = "data-loom-field";
/** Class Bootstrap hides an element with. */
export const HIDDEN_CLASS = "d-none";
/** Class on a required field's labels. */
export const REQUIRED_CLASS = "loom-required";
/** Class on a read-only field's wrapper. */
export const READONLY_CLASS = "loom-readonly";
const KINDS = ["visible_if", "required_if", "read_only_if"];
const LIST_TYPE = /^list\(/;

function compiled(source) {
  if (!source) return null;
  try {
    return compile(source);
  } catch (error) {
    console.warn(`loom conditions: ${error.message}`);
    return { holds: () => null };
  }
}

/**
 * The rules of ``config`` compiled: [{field, visible_if, required_if, read_only_if}],
 * each condition a compiled expression or null.
 */
export function compileRules(config) {
  return (config.rules ?? []).map((rule) => {
    const out = { field: rule.field };
    for (const kind of KINDS) out[kind] = compiled(rule[kind]);
    return out;
  });
}

/**
 * What each rule's field should look like, given the current JSON ``values``:
 * {name: {visible, required, readOnly}}, where required / readOnly say whether the
 * condition holds (true only when it holds, never when unknown).
 * ``stored`` is the stored record (read_only_if is judged on it), or null.
 */
export function evaluate(fields, rules, values, stored = null) {
  const now = bindings(fields, values);
  const before = stored ? bindings(fields, stored) : null;
  const states = {};
  for (const rule of rules) {
    const visible = rule.visible_if ? rule.visible_if.holds(now) === true : true;
    const required = rule.required_if ? rule.required_if.holds(now) === true : false;
    const readOnly = rule.read_only_if && before ? rule.read_only_if.holds(before) === true : false;
    states[rule.field] = { visible, required, readOnly };
  }
  return states;
}

function controlsOf(form, name) {
  const found = form.elements.namedItem(name);
  if (!found) return [];
  // A single element has a tagName; a RadioNodeList (several named alike) has none.
  return found.tagName ? [found] : Array.from(found);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null; // the server refuses it: empty
  }
}

/**
 * The JSON value of ``controls`` (the form elements named as one field) for a
 * variable of type ``field.cel_type``; null when there is none.
 */
export function readControls(controls, field) {
  const list = LIST_TYPE.test(field.cel_type);
  if (controls.length === 0) return null;
  const first = controls[0];
  if (first.tagName === "SELECT" && first.multiple) {
    return Array.from(first.options).filter((o) => o.selected && o.value !== "").map((o) => o.value);
  }
  const checkable = controls.filter((c) => c.type === "checkbox" || c.type === "radio");
  if (checkable.length === 1 && controls.length <= 2 && checkable[0].type === "checkbox" && !list) {
    // A lone checkbox (maybe with a hidden "false" companion) is a bool.
    return checkable[0].checked;
  }
  const values = [];
  for (const control of controls) {
    if ((control.type === "checkbox" || control.type === "radio") && !control.checked) continue;
    if (control.disabled) continue;
    values.push(control.value);
  }
  if (list) {
    // One text box holding "a, b" is split by the evaluator, as the server splits it.
    if (values.length === 1 && controls.length === 1) return values[0];
    return values.filter((v) => v !== "");
  }
  const value = values.length ? values[values.length - 1] : null;
  if (value !== null && field.cel_type === "dyn") return value.trim() === "" ? null : parseJson(value);
  return value;
}

/** The JSON values of every declared variable: from the form controls, else ``config.values``. */
export function readForm(form, config) {
  const values = {};
  for (const [name, field] of Object.entries(config.fields ?? {})) {
    const controls = controlsOf(form, name);
    const given = config.values ?? {};
    if (controls.length) values[name] = readControls(controls, field);
    else if (name in given) values[name] = given[name];
    // else: not in the form and not given: left out, so unbound (unknown)
  }
  return values;
}

function isTextual(control) {
  return control.tagName === "TEXTAREA"
    || (control.tagName === "INPUT" && !["checkbox", "radio", "hidden", "button", "submit"].includes(control.type));
}

function guardReadOnly(event) {
  const control = event.target;
  if (control && control.dataset && control.dataset.loomReadonly === "true") event.preventDefault();
}

function keepSelection(select, readOnly) {
  for (const option of select.options) {
    if (readOnly && !option.selected) {
      option.dataset.loomLocked = "true";
      option.disabled = true;
    } else if (!readOnly && option.dataset.loomLocked) {
      delete option.dataset.loomLocked;
      option.disabled = false;
    }
  }
}

function applyState(form, wrapper, controls, state, initial) {
  wrapper.classList.toggle(HIDDEN_CLASS, !state.visible);
  wrapper.toggleAttribute("data-loom-hidden", !state.visible);
  const required = initial.required || (state.visible && state.required);
  for (const control of controls) {
    if (control.type !== "checkbox" && control.type !== "hidden") {
      control.required = required && state.visible;
    }
  }
  for (const label of wrapper.querySelectorAll("label")) {
    label.classList.toggle(REQUIRED_CLASS, required);
  }
  if (initial.readOnly) return; // rendered read-only by the server: leave it so
  wrapper.classList.toggle(READONLY_CLASS, state.readOnly);
  for (const control of controls) {
    if (isTextual(control)) {
      control.readOnly = state.readOnly;
    } else {
      control.toggleAttribute("aria-readonly", state.readOnly);
      if (state.readOnly) control.dataset.loomReadonly = "true";
      else delete control.dataset.loomReadonly;
      if (control.tagName === "SELECT") keepSelection(control, state.readOnly);
    }
  }
}

/**
 * Judge ``form``'s conditions now and on every input/change. Returns
 * {refresh(), states()}; attaching a form twice returns the first controller.
 */
export function attach(form) {
  if (form.loomConditions) return form.loomConditions;
  let config;
  try {
    config = JSON.parse(form.getAttribute(CONDITIONS_ATTR) || "{}");
  } catch (error) {
    console.warn(`loom conditions: ${CONDITIONS_ATTR} is not JSON: ${error.message}`);
    config = {};
  }
  const fields = config.fields ?? {};
  const rules = compileRules(config);
  const initial = new Map();
  for (const rule of rules) {
    const controls = controlsOf(form, rule.field);
    initial.set(rule.field, {
      required: controls.some((c) => c.required),
      readOnly: controls.some((c) => c.readOnly || c.disabled),
    });
  }
  let last = {};
  const refresh = () => {
    last = evaluate(fields, rules, readForm(form, config), config.stored ?? null);
    for (const rule of rules) {
      const wrapper = form.querySelector(`[${FIELD_ATTR}="${CSS.escape(rule.field)}"]`);
      if (wrapper) applyState(form, wrapper, controlsOf(form, rule.field), last[rule.field], initial.get(rule.field));
    }
    return last;
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  // The space key on a checkbox or radio is a click too.
  form.addEventListener("click", guardReadOnly);
  form.loomConditions = { refresh, states: () => last };
  refresh();
  return form.loomConditions;
}

/** Attach every form[data-loom-conditions] in ``root`` (the document, or content htmx swapped in). */
export function attachAll(root = document) {
  if (root.matches && root.matches(`form[${CONDITIONS_ATTR}]`)) attach(root);
  for (const form of root.querySelectorAll(`form[${CONDITIONS_ATTR}]`)) attach(form);
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => attachAll());
  } else {
    attachAll();
  }
  document.addEventListener("htmx:load", (event) => attachAll(event.target));
}
