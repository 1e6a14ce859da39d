/**
 * A date-and-time field that becomes required (a deal moved to Won or Lost makes
 * "Closed at" required through its `required_if`) is filled with now, in the user's
 * time zone, when it is empty: people close a deal the moment they record it.
 *
 * DOM contract (templates/records/form.html, widgets/datetime.html):
 *   <form class="loom-form" data-loom-conditions=...>
 *     <div data-loom-field="closed_at" data-widget="datetime" data-required-if="...">
 *       <input type="datetime-local" name="closed_at"> <span data-zone>Asia/Shanghai</span>
 *
 * Runs after conditions.js (loaded first), which sets `required` on the control. Only a
 * convenience: the server still validates whatever is posted. A field the user empties
 * again stays empty until it becomes required anew.
 */

/** `YYYY-MM-DDTHH:MM` of ``moment`` as wall time in ``zone`` (an IANA name). */
export function wallTime(moment, zone) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(moment);
  } catch {
    return null; // an unknown zone: leave the field to the user
  }
  const part = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}T${part("hour")}:${part("minute")}`;
}

function candidates(form) {
  return [...form.querySelectorAll('[data-widget="datetime"][data-required-if]')]
    .map((wrapper) => ({ wrapper, input: wrapper.querySelector('input[type="datetime-local"][name]') }))
    .filter((c) => c.input);
}

function fill(candidate) {
  const { wrapper, input } = candidate;
  if (!input.required || input.value || input.readOnly || input.disabled
      || wrapper.hasAttribute("data-loom-hidden")) return;
  const zone = wrapper.querySelector("[data-zone]")?.textContent.trim() || "UTC";
  const now = wallTime(new Date(), zone);
  if (now) {
    input.value = now;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

export function attach(form) {
  if (form.loomNowWhenRequired) return;
  form.loomNowWhenRequired = true;
  const fields = candidates(form);
  const was = new Map(fields.map((c) => [c.input, c.input.required]));
  // Opened already needing it (the board sent ?stage=lost): fill it now.
  for (const c of fields) fill(c);
  form.addEventListener("change", () => {
    for (const c of fields) {
      const before = was.get(c.input);
      was.set(c.input, c.input.required);
      if (!before && c.input.required) fill(c);
    }
  });
}

if (typeof document !== "undefined") {
  const start = () => document.querySelectorAll("form.loom-form[data-loom-conditions]").forEach(attach);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
