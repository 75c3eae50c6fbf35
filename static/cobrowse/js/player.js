// Co-browsing, the replay's own document (cobrowse:player). The agent's viewer embeds it in a
// `credentialless` iframe: whatever loads in here goes without the agent's cookies. Its CSP
// allows our two scripts, Guichet's style sheets and static files, data: images, nothing else.
// rrweb rebuilds the citizen's page in its own iframe below (sandboxed, no scripts). This
// document only talks to the viewer that embeds it, by postMessage: it receives the (already
// scrubbed) rrweb events and sends back the page size and the agent's pointer and highlight.
(function () {
  "use strict";

  var root = document.getElementById("cobrowse-player");
  if (!root || window.parent === window) { return; }
  var ORIGIN = window.location.origin;
  var BUFFER_MS = 150;        // replay delay absorbing network jitter
  var POINTER_EVERY_MS = 30;  // at most ~33 pointer messages per second

  var Replayer = null;
  var replayer = null;
  var layer = null;
  var mark = null;
  var scale = 1;
  var size = { width: 0, height: 0 };
  var lastSent = 0;
  var pendingPointer = null;
  var pointerTimer = null;

  function post(message) { window.parent.postMessage(message, ORIGIN); }

  function addEvent(event) {
    if (!event || typeof event !== "object") { return; }
    if (!replayer) {
      // A replay starts from a page description (meta) followed by its full snapshot.
      if (event.type !== 4 && event.type !== 2) { return; }
      start(event.timestamp);
    }
    replayer.addEvent(event);
  }

  function start(timestamp) {
    replayer = new Replayer([], {
      root: root,
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
      post({ type: "resize", width: size.width, height: size.height });
      applyScale();
    });
    replayer.startLive(timestamp - BUFFER_MS);
    layer = document.createElement("div");
    layer.className = "cobrowse-player__layer";
    mark = document.createElement("div");
    mark.className = "cobrowse-player__mark";
    mark.hidden = true;
    layer.appendChild(mark);
    root.appendChild(layer);
    layer.addEventListener("mousemove", onMove);
    layer.addEventListener("click", onClick);
    layer.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  }

  function applyScale() {
    if (!replayer || !size.width) { return; }
    replayer.wrapper.style.transform = "scale(" + scale + ")";
    replayer.wrapper.style.transformOrigin = "0 0";
    layer.style.width = Math.round(size.width * scale) + "px";
    layer.style.height = Math.round(size.height * scale) + "px";
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
    post(pendingPointer);
    pendingPointer = null;
  }

  function onClick(event) {
    event.preventDefault();
    var target = targetAt(event);
    if (!target) { return; }
    post({ type: "highlight", node: target.node });
    // Show the agent what the citizen now sees highlighted.
    mark.style.transform = "translate(" + Math.round(target.rect.left * scale - 4) + "px," + Math.round(target.rect.top * scale - 4) + "px)";
    mark.style.width = Math.round(target.rect.width * scale + 8) + "px";
    mark.style.height = Math.round(target.rect.height * scale + 8) + "px";
    mark.hidden = false;
    window.setTimeout(function () { mark.hidden = true; }, 4000);
  }

  window.addEventListener("message", function (event) {
    // Only the viewer that embeds this document may feed it.
    if (event.source !== window.parent || event.origin !== ORIGIN) { return; }
    var message = event.data;
    if (!message || typeof message !== "object") { return; }
    if (message.type === "events" && Array.isArray(message.events) && Replayer) {
      message.events.forEach(addEvent);
    } else if (message.type === "scale" && typeof message.scale === "number" && message.scale > 0) {
      scale = Math.min(1, message.scale);
      applyScale();
    }
  });

  import(root.dataset.replaySrc).then(function (module) {
    Replayer = module.Replayer;
    post({ type: "ready" });
  });
})();
