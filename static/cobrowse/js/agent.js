// Co-browsing, agent side: live replay of the citizen's page (rrweb, live mode) and the agent's
// pointer and highlight gestures. The replay iframe is sandboxed and never receives events: a
// transparent layer above it turns mouse moves into "pointer" and clicks into "highlight".
// Those two (and "end") are the only messages this page can send; the server refuses others.
(function () {
  "use strict";

  var root = document.getElementById("cobrowse-viewer");
  if (!root || root.dataset.live !== "true" || !window.WebSocket) { return; }
  var Replayer = null; // @rrweb/replay's ES module build, imported below (script-src 'self')

  var BUFFER_MS = 150;        // replay delay absorbing network jitter
  var POINTER_EVERY_MS = 30;  // at most ~33 pointer messages per second

  var stage = document.getElementById("cobrowse-stage");
  var statusBox = document.getElementById("cobrowse-status");
  var endForm = document.getElementById("cobrowse-end-form");
  var pageLabel = root.querySelector("[data-cobrowse-page]");
  var empty = stage.querySelector("[data-cobrowse-empty]");

  var socket = null;
  var retries = 0;
  var ended = false;
  var replayer = null;
  var layer = null;
  var mark = null;
  var scale = 1;
  var size = { width: 0, height: 0 };
  var lastSent = 0;
  var pendingPointer = null;
  var pointerTimer = null;

  function setStatus(text, kind) {
    statusBox.className = "fr-alert fr-alert--sm fr-mb-2w fr-alert--" + (kind || "info");
    statusBox.querySelector("p").textContent = text;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
    socket.addEventListener("open", function () { retries = 0; });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    });
    socket.addEventListener("close", function (event) {
      if (ended) { return; }
      if (event.code === 4000) { finish(); return; }
      if (event.code === 4409) { setStatus(root.dataset.msgReplaced, "warning"); teardown(); return; }
      var sockets = window.GuichetSockets;
      if (event.code === 4401 && sockets) { finish(); sockets.sessionEnded(); return; }
      if (event.code === 4401 || event.code === 4403 || event.code === 4404) { finish(); return; }
      setStatus(root.dataset.msgReconnecting, "warning");
      teardown(); // a fresh snapshot comes with the new connection
      window.setTimeout(connect, (sockets && sockets.backoff(event.code)) || Math.min(15000, 500 * Math.pow(2, retries++)));
    });
  }

  function handle(message) {
    switch (message.type) {
      case "waiting": setStatus(root.dataset.msgWaiting); break;
      case "accepted":
      case "active": setStatus(root.dataset.msgActive, "success"); break;
      case "rrweb": (message.events || []).forEach(addEvent); break;
      case "peer":
        if (message.role === "citizen") {
          setStatus(message.present ? root.dataset.msgCitizenBack : root.dataset.msgCitizenAway,
                    message.present ? "success" : "warning");
        }
        break;
      case "ended": finish(message.label); break;
      case "replaced": setStatus(root.dataset.msgReplaced, "warning"); teardown(); break;
      default: break;
    }
  }

  // --- replay -------------------------------------------------------------------------------
  function addEvent(event) {
    if (!replayer) {
      // A replay starts from a page description (meta) followed by its full snapshot.
      if (event.type !== 4 && event.type !== 2) { return; }
      start(event.timestamp);
    }
    if (event.type === 4 && event.data && event.data.href) {
      try { pageLabel.textContent = new URL(event.data.href).pathname; } catch (e) { pageLabel.textContent = "—"; }
    }
    if (event.type === 2) { setStatus(root.dataset.msgSharing, "success"); }
    replayer.addEvent(event);
  }

  function start(timestamp) {
    if (empty) { empty.hidden = true; }
    stage.setAttribute("data-state", "live");
    replayer = new Replayer([], {
      root: stage,
      liveMode: true,
      mouseTail: false,
      triggerFocus: false,
      pauseAnimation: false,
      showWarning: false,
      UNSAFE_replayCanvas: false,
      // The citizen page's own co-browsing overlay must not show up in the replay.
      insertStyleRules: [".guichet-cobrowse-overlay { display: none !important; }"]
    });
    replayer.iframe.setAttribute("title", root.dataset.msgFrameTitle);
    replayer.on("resize", function (dimension) {
      size = { width: dimension.width, height: dimension.height };
      fit();
    });
    replayer.startLive(timestamp - BUFFER_MS);
    layer = document.createElement("div");
    layer.className = "guichet-cobrowse-layer";
    layer.setAttribute("data-cobrowse-layer", "");
    mark = document.createElement("div");
    mark.className = "guichet-cobrowse-mark";
    mark.hidden = true;
    layer.appendChild(mark);
    stage.appendChild(layer);
    layer.addEventListener("mousemove", onMove);
    layer.addEventListener("click", onClick);
    layer.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  }

  function fit() {
    if (!replayer || !size.width) { return; }
    var available = stage.parentNode.clientWidth;
    scale = Math.min(1, available / size.width);
    replayer.wrapper.style.transform = "scale(" + scale + ")";
    replayer.wrapper.style.transformOrigin = "0 0";
    stage.style.width = Math.round(size.width * scale) + "px";
    stage.style.height = Math.round(size.height * scale) + "px";
    layer.style.width = stage.style.width;
    layer.style.height = stage.style.height;
  }

  function teardown() {
    if (replayer) {
      try { replayer.destroy(); } catch (e) { /* already gone */ }
    }
    replayer = null;
    if (layer && layer.parentNode) { layer.parentNode.removeChild(layer); }
    layer = null;
    stage.style.width = "";
    stage.style.height = "";
    stage.setAttribute("data-state", "waiting");
    if (empty) { empty.hidden = false; }
  }

  function finish(label) {
    ended = true;
    teardown();
    stage.setAttribute("data-state", "ended");
    if (empty) { empty.hidden = true; }
    if (endForm) { endForm.hidden = true; }
    setStatus(root.dataset.msgEnded + (label ? " : " + label.toLowerCase() : "") + ".", "info");
    if (socket && socket.readyState === WebSocket.OPEN) { socket.close(1000); }
  }

  // --- pointer: element under the mouse in the replay + offset inside it (0..1) -------------
  function targetAt(event) {
    if (!replayer || !replayer.iframe.contentDocument) { return null; }
    var box = layer.getBoundingClientRect();
    var x = (event.clientX - box.left) / scale;
    var y = (event.clientY - box.top) / scale;
    var doc = replayer.iframe.contentDocument;
    var element = doc.elementFromPoint(x, y);
    var mirror = replayer.getMirror();
    while (element && mirror.getId(element) < 1) { element = element.parentElement; }
    if (!element) { return null; }
    var rect = element.getBoundingClientRect();
    var clamp = function (v) { return Math.max(0, Math.min(1, v)); };
    return {
      node: mirror.getId(element),
      x: rect.width ? clamp((x - rect.left) / rect.width) : 0,
      y: rect.height ? clamp((y - rect.top) / rect.height) : 0,
      rect: rect
    };
  }

  function onMove(event) {
    var target = targetAt(event);
    if (!target) { return; }
    pendingPointer = { type: "pointer", node: target.node, x: target.x, y: target.y };
    var wait = POINTER_EVERY_MS - (Date.now() - lastSent);
    if (wait <= 0) { flushPointer(); } else if (!pointerTimer) { pointerTimer = window.setTimeout(flushPointer, wait); }
  }

  function flushPointer() {
    window.clearTimeout(pointerTimer);
    pointerTimer = null;
    if (!pendingPointer) { return; }
    lastSent = Date.now();
    send(pendingPointer);
    pendingPointer = null;
  }

  function onClick(event) {
    event.preventDefault();
    var target = targetAt(event);
    if (!target) { return; }
    send({ type: "highlight", node: target.node });
    // Show the agent what the citizen now sees highlighted.
    mark.style.transform = "translate(" + Math.round(target.rect.left * scale - 4) + "px," + Math.round(target.rect.top * scale - 4) + "px)";
    mark.style.width = Math.round(target.rect.width * scale + 8) + "px";
    mark.style.height = Math.round(target.rect.height * scale + 8) + "px";
    mark.hidden = false;
    window.setTimeout(function () { mark.hidden = true; }, 4000);
    setStatus(root.dataset.msgHighlight, "success");
  }

  window.addEventListener("resize", fit);

  if (endForm) {
    endForm.addEventListener("submit", function (event) {
      if (socket && socket.readyState === WebSocket.OPEN) {
        event.preventDefault();
        send({ type: "end" });
      }
    });
  }

  import(root.dataset.replaySrc).then(function (module) {
    Replayer = module.Replayer;
    connect();
  });
})();
