// Agent console: keep "Mon travail" current without a full reload. No inline script (CSP).
// routing's presence.js dispatches "routing:case-assigned" / "routing:case-unassigned" on
// document when routing gives a case to this agent or takes one back: refresh the list then.
(function () {
  "use strict";
  var pending = null;
  // Requests the agent made in the list (filters, tabs, pages). A background refresh carries
  // the count it started at: if the agent acted meanwhile, the refresh's answer is dropped, so
  // that it can neither undo their choice nor detach the form whose answer is on its way.
  var REFRESH_HEADER = "X-Guichet-Refresh";
  var agentRequests = 0;

  function isRefresh(detail) {
    var headers = detail && detail.requestConfig && detail.requestConfig.headers;
    return headers && headers[REFRESH_HEADER] !== undefined ? headers[REFRESH_HEADER] : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var region = document.getElementById("work-region");
    if (region && region.contains(event.target) && isRefresh(event.detail) === null) {
      agentRequests += 1;
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var tag = isRefresh(event.detail);
    if (tag !== null && Number(tag) !== agentRequests) { event.detail.shouldSwap = false; }
  });

  function refreshWork() {
    var region = document.getElementById("work-region");
    if (!region || !window.htmx) { return; }
    // Never pull the list from under someone who is typing in the filters.
    var active = document.activeElement;
    if (active && region.contains(active) && active.tagName === "INPUT" && active.type === "search") {
      return;
    }
    // One of the agent's own requests is on its way: its answer is fresh; look again later.
    if (region.querySelector(".htmx-request") || region.classList.contains("htmx-request")) {
      schedule();
      return;
    }
    var headers = {};
    headers[REFRESH_HEADER] = String(agentRequests);
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#work-region",
      swap: "innerHTML",
      headers: headers
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
