// Agent presence: opens ws/presence/, sends a heartbeat every 20 s, reconnects with backoff,
// keeps the status widget in sync and announces newly assigned cases. No inline script (CSP).
// Other scripts can listen to "routing:case-assigned" / "routing:case-unassigned" on document.
(function () {
  "use strict";
  if (window.guichetPresenceStarted) { return; }  // included twice on a page: one socket
  // Only agents are present (the socket refuses others with 4403): supervisors and admins
  // browsing the console open no socket.
  if (!document.body || document.body.getAttribute("data-user-role") !== "agent") { return; }
  window.guichetPresenceStarted = true;
  var HEARTBEAT_MS = 20000;
  var socket = null;
  var timer = null;
  var retry = 0;

  function widget() { return document.querySelector("[data-routing-presence]"); }

  function label(code) {
    var w = widget();
    return (w && w.getAttribute("data-label-" + code)) || code;
  }

  function announce(text) {
    var w = widget();
    var region = w && w.querySelector("[data-routing-announce]");
    if (region) { region.textContent = text; }
  }

  function showConnection(lost) {
    var w = widget();
    var line = w && w.querySelector("[data-routing-connection]");
    if (!line) { return; }
    line.hidden = !lost;
    line.textContent = lost ? label("lost") : "";
  }

  function setStatus(status) {
    var w = widget();
    if (!w) { return; }
    var select = w.querySelector("select[name=status]");
    // A choice the agent made but has not submitted yet is theirs: a status pushed meanwhile
    // (e.g. the snapshot the socket sends on connecting) only updates the badge.
    if (select && select.value !== status && !w.hasAttribute("data-routing-pending")) {
      select.value = status;
    }
    var badge = w.querySelector("[data-routing-status-badge]");
    if (badge) {
      badge.textContent = label(status);
      badge.className = badge.className.replace(/guichet-status-badge--\w+/, "guichet-status-badge--" + status);
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); }
  }

  function connect() {
    var path = (widget() && widget().getAttribute("data-ws-path")) || "/ws/presence/";
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path);
    socket.addEventListener("open", function () {
      retry = 0;
      showConnection(false);
      clearInterval(timer);
      timer = setInterval(function () { send({ type: "heartbeat" }); }, HEARTBEAT_MS);
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "presence.status") {
        setStatus(data.status);
      } else if (data.type === "case.assigned") {
        announce(label("assigned") + " " + (data.reference || data.case_id));
        document.dispatchEvent(new CustomEvent("routing:case-assigned", { detail: data }));
      } else if (data.type === "workstation.open") {
        document.dispatchEvent(new CustomEvent("routing:workstation-open", { detail: data.item }));
      } else if (data.type === "case.unassigned") {
        document.dispatchEvent(new CustomEvent("routing:case-unassigned", { detail: data }));
      }
    });
    socket.addEventListener("close", function (event) {
      clearInterval(timer);
      var sockets = window.GuichetSockets;
      if (event.code === 4401 && sockets) { sockets.sessionEnded(); return; }
      if (event.code === 4401 || event.code === 4403) { return; }  // not allowed: stop
      showConnection(true);
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, (sockets && sockets.backoff(event.code)) || Math.pow(2, retry) * 500);
    });
  }

  document.addEventListener("change", function (event) {
    var w = widget();
    if (w && event.target && event.target.name === "status" && w.contains(event.target)) {
      w.setAttribute("data-routing-pending", "");
    }
  });

  // htmx swaps the widget after a status change (the new one has no pending choice).
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "routing-status-widget") { showConnection(false); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
