/**
 * The pipeline board's moves (templates/records/board.html, web/records/board.py).
 *
 * DOM contract:
 *   <div data-board data-move-url="/r/deal/board/move" data-next="/r/deal/board?f.owner=3">
 *     <section data-column="won"> ... <span data-count>3</span> <span data-total="amount">¥1</span>
 *       <ol data-board-column="won">
 *         <li data-card data-id="7" data-version="2"> ...
 *           <form data-board-move> csrf_token, id, version, next, <select name="value"> </form>
 *   <div data-board-message role="alert">            (messages go here, as text)
 *
 * A card dragged to another column (sortablejs) or moved with its "move to" form is
 * posted as form data (Accept: application/json) to data-move-url. The server answers
 * {ok: true, version, message, warnings, columns: {value: {count, totals: [text]}}}
 * or {ok: false, messages: [...], edit_url}: a refused drag puts the card back where it
 * was and shows the messages; with an edit_url (fields the move makes required) the
 * edit form opens with the move preset. Nothing here decides what is allowed: the
 * record service does. Text is set with textContent only.
 */
import Sortable from "../vendor/sortablejs/sortable.esm.js";

function show(board, kind, lines) {
  const box = document.querySelector("[data-board-message]");
  if (!box) return;
  box.className = `alert alert-${kind}`;
  box.replaceChildren();
  for (const line of lines) {
    const div = document.createElement("div");
    div.textContent = line;
    box.append(div);
  }
}

function refreshColumns(board, columns) {
  for (const [value, figures] of Object.entries(columns || {})) {
    const section = board.querySelector(`[data-column="${CSS.escape(value)}"]`);
    if (!section) continue;
    const count = section.querySelector("[data-count]");
    if (count) count.textContent = String(figures.count);
    const totals = section.querySelectorAll("[data-total]");
    figures.totals.forEach((total, i) => { if (totals[i]) totals[i].textContent = total; });
  }
}

/** The card now stands in ``value``'s column: its version and "move to" choices follow. */
function settle(card, value, version) {
  card.dataset.version = String(version);
  const form = card.querySelector("[data-board-move]");
  if (!form) return;
  form.elements.version.value = String(version);
  for (const option of form.elements.value.options) {
    const here = option.value === value;
    option.disabled = here;
    option.selected = here;
  }
}

async function post(board, card, value) {
  const form = card.querySelector("[data-board-move]");
  const data = new FormData();
  const token = form?.elements.csrf_token?.value
    ?? document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  data.set("csrf_token", token);
  data.set("id", card.dataset.id);
  data.set("version", card.dataset.version);
  data.set("value", value);
  data.set("next", board.dataset.next || "");
  let response;
  let body = {};
  try {
    response = await fetch(board.dataset.moveUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token },
    });
    body = await response.json();
  } catch {
    body = { ok: false, messages: [board.dataset.failed || "The move could not be saved."] };
  }
  return body;
}

/** Move ``card`` to column ``value``; ``undo()`` puts it back when the server refuses. */
async function move(board, card, value, undo) {
  card.classList.add("loom-board-busy");
  const body = await post(board, card, value);
  card.classList.remove("loom-board-busy");
  if (body.ok) {
    settle(card, value, body.version);
    refreshColumns(board, body.columns);
    show(board, body.warnings?.length ? "warning" : "success", [body.message, ...(body.warnings || [])]);
    return true;
  }
  undo();
  show(board, "danger", body.messages || []);
  if (body.edit_url) window.location.assign(body.edit_url);
  return false;
}

export function attach(board) {
  if (board.loomBoard) return board.loomBoard;
  for (const list of board.querySelectorAll("[data-board-column]")) {
    Sortable.create(list, {
      group: "loom-board",
      draggable: "[data-card]",
      filter: "select, option, button, input",
      preventOnFilter: false,
      ghostClass: "loom-board-ghost",
      // Pointer events rather than the browser's native drag and drop: the same on every
      // browser and touch screen, and a press that moves less than a few pixels stays a
      // click (on the card's link).
      forceFallback: true,
      fallbackTolerance: 4,
      animation: 120,
      onEnd(event) {
        if (event.from === event.to) return;
        const { item, from } = event;
        const next = from.children[event.oldIndex] ?? null; // where it stood before
        const undo = () => from.insertBefore(item, next && next !== item ? next : null);
        move(board, item, event.to.dataset.boardColumn, undo);
      },
    });
  }
  // The keyboard path: the card's own "move to" form, sent the same way.
  board.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-board-move]");
    if (!form) return;
    event.preventDefault();
    const card = form.closest("[data-card]");
    const value = form.elements.value.value;
    const target = board.querySelector(`[data-board-column="${CSS.escape(value)}"]`);
    if (!card || !target || form.elements.value.selectedOptions[0]?.disabled) return;
    move(board, card, value, () => {}).then((moved) => {
      if (!moved) return;
      target.prepend(card);
      form.elements.value.focus();
    });
  });
  board.loomBoard = { move: (card, value) => move(board, card, value, () => {}) };
  board.dataset.boardReady = "true"; // for tests and styles: the drag and drop is live
  return board.loomBoard;
}

if (typeof document !== "undefined") {
  const start = () => document.querySelectorAll("[data-board]").forEach(attach);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
