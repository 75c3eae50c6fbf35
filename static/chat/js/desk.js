// Agent chat workspace: conversations side by side, unread counters, sound and visual alerts.
// Newly assigned chats arrive over ws/tchat/agent/ (routing's "case.assigned"); each panel is
// a ChatClient (chat.js). The alert sound is generated with WebAudio (no audio file).
(function () {
  "use strict";
  var desk = document.querySelector("[data-chat-desk]");
  if (!desk || !window.GuichetChat) { return; }
  var t = window.GuichetChat.strings;
  var panels = desk.querySelector("[data-chat-desk-panels]");
  var empty = desk.querySelector("[data-chat-desk-empty]");
  var announcer = desk.querySelector("[data-chat-desk-announce]");
  var connection = desk.querySelector("[data-chat-desk-connection]");
  var sound = desk.querySelector("[data-chat-sound]");
  var panelUrl = desk.getAttribute("data-panel-url");
  var baseTitle = document.title;
  var retry = 0;
  var loading = {};

  // --- alerts -------------------------------------------------------------------------------

  var alertSound = window.GuichetAlertSound(sound);
  function beep(high) { alertSound.beep(high); }

  function announce(text) {
    if (!announcer) { return; }
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function flash(panel) {
    panel.classList.remove("chat-panel--alert");
    void panel.offsetWidth;  // restart the animation
    panel.classList.add("chat-panel--alert");
  }

  function updateTitle() {
    var total = 0;
    Array.prototype.forEach.call(panels.querySelectorAll("[data-chat]"), function (panel) {
      if (panel.guichetChat) { total += panel.guichetChat.unread; }
    });
    document.title = total ? "(" + total + ") " + baseTitle : baseTitle;
  }

  function refreshEmpty() {
    if (empty) { empty.hidden = panels.querySelector("[data-chat]") !== null; }
  }

  // --- panels -------------------------------------------------------------------------------

  var hooks = {
    isAttended: function (client) {
      return document.hasFocus() && client.root.contains(document.activeElement);
    },
    onUnread: function (client, count) {
      var badge = client.root.querySelector("[data-chat-unread]");
      if (badge) {
        badge.hidden = count === 0;
        badge.textContent = count ? t("unread", { count: count }) : "";
      }
      updateTitle();
    },
    onIncoming: function (client, message) {
      if (hooks.isAttended(client)) { return; }
      beep(false);
      flash(client.root);
      var title = client.root.querySelector("h2");
      announce(t("new_message") + (title ? " : " + title.textContent.trim() : ""));
    },
    onClosed: function (client, code) {
      if (code === 4410) { removePanel(client.root, t("transferred")); }
    }
  };

  function mount(panel) {
    window.GuichetChat.mount(panel, hooks);
    refreshEmpty();
  }

  function removePanel(panel, message) {
    if (!panel || !panel.parentNode) { return; }
    if (panel.guichetChat) { panel.guichetChat.stop(); }
    var hadFocus = panel.contains(document.activeElement);
    panel.remove();
    announce(message);
    refreshEmpty();
    updateTitle();
    if (hadFocus) {
      var next = panels.querySelector("[data-chat] textarea") || document.getElementById("contenu");
      if (next) { next.focus(); }
    }
  }

  function loadPanel(id, alert) {
    if (document.getElementById("tchat-" + id) || loading[id]) { return; }
    loading[id] = true;
    window.fetch(panelUrl.replace("/0/", "/" + id + "/"), {
      credentials: "same-origin",
      headers: { "HX-Request": "true" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      if (document.getElementById("tchat-" + id)) { return; }
      var template = document.createElement("template");
      template.innerHTML = html.trim();
      var panel = template.content.querySelector("[data-chat]");
      if (!panel) { return; }
      panels.appendChild(panel);
      if (window.htmx) { window.htmx.process(panel); }
      mount(panel);
      if (alert) {
        beep(true);
        flash(panel);
        var title = panel.querySelector("h2");
        announce(t("new_chat") + (title ? " : " + title.textContent.trim() : ""));
      }
    }).catch(function () { /* the desk frame on reconnection retries */ }).then(function () {
      delete loading[id];
    });
  }

  Array.prototype.forEach.call(panels.querySelectorAll("[data-chat]"), mount);

  document.addEventListener("htmx:afterSettle", function () {
    Array.prototype.forEach.call(desk.querySelectorAll("[data-chat-finished]"), function (node) {
      removePanel(node.closest("[data-chat]"), t("finished"));
    });
    Array.prototype.forEach.call(desk.querySelectorAll("[data-chat-transferred]"), function (node) {
      removePanel(node.closest("[data-chat]"), t("transferred"));
    });
  });

  window.addEventListener("focus", function () { updateTitle(); });

  // --- desk socket --------------------------------------------------------------------------

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + desk.getAttribute("data-ws-path"));
    var pinger = null;
    socket.addEventListener("open", function () {
      retry = 0;
      if (connection) { connection.hidden = true; connection.textContent = ""; }
      pinger = window.setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "ping" })); }
      }, 25000);
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "desk") {
        (data.conversations || []).forEach(function (id) { loadPanel(id, false); });
      } else if (data.type === "assigned") {
        loadPanel(data.conversation, true);
      }
    });
    socket.addEventListener("close", function (event) {
      window.clearInterval(pinger);
      var sockets = window.GuichetSockets;
      if (event.code === 4401 && sockets) { sockets.sessionEnded(); return; }
      if (event.code === 4401 || event.code === 4403) { return; }
      if (connection) { connection.hidden = false; connection.textContent = t("lost"); }
      retry = Math.min(retry + 1, 5);
      window.setTimeout(connect, (sockets && sockets.backoff(event.code)) || Math.pow(2, retry) * 500 + Math.random() * 500);
    });
  }
  connect();
})();
