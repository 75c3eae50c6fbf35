// Supervisor live view: refreshes the tables every 5 s (fetch of the partial), never while the
// keyboard focus is inside them or while the supervisor has paused the updates (WCAG 2.2.2).
(function () {
  "use strict";
  var region = document.getElementById("supervision-live");
  if (!region) { return; }
  var url = region.getAttribute("data-live-url");
  var interval = parseInt(region.getAttribute("data-interval"), 10) || 5000;
  var toggle = document.querySelector("[data-supervision-toggle]");
  var updated = document.querySelector("[data-supervision-updated]");
  var summary = document.querySelector("[data-supervision-summary]");
  var paused = false;
  var lastSummary = "";

  function readMeta() {
    var meta = region.querySelector("[data-summary]");
    if (!meta) { return; }
    var text = meta.getAttribute("data-summary");
    if (summary && text !== lastSummary) {
      if (lastSummary) { summary.textContent = text; }  // announce changes, not the first state
      lastSummary = text;
    }
    if (updated) { updated.textContent = meta.getAttribute("data-updated"); }
  }

  function refresh() {
    if (paused || document.hidden || region.contains(document.activeElement)) { return; }
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (paused || region.contains(document.activeElement)) { return; }
        region.innerHTML = html;
        readMeta();
      })
      .catch(function () { /* keep the last tables; the next tick retries */ });
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      paused = !paused;
      // A toggle button keeps its name; its state is aria-pressed (and the line below).
      toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      if (updated) {
        updated.textContent = paused ? toggle.getAttribute("data-label-paused") : "";
      }
      if (!paused) { refresh(); }
    });
  }
  readMeta();
  setInterval(refresh, interval);
})();
