// Guichet: small progressive enhancements, no inline script (CSP: script-src 'self').
(function () {
  "use strict";
  // htmx: announce swapped regions to assistive technologies by focusing the new heading if asked.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var focus = target && target.querySelector("[data-focus-after-swap]");
    if (focus) { focus.focus(); }
  });
})();
