// Live chat button: shown while routing says an agent can take the topic, hidden otherwise
// (the secure message and callback alternatives then show). Listens to ws/availability/;
// falls back to polling the JSON snapshot every 30 s while the socket is down.
(function () {
  "use strict";
  if (window.guichetChatAvailability) { return; }
  window.guichetChatAvailability = true;

  var topics = {};
  var socket = null;
  var retry = 0;
  var poller = null;

  function boxes() { return document.querySelectorAll("[data-chat-availability]"); }

  function render() {
    Array.prototype.forEach.call(boxes(), function (box) {
      var slug = box.getAttribute("data-topic");
      var available = slug ? Boolean(topics[slug]) : Object.keys(topics).some(function (k) { return topics[k]; });
      var on = box.querySelector("[data-when-available]");
      var off = box.querySelector("[data-when-unavailable]");
      var was = on && !on.hidden;
      if (on) { on.hidden = !available; }
      if (off) { off.hidden = available; }
      if (was !== available) {
        var region = box.querySelector("[data-chat-availability-announce]");
        if (region) { region.textContent = region.getAttribute(available ? "data-text-on" : "data-text-off"); }
      }
      box.setAttribute("data-available", available ? "true" : "false");
    });
  }

  function poll() {
    var box = boxes()[0];
    var url = box && box.getAttribute("data-snapshot-url");
    if (!url) { return; }
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.topics) { topics = data.topics; render(); } })
      .catch(function () { /* next poll */ });
  }

  function connect() {
    var box = boxes()[0];
    if (!box) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + (box.getAttribute("data-ws-path") || "/ws/availability/"));
    socket.addEventListener("open", function () {
      retry = 0;
      window.clearInterval(poller);
      poller = null;
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "availability.snapshot") {
        topics = data.topics || {};
        render();
      } else if (data.type === "availability.update") {
        Object.keys(data.topics || {}).forEach(function (slug) { topics[slug] = Boolean(data.topics[slug]); });
        render();
      }
    });
    socket.addEventListener("close", function (event) {
      var sockets = window.GuichetSockets;
      if (event.code === 4401) { if (sockets) { sockets.sessionEnded(); } return; }
      if (!poller) { poller = window.setInterval(poll, 30000); }
      retry = Math.min(retry + 1, 6);
      window.setTimeout(connect, (sockets && sockets.backoff(event.code)) || Math.pow(2, retry) * 500 + Math.random() * 1000);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
