/**
 * Loom's CEL evaluator for the browser: @bufbuild/cel with Loom's value binding.
 *
 * Bundled by build.mjs into web/static/vendor/loom-cel/loom-cel.js (one ES module).
 * It mirrors engine/rules (Python, cel-expr-python) so a form can judge
 * visible_if / required_if / read_only_if live. Semantics that must match:
 *
 * - a null value is left unbound; an expression that needs it is UNKNOWN, and so
 *   is any other evaluation error (division by zero, a bad regex...); CEL's
 *   && and || still absorb an unknown side (false && x is false);
 * - values bind by the field's CEL type: "int" as BigInt, "double" as number,
 *   "string", "bool", "timestamp" (UTC; a date is its UTC midnight, a naive
 *   date-time is UTC, as the server coerces it), "list(T)" as arrays, "dyn" as
 *   JSON (a whole number as int);
 * - now() and today() (UTC midnight) as in engine/rules.
 *
 * It does not type-check: expressions are checked by `loom check` on the server,
 * and only expressions the server compiled should reach it. No DOM here.
 */
import { celEnv, celFunc, isCelError, isCelList, isCelMap, isCelUint, objectType, parse, plan } from "@bufbuild/cel";
import { isMessage } from "@bufbuild/protobuf";
import { TimestampSchema, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";

/** The result of an expression that needs an unbound value or fails. */
export const UNKNOWN = Object.freeze({ toString: () => "UNKNOWN" });

const TIMESTAMP = objectType(TimestampSchema);
const DAY_MS = 86400000;

function todayMs() {
  const now = Date.now();
  return now - (now % DAY_MS);
}

const ENV = celEnv({
  funcs: [
    celFunc("now", [], TIMESTAMP, () => timestampFromMs(Date.now())),
    celFunc("today", [], TIMESTAMP, () => timestampFromMs(todayMs())),
  ],
});

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;
const INTEGER = /^\s*[-+]?[0-9]+\s*$/;
/** Strings a boolean field reads as true / false (engine/fields/scalar.py BooleanType). */
const TRUE = new Set(["true", "1", "yes", "on", "y", "是"]);
const FALSE = new Set(["false", "0", "no", "off", "n", "否", ""]);
/** CEL types whose empty string is a value, not "no value" (their is_empty is "is None"). */
const EMPTY_STRING_IS_VALUE = new Set(["bool", "dyn"]);

/** An ISO date or date-time string (or Date) as epoch milliseconds, UTC when no zone is given. */
export function timestampMs(value) {
  if (value instanceof Date) return value.getTime();
  const text = String(value).trim();
  let iso = text;
  if (DATE_ONLY.test(text)) iso = `${text}T00:00:00Z`;
  else if (!HAS_ZONE.test(text)) iso = `${text}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new TypeError(`not a date or date-time: ${text}`);
  return ms;
}

/**
 * A JSON-shaped value (as the API sends it) as the CEL input of ``celType``.
 * Returns undefined for null (unbound). Throws TypeError for a value of the wrong shape.
 */
export function toCel(celType, value) {
  if (value === null || value === undefined) return undefined;
  const type = celType.replace(/\s+/g, "");
  const list = /^list\((.+)\)$/.exec(type);
  if (list && list[1] === "string" && typeof value === "string") {
    // A list of options may come as "a, b" (a text box, a spreadsheet cell).
    return value.split(",").map((part) => part.trim()).filter((part) => part !== "");
  }
  if (list) {
    if (!Array.isArray(value)) throw new TypeError(`expected a list for ${celType}`);
    return value.map((item) => toCel(list[1], item));
  }
  switch (type) {
    case "int":
      if (typeof value === "bigint") return value;
      if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
      if (typeof value === "string" && INTEGER.test(value)) return BigInt(value.trim());
      throw new TypeError(`not an int: ${value}`);
    case "double": {
      const number = typeof value === "number" ? value : Number(String(value).trim().replaceAll(",", ""));
      if (typeof value === "boolean" || String(value).trim() === "" || !Number.isFinite(number)) {
        throw new TypeError(`not a number: ${value}`);
      }
      return number;
    }
    case "string":
      return String(value);
    case "bool": {
      if (typeof value === "boolean") return value;
      if (value === 0 || value === 1) return value === 1;
      const text = typeof value === "string" ? value.trim().toLowerCase() : null;
      if (TRUE.has(text)) return true;
      if (FALSE.has(text)) return false;
      throw new TypeError(`not a bool: ${value}`);
    }
    case "timestamp":
      return timestampFromMs(timestampMs(value));
    case "dyn":
      return fromJson(value);
    default:
      throw new TypeError(`unsupported CEL type ${celType}`);
  }
}

function fromJson(value) {
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

/**
 * True for a value the record service reads as "no value" (then the variable is
 * unbound). A list kept in a link table (``many``) is never unbound: no value is [].
 */
export function isEmpty(field, value) {
  if (value === null || value === undefined) return true;
  if (value === "") return !EMPTY_STRING_IS_VALUE.has(field.cel_type);
  return Array.isArray(value) && value.length === 0;
}

/**
 * Bindings for ``values`` (name -> JSON value, as the API or a form sends it).
 * ``fields`` maps each name to ``{cel_type, many}`` (or to its CEL type string).
 * Empty values and values of the wrong shape are left out (unbound), as the record
 * service leaves them empty; a link-table list (many) binds sorted, as it is stored,
 * and as [] when given empty (null or []); a name missing from ``values`` is unbound.
 */
export function bindings(fields, values) {
  const out = {};
  for (const [name, spec] of Object.entries(fields)) {
    const field = typeof spec === "string" ? { cel_type: spec } : spec;
    const value = values[name];
    if (isEmpty(field, value)) {
      // Sent empty (null or []), a link list is []; not sent at all, it is unknown.
      if (field.many && value !== undefined) out[name] = [];
      continue;
    }
    try {
      let converted = toCel(field.cel_type, value);
      if (Array.isArray(converted)) {
        // The first of each value is kept (coerce); link-table lists are stored sorted.
        converted = [...new Set(converted)];
        if (field.many) converted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      }
      out[name] = converted;
    } catch {
      // A value the server would refuse is empty there too: unbound.
    }
  }
  return out;
}

/** A CEL result as a plain JSON-like value (int as number, timestamp as ISO string). */
export function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (isCelUint(value)) return Number(value.value);
  if (isCelList(value)) return Array.from(value, plain);
  if (isCelMap(value)) return Object.fromEntries(Array.from(value, ([k, v]) => [String(plain(k)), plain(v)]));
  if (isMessage(value, TimestampSchema)) return timestampDate(value).toISOString();
  if (value && typeof value === "object" && "message" in value && isMessage(value.message, TimestampSchema)) {
    return timestampDate(value.message).toISOString();
  }
  return value;
}

/**
 * A compiled expression. ``evaluate(bindings)`` gives the value or UNKNOWN;
 * ``holds(bindings)`` gives true / false, or null when unknown.
 * Throws SyntaxError-like Error when ``source`` does not parse.
 */
export function compile(source) {
  let run;
  try {
    run = plan(ENV, parse(source));
  } catch (error) {
    throw new Error(`CEL expression does not parse: ${source}: ${error.message ?? error}`);
  }
  const evaluate = (bound) => {
    try {
      const result = run(bound ?? {});
      return isCelError(result) ? UNKNOWN : result;
    } catch {
      return UNKNOWN;
    }
  };
  const holds = (bound) => {
    const result = evaluate(bound);
    if (result === UNKNOWN || typeof result !== "boolean") return null;
    return result;
  };
  return Object.freeze({ source, evaluate, holds });
}
