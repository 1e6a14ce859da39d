// node --test tests/js/*.test.mjs : the wall time a "Closed at" field is prefilled with.
import assert from "node:assert/strict";
import { test } from "node:test";

import { wallTime } from "../../web/static/loom/now-when-required.js";

test("now is written as wall time in the user's zone, not the browser's", () => {
  const moment = new Date(Date.UTC(2026, 2, 31, 18, 5, 42));
  assert.equal(wallTime(moment, "Asia/Shanghai"), "2026-04-01T02:05");
  assert.equal(wallTime(moment, "UTC"), "2026-03-31T18:05");
  assert.equal(wallTime(moment, "America/New_York"), "2026-03-31T14:05");
});

test("an unknown zone gives nothing rather than a wrong time", () => {
  assert.equal(wallTime(new Date(), "Mars/Olympus"), null);
});
