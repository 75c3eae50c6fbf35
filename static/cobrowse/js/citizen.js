// Co-browsing, citizen side (every page of the personal space; no inline script, CSP-safe).
//
// One websocket per page: presence (so an agent can invite), invitations and consent, then,
// only after « Accepter », the page recorded with rrweb (inputs masked, [data-cobrowse-mask]
// blocked) and sent to the agent. From the agent this page applies ONLY a pointer and a
// highlight: it never clicks, types, scrolls or navigates for them, whatever arrives.
(function () {
  "use strict";

  var root = document.getElementById("cobrowse-citizen");
  if (!root || !window.WebSocket || !window.sessionStorage) { return; }

  var STORAGE_KEY = "guichet.cobrowse.session";
  var CHUNK_CHARS = 160000;      // < 1 MB per frame even if every character needed 6 bytes
  var FLUSH_MS = 40;             // batch rrweb events: one frame per 40 ms at most
  var POINTER_IDLE_MS = 8000;    // hide the agent's pointer after this long without news
  var HIGHLIGHT_MS = 4000;
  var PING_MS = 25000;
  // Close codes after which resuming would fail the same way (docs/cobrowse.md).
  var NO_RESUME = { 4400: true, 4413: true, 4428: true };
  var NO_RECONNECT = { 4401: true, 4403: true };

  var $ = function (selector) { return root.querySelector(selector); };
  // The entry point is in the page flow, outside the root (cobrowse/_citizen_entry.html).
  var entry = document.getElementById("cobrowse-entry-button");
  var offerButton = document.getElementById("cobrowse-offer-button");
  var codeModal = $("#cobrowse-modal");
  var consentModal = $("#cobrowse-consent");
  var offerText = $("[data-cobrowse-offer-text]");
  var banner = $("#cobrowse-banner");
  var who = $("[data-cobrowse-who]");
  var announcer = document.getElementById("cobrowse-announce");
  var pointer = $(".guichet-cobrowse-pointer");
  var pointerLabel = $(".guichet-cobrowse-pointer__label");
  var highlight = $(".guichet-cobrowse-highlight");

  var socket = null;
  var retries = 0;
  var pingTimer = null;
  var pendingOffer = null;
  var sessionId = sessionStorage.getItem(STORAGE_KEY);
  var sharing = false;
  var agentName = "";
  var serviceName = "";
  var stopRecorder = null;
  var queue = [];
  var flushTimer = null;
  var chunkId = 0;
  var pointerState = null;
  var pointerTimer = null;
  var highlightState = null;
  var highlightTimer = null;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key] || ""; });
  }

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function modal(element, open) {
    if (window.dsfr) {
      try {
        var instance = window.dsfr(element).modal;
        if (open) { instance.disclose(); } else { instance.conceal(); }
        return;
      } catch (e) { /* DSFR not initialised yet: fall back to the dialog element */ }
    }
    if (open && !element.open) { element.showModal(); element.classList.add("fr-modal--opened"); }
    if (!open && element.open) { element.close(); element.classList.remove("fr-modal--opened"); }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // --- connection ---------------------------------------------------------------------------
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    socket.addEventListener("open", function () {
      retries = 0;
      if (sessionId) { send({ type: "resume", session: sessionId }); }
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(function () { send({ type: "ping" }); }, PING_MS);
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && typeof message.type === "string") { handle(message); }
    });
    socket.addEventListener("close", function (event) {
      window.clearInterval(pingTimer);
      halt();
      if (NO_RESUME[event.code]) {
        finish(event.code === 4413 ? root.dataset.msgTooLarge : root.dataset.msgEnded);
      }
      var sockets = window.GuichetSockets;
      if (event.code === 4401 && sockets) { sockets.sessionEnded(); }
      if (NO_RECONNECT[event.code]) { return; }
      var delay = (sockets && sockets.backoff(event.code)) || Math.min(30000, 500 * Math.pow(2, retries++));
      window.setTimeout(connect, delay);
    });
  }

  function handle(message) {
    switch (message.type) {
      case "offer": return showOffer(message);
      case "offer_closed": return offerClosed(message);
      case "started": return started(message);
      case "ended":
        if (message.session === sessionId) { finish(root.dataset.msgEnded); }
        return;
      case "replaced":
        if (message.session === sessionId) { finish(root.dataset.msgReplaced); }
        return;
      case "snapshot":
        if (stopRecorder && rrweb) { rrweb.record.takeFullSnapshot(true); }
        return;
      case "peer":
        if (message.role === "agent") { describeAgent(message.present); }
        return;
      case "pointer": return showPointer(message);
      case "highlight": return showHighlight(message);
      default: return; // nothing else from the agent is ever applied to this page
    }
  }

  // --- invitation and consent --------------------------------------------------------------
  function showOffer(message) {
    if (sharing) { return; }
    pendingOffer = message;
    offerText.textContent = fill(root.dataset.msgOffer, { agent: message.agent, service: message.service });
    modal(codeModal, false);
    offerButton.hidden = false;
    modal(consentModal, true);
  }

  function offerClosed(message) {
    var codeBox = document.querySelector("[data-cobrowse-code-session]");
    if (codeBox && codeBox.getAttribute("data-cobrowse-code-session") === message.session) {
      var status = codeBox.querySelector("[data-cobrowse-code-status]");
      if (message.reason === "expired" && status) { status.textContent = root.dataset.msgExpired; }
    }
    if (pendingOffer && pendingOffer.session === message.session) {
      pendingOffer = null;
      offerButton.hidden = true;
      modal(consentModal, false);
      if (message.reason === "declined") { announce(root.dataset.msgDeclined); }
    }
  }

  $("#cobrowse-accept").addEventListener("click", function () {
    if (pendingOffer) { send({ type: "accept", session: pendingOffer.session }); }
    modal(consentModal, false);
  });

  $("#cobrowse-decline").addEventListener("click", function () {
    if (pendingOffer) { send({ type: "decline", session: pendingOffer.session }); }
    pendingOffer = null;
    offerButton.hidden = true;
    modal(consentModal, false);
    announce(root.dataset.msgDeclined);
  });

  // --- sharing ------------------------------------------------------------------------------
  function started(message) {
    pendingOffer = null;
    offerButton.hidden = true;
    sessionId = message.session;
    sessionStorage.setItem(STORAGE_KEY, sessionId);
    sharing = true;
    agentName = message.agent || "";
    serviceName = message.service || "";
    pointerLabel.textContent = agentName;
    describeAgent(message.agent_present !== false);
    entry.hidden = true;
    banner.hidden = false;
    document.body.classList.add("guichet-cobrowse-sharing");
    record();
  }

  function describeAgent(present) {
    who.textContent = present
      ? fill(root.dataset.msgWho, { agent: agentName, service: serviceName })
      : root.dataset.msgAgentAway;
  }

  // @rrweb/record's ES module build, loaded on the first « Accepter » only (script-src 'self').
  var rrweb = null;
  function loadRecorder(callback) {
    if (rrweb) { callback(); return; }
    import(root.dataset.recordSrc).then(function (module) {
      rrweb = module;
      callback();
    }).catch(function () {
      // Without the recorder nothing can be shown to the agent: end rather than pretend.
      send({ type: "end", session: sessionId });
      finish(root.dataset.msgEnded);
    });
  }

  function record() {
    loadRecorder(function () {
      if (!sharing || stopRecorder) { return; }
      send({ type: "page", path: window.location.pathname });
      stopRecorder = rrweb.record({
        emit: function (event) {
          queue.push(event);
          // The first snapshot goes at once; the rest is batched.
          if (event.type === 2) { flush(); } else if (!flushTimer) { flushTimer = window.setTimeout(flush, FLUSH_MS); }
        },
        maskAllInputs: true,
        blockSelector: "[data-cobrowse-mask], [data-cobrowse-overlay]",
        // Style sheets are public static files: the agent's browser loads them by URL
        // rather than receiving them (the DSFR alone is 700 KB).
        inlineStylesheet: false,
        inlineImages: false,
        recordCanvas: false,
        collectFonts: false,
        recordCrossOriginIframes: false,
        slimDOMOptions: "all",
        sampling: { mousemove: 50, scroll: 100, media: 800 }
      }) || null;
    });
  }

  function flush() {
    window.clearTimeout(flushTimer);
    flushTimer = null;
    if (!queue.length) { return; }
    if (!sharing) { queue = []; return; }
    var text = JSON.stringify({ type: "rrweb", events: queue });
    queue = [];
    if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
    if (text.length <= CHUNK_CHARS) { socket.send(text); return; }
    var id = ++chunkId;
    var total = Math.ceil(text.length / CHUNK_CHARS);
    for (var i = 0; i < total; i++) {
      socket.send(JSON.stringify({
        type: "chunk", id: id, index: i, total: total,
        data: text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS)
      }));
    }
  }

  // Stop recording now (nothing more leaves the page); the session may resume on reconnect.
  function halt() {
    if (stopRecorder) { stopRecorder(); }
    stopRecorder = null;
    window.clearTimeout(flushTimer);
    flushTimer = null;
    queue = [];
  }

  function finish(text) {
    halt();
    var wasSharing = sharing || sessionId;
    sharing = false;
    sessionId = null;
    sessionStorage.removeItem(STORAGE_KEY);
    banner.hidden = true;
    entry.hidden = false;
    document.body.classList.remove("guichet-cobrowse-sharing");
    hidePointer();
    hideHighlight();
    if (wasSharing && text) { announce(text); }
  }

  $("#cobrowse-stop").addEventListener("click", function () {
    var ending = sessionId;
    halt();
    send({ type: "end", session: ending });
    // Also over HTTP, so that the session ends even if the socket is down right now.
    var token = "";
    try { token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { token = ""; }
    if (window.fetch) {
      window.fetch(root.dataset.endUrl, {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "X-CSRFToken": token, "X-Requested-With": "fetch" }
      }).catch(function () { /* the socket message did it */ });
    }
    finish(root.dataset.msgEnded);
  });

  offerButton.addEventListener("click", function () {
    if (pendingOffer) { modal(consentModal, true); }
  });

  // --- the agent's pointer and highlight: drawn, never acted upon ------------------------------
  function elementFor(nodeId) {
    if (!rrweb || !stopRecorder) { return null; }
    var node = rrweb.record.mirror.getNode(nodeId);
    if (node && node.nodeType !== 1) { node = node.parentElement; }
    if (!node || node.nodeType !== 1 || !document.documentElement.contains(node)) { return null; }
    return node;
  }

  function placePointer() {
    if (!pointerState) { return; }
    var rect = pointerState.element.getBoundingClientRect();
    var left = rect.left + pointerState.x * rect.width;
    var top = rect.top + pointerState.y * rect.height;
    pointer.style.transform = "translate(" + Math.round(left) + "px," + Math.round(top) + "px)";
    pointer.hidden = false;
    return { left: left, top: top };
  }

  function showPointer(message) {
    if (!sharing) { return; }
    var element = elementFor(message.node);
    if (!element) { hidePointer(); return; }
    pointerState = { element: element, x: Number(message.x) || 0, y: Number(message.y) || 0 };
    var at = placePointer();
    window.clearTimeout(pointerTimer);
    pointerTimer = window.setTimeout(hidePointer, POINTER_IDLE_MS);
    document.dispatchEvent(new CustomEvent("cobrowse:pointer", {
      detail: { node: message.node, x: pointerState.x, y: pointerState.y, left: at.left, top: at.top }
    }));
  }

  function hidePointer() {
    pointerState = null;
    pointer.hidden = true;
  }

  function placeHighlight() {
    if (!highlightState) { return; }
    var rect = highlightState.getBoundingClientRect();
    highlight.style.transform = "translate(" + Math.round(rect.left - 4) + "px," + Math.round(rect.top - 4) + "px)";
    highlight.style.width = Math.round(rect.width + 8) + "px";
    highlight.style.height = Math.round(rect.height + 8) + "px";
    highlight.hidden = false;
  }

  function showHighlight(message) {
    if (!sharing) { return; }
    var element = elementFor(message.node);
    if (!element) { return; }
    highlightState = element;
    placeHighlight();
    window.clearTimeout(highlightTimer);
    highlightTimer = window.setTimeout(hideHighlight, HIGHLIGHT_MS);
    var label = (element.getAttribute("aria-label") || element.textContent || "").replace(/\s+/g, " ").trim().slice(0, 80);
    announce(fill(root.dataset.msgShows, { agent: agentName, target: label }));
    document.dispatchEvent(new CustomEvent("cobrowse:highlight", { detail: { node: message.node } }));
  }

  function hideHighlight() {
    highlightState = null;
    highlight.hidden = true;
  }

  function follow() { placePointer(); placeHighlight(); }
  window.addEventListener("scroll", follow, { passive: true, capture: true });
  window.addEventListener("resize", follow, { passive: true });

  // When the page goes away the socket closes; the next page of this tab resumes the session.
  window.addEventListener("pagehide", function () { halt(); });

  if (sessionId) {
    // Avoid a flash: the banner stays until the server says the session is over.
    banner.hidden = false;
    entry.hidden = true;
  }
  connect();
})();
