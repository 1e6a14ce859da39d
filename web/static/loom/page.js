// Behaviour every page shares, declared in the markup with data attributes (the
// Content-Security-Policy allows no inline scripts or on...= handlers):
//   data-confirm="question"   a click asks first; "Cancel" stops the click (and its form)
//   data-select-all           a checkbox that ticks every input[name="ids"]
//   data-autosubmit           a field that submits its form when changed
// and the CSRF token on every htmx request.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-confirm]") : null;
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-autosubmit]") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });
  document.body.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });
})();
