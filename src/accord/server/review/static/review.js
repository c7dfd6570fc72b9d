// accord review: keyboard shortcuts. An element with data-key="x" is clicked (or, for a text box,
// focused) when x is pressed outside a text field. Esc leaves a text field. No inline script anywhere.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" && el.type !== "checkbox" && el.type !== "radio" ||
      el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var key = e.key.length === 1 ? e.key.toLowerCase() : "";
    if (!key) return;
    var el = document.querySelector('[data-key="' + key + '"]');
    if (!el) return;
    e.preventDefault();
    if (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text")) el.focus();
    else el.click();
  });
})();
