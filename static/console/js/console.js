// Agent console: keep "Mon travail" current without a full reload. No inline script (CSP).
// routing's presence.js dispatches "routing:case-assigned" / "routing:case-unassigned" on
// document when routing gives a case to this agent or takes one back: refresh the list then.
(function () {
  "use strict";
  var pending = null;

  function refreshWork() {
    var region = document.getElementById("work-region");
    if (!region || !window.htmx) { return; }
    // Never pull the list from under someone who is typing in the filters.
    var active = document.activeElement;
    if (active && region.contains(active) && active.tagName === "INPUT" && active.type === "search") {
      return;
    }
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#work-region",
      swap: "innerHTML"
    });
  }

  function schedule() {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () { pending = null; refreshWork(); }, 300);
  }

  document.addEventListener("routing:case-assigned", schedule);
  document.addEventListener("routing:case-unassigned", schedule);
  // Coming back to the tab after a while: the queue has probably moved.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { schedule(); }
  });
})();
