/**
 * Typeahead widgets of the generated record forms (templates/widgets/relation*.html).
 *
 * DOM contract:
 *   <div data-loom-typeahead data-search-url="/r/account/search" [data-multiple data-field-name="x"]>
 *     <input type="hidden" name="x" data-loom-typeahead-id>       (single: the chosen id)
 *     <div data-loom-chips>... <span data-loom-chip><input type="hidden" name="x" value="7">
 *                                <button data-loom-chip-remove></button></span></div>   (multiple)
 *     <input type="search" data-loom-typeahead-input>             (what the user types)
 *     <div class="dropdown-menu" data-loom-typeahead-menu></div>
 *   </div>
 *
 * The search endpoint answers GET ?q=&limit= with [{"id": 1, "label": "Acme"}]. Labels
 * are set with textContent only (never as HTML). Changing the choice fires a bubbling
 * "change" event on the form so the live conditions (conditions.js) judge again.
 * Nothing here decides what is valid: the server does.
 */

/** Milliseconds to wait after the last key before searching. */
export const SEARCH_DELAY_MS = 200;
/** Results asked for per search. */
export const SEARCH_LIMIT = 10;

function notify(element) {
  element.dispatchEvent(new Event("change", { bubbles: true }));
}

function chip(root, id, label) {
  const name = root.dataset.fieldName;
  const chips = root.querySelector("[data-loom-chips]");
  if (!name || !chips) return;
  for (const existing of chips.querySelectorAll("input[type=hidden]")) {
    if (existing.value === String(id)) return;
  }
  const span = document.createElement("span");
  span.className = "badge text-bg-secondary";
  span.dataset.loomChip = "";
  const text = document.createElement("span");
  text.textContent = label;
  const hidden = document.createElement("input");
  hidden.type = "hidden";
  hidden.name = name;
  hidden.value = String(id);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "btn-close btn-close-white ms-1";
  remove.setAttribute("aria-label", "×");
  remove.dataset.loomChipRemove = "";
  span.append(text, hidden, remove);
  chips.append(span);
  notify(hidden);
}

/** Wire one typeahead root; returns {search(q)} for tests. */
export function attachTypeahead(root) {
  if (root.loomTypeahead) return root.loomTypeahead;
  const input = root.querySelector("[data-loom-typeahead-input]");
  const menu = root.querySelector("[data-loom-typeahead-menu]");
  const idInput = root.querySelector("[data-loom-typeahead-id]");
  const multiple = root.hasAttribute("data-multiple");
  let timer = null;
  let active = -1;
  let serial = 0;

  const close = () => {
    menu.classList.remove("show");
    input.setAttribute("aria-expanded", "false");
    active = -1;
  };

  const choose = (item) => {
    if (multiple) {
      chip(root, item.id, item.label);
      input.value = "";
    } else {
      idInput.value = String(item.id);
      input.value = item.label;
      notify(idInput);
    }
    close();
  };

  const show = (items) => {
    menu.replaceChildren();
    for (const item of items) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "dropdown-item";
      button.setAttribute("role", "option");
      button.textContent = item.label;
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => choose(item));
      menu.append(button);
    }
    if (!items.length) {
      const empty = document.createElement("span");
      empty.className = "dropdown-item-text text-muted";
      empty.textContent = "—";
      menu.append(empty);
    }
    menu.classList.add("show");
    input.setAttribute("aria-expanded", "true");
  };

  const search = async (q) => {
    const mine = ++serial;
    const url = new URL(root.dataset.searchUrl, window.location.href);
    url.searchParams.set("q", q);
    url.searchParams.set("limit", String(SEARCH_LIMIT));
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok || mine !== serial) return [];
    const items = await response.json();
    show(items);
    return items;
  };

  input.addEventListener("input", () => {
    if (!multiple && idInput.value) {
      // Typing replaces the choice: the old id must not be posted under a new text.
      idInput.value = "";
      notify(idInput);
    }
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value.trim()), SEARCH_DELAY_MS);
  });
  input.addEventListener("focus", () => {
    if (!input.value.trim()) search("");
  });
  input.addEventListener("blur", () => setTimeout(close, 0));
  input.addEventListener("keydown", (event) => {
    const items = Array.from(menu.querySelectorAll(".dropdown-item"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach((item, i) => item.classList.toggle("active", i === active));
    } else if (event.key === "Enter" && menu.classList.contains("show")) {
      event.preventDefault(); // never submit the form while choosing
      if (active >= 0 && items[active]) items[active].click();
    } else if (event.key === "Escape") {
      close();
    }
  });
  root.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-loom-chip-remove]");
    if (!remove) return;
    const span = remove.closest("[data-loom-chip]");
    const form = root.closest("form");
    span.remove();
    if (form) notify(form);
  });

  root.loomTypeahead = { search, close };
  return root.loomTypeahead;
}

/** Wire every typeahead under ``root``. */
export function attachAll(root = document) {
  for (const element of root.querySelectorAll("[data-loom-typeahead]")) attachTypeahead(element);
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => attachAll());
  } else {
    attachAll();
  }
  document.addEventListener("htmx:load", (event) => attachAll(event.target));
}
