// Co-browsing, agent side: the socket, the status, and the replay of the citizen's page. The
// replay runs in its own document (cobrowse:player), embedded `credentialless` (nothing in it
// is loaded with the agent's cookies) under a strict CSP, in which rrweb rebuilds the page in a
// script-less iframe. This page hands it the (server-scrubbed) events by postMessage and gets
// back the page size and the agent's pointer and highlight: a transparent layer above the
// replay turns mouse moves into "pointer" and clicks into "highlight". Those two (and "end")
// are the only messages this page can send; the server refuses others.
// The viewer page mounts itself; the agent workstation mounts the same viewer in its dialog
// (window.GuichetCobrowseAgent.mount(root)) and ends the session when the dialog closes.
(function () {
  "use strict";

  function mount(root) {
  if (!root || root.dataset.live !== "true" || !window.WebSocket || root.guichetCobrowse) { return null; }
  var ORIGIN = window.location.origin;

  var stage = root.querySelector("#cobrowse-stage");
  var statusBox = root.querySelector("#cobrowse-status");
  var endForm = root.querySelector("#cobrowse-end-form");
  var pageLabel = root.querySelector("[data-cobrowse-page]");
  var empty = stage.querySelector("[data-cobrowse-empty]");

  var socket = null;
  var retries = 0;
  var ended = false;
  var player = null;      // the replay's iframe (cobrowse:player)
  var playerReady = false;
  var queue = [];         // events that arrived before the player was ready
  var size = { width: 0, height: 0 };

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
      case "rrweb": (message.events || []).forEach(addEvent); flush(); break;
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

  // --- replay (in the player document) ---------------------------------------------------
  function addEvent(event) {
    if (!player) {
      // A replay starts from a page description (meta) followed by its full snapshot.
      if (!event || (event.type !== 4 && event.type !== 2)) { return; }
      start();
    }
    if (event.type === 4 && event.data && event.data.href) {
      try { pageLabel.textContent = new URL(event.data.href).pathname; } catch (e) { pageLabel.textContent = "—"; }
    }
    if (event.type === 2) { setStatus(root.dataset.msgSharing, "success"); }
    queue.push(event);
  }

  function flush() {
    if (player && playerReady && queue.length) {
      player.contentWindow.postMessage({ type: "events", events: queue }, ORIGIN);
      queue = [];
    }
  }

  function start() {
    if (empty) { empty.hidden = true; }
    stage.setAttribute("data-state", "live");
    player = document.createElement("iframe");
    // No cookies for this document nor for anything it loads (Chromium); its CSP limits what it
    // may load to Guichet's static files either way.
    player.setAttribute("credentialless", "");
    player.setAttribute("referrerpolicy", "no-referrer");
    player.setAttribute("title", root.dataset.msgFrameTitle);
    player.className = "guichet-cobrowse-player";
    player.src = root.dataset.playerSrc;
    stage.appendChild(player);
  }

  window.addEventListener("message", function (event) {
    if (!player || event.source !== player.contentWindow || event.origin !== ORIGIN) { return; }
    var message = event.data;
    if (!message || typeof message !== "object") { return; }
    if (message.type === "ready") {
      playerReady = true;
      flush();
    } else if (message.type === "resize") {
      size = { width: Number(message.width) || 0, height: Number(message.height) || 0 };
      fit();
    } else if (message.type === "pointer") {
      send({ type: "pointer", node: message.node, x: message.x, y: message.y });
    } else if (message.type === "highlight") {
      send({ type: "highlight", node: message.node });
      setStatus(root.dataset.msgHighlight, "success");
    }
  });

  function fit() {
    if (!player || !size.width) { return; }
    var available = stage.parentNode.clientWidth;
    var scale = Math.min(1, available / size.width);
    stage.style.width = Math.round(size.width * scale) + "px";
    stage.style.height = Math.round(size.height * scale) + "px";
    player.style.width = stage.style.width;
    player.style.height = stage.style.height;
    player.contentWindow.postMessage({ type: "scale", scale: scale }, ORIGIN);
  }

  function teardown() {
    if (player && player.parentNode) { player.parentNode.removeChild(player); }
    player = null;
    playerReady = false;
    queue = [];
    size = { width: 0, height: 0 };
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
    // The ended viewer offers « ce qu'il faut retenir » (reloaded from the server).
    var trace = root.querySelector("[data-cobrowse-trace]");
    if (trace) { trace.hidden = false; }
    setStatus(root.dataset.msgEnded + (label ? " : " + label.toLowerCase() : "") + ".", "info");
    if (socket && socket.readyState === WebSocket.OPEN) { socket.close(1000); }
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

  connect();
  root.guichetCobrowse = {
    // Leaving the view ends the session (the citizen sees it end at once).
    stop: function () {
      if (ended) { return; }
      send({ type: "end" });
      finish();
    }
  };
  return root.guichetCobrowse;
  }

  window.GuichetCobrowseAgent = { mount: mount };
  mount(document.getElementById("cobrowse-viewer"));
})();
