// "Insérer": put a knowledge article's text into a reply textarea (console reply box, chat).
// Buttons carry data-insert-text and data-insert-target (the textarea's id). Loaded once.
(function () {
  "use strict";
  if (window.guichetKnowledgeInsert) { return; }
  window.guichetKnowledgeInsert = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert-text][data-insert-target]");
    if (!button) { return; }
    var target = document.getElementById(button.getAttribute("data-insert-target"));
    if (!target || !("value" in target)) { return; }
    var text = button.getAttribute("data-insert-text");
    var start = typeof target.selectionStart === "number" ? target.selectionStart : target.value.length;
    var end = typeof target.selectionEnd === "number" ? target.selectionEnd : target.value.length;
    var before = target.value.slice(0, start);
    var after = target.value.slice(end);
    var glue = before && !/\n\s*$/.test(before) ? "\n\n" : "";
    target.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    target.focus();
    if (typeof target.setSelectionRange === "function") { target.setSelectionRange(caret, caret); }
    target.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
