// Guichet live chat client (citizen page, agent panels, supervisor observation).
// No inline script (CSP): strings come from <script type="application/json" id="chat-strings">,
// settings from data-* attributes. Message text is always inserted with textContent.
//
// Reliability: every message carries a client id; unsent messages are kept in sessionStorage
// (an outbox) and resent after a reconnection or a page reload: the server stores a client id
// once. On every (re)connection the client sends the last sequence number it holds and
// receives what it missed; sequence numbers de-duplicate what arrives twice.
(function () {
  "use strict";

  var MAX_CHARS = 4000;
  var FINAL_CODES = { 4400: true, 4401: true, 4403: true, 4404: true, 4410: true, 4413: true, 4429: true };
  var TYPING_SEND_MS = 3000;
  var TYPING_SHOW_MS = 6000;
  var PING_MS = 25000;

  var strings = {};
  try {
    var node = document.getElementById("chat-strings");
    strings = node ? JSON.parse(node.textContent) : {};
  } catch (e) { strings = {}; }

  function t(key, params) {
    var text = strings[key] || key;
    if (params) {
      Object.keys(params).forEach(function (name) {
        text = text.split("%(" + name + ")s").join(String(params[name]));
      });
    }
    return text;
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID().replace(/-/g, ""); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function formatSize(bytes) {
    if (bytes >= 1024 * 1024) { return (bytes / (1024 * 1024)).toLocaleString("fr-FR", { maximumFractionDigits: 1 }) + " Mo"; }
    return Math.max(1, Math.round(bytes / 1024)).toLocaleString("fr-FR") + " Ko";
  }

  function ChatClient(root, hooks) {
    this.root = root;
    this.hooks = hooks || {};
    this.id = root.getAttribute("data-conversation");
    this.role = root.getAttribute("data-role");
    this.path = root.getAttribute("data-ws-path");
    this.status = root.getAttribute("data-status");
    this.timeZone = root.getAttribute("data-time-zone") || "Europe/Paris";
    this.peerRead = parseInt(root.getAttribute("data-read-seq") || "0", 10);
    this.agent = root.getAttribute("data-agent") || "";
    this.log = root.querySelector("[data-chat-log]");
    this.list = root.querySelector("[data-chat-list]") || this.log;
    this.statusLine = root.querySelector("[data-chat-status]");
    this.connection = root.querySelector("[data-chat-connection]");
    this.typingLine = root.querySelector("[data-chat-typing]");
    this.composer = root.querySelector("[data-chat-composer]");
    this.textarea = this.composer && this.composer.querySelector("textarea");
    this.errorBox = root.querySelector("[data-chat-error]");
    this.counter = root.querySelector("[data-chat-counter]");
    this.upload = root.querySelector("[data-chat-upload]");
    this.seen = {};
    this.lastSeq = 0;
    this.pending = {};
    this.outboxKey = "guichet-chat-outbox-" + this.id;
    this.retry = 0;
    this.stopped = false;
    this.socket = null;
    this.unread = 0;
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.readTimer = null;
    this.sentRead = 0;
    this.timeFormat = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: this.timeZone });
    this.init();
  }

  ChatClient.prototype.init = function () {
    var self = this;
    // What the server rendered is what we hold: its sequence numbers are "seen".
    Array.prototype.forEach.call(this.log.querySelectorAll("[data-seq]"), function (item) {
      self.markSeen(parseInt(item.getAttribute("data-seq"), 10));
    });
    this.restoreOutbox();
    if (this.composer && this.textarea) {
      this.composer.addEventListener("submit", function (event) {
        event.preventDefault();
        self.submit();
      });
      this.textarea.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          self.submit();
        }
      });
      this.textarea.addEventListener("input", function () {
        self.updateCounter();
        self.typing(true);
      });
      this.updateCounter();
    }
    if (this.upload) {
      this.upload.addEventListener("submit", function (event) {
        event.preventDefault();
        self.sendFile();
      });
    }
    this.root.addEventListener("focusin", function () { self.focused(); });
    this.root.addEventListener("click", function () { self.focused(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { self.scheduleRead(); }
    });
    this.scrollToEnd(true);
    this.connect();
  };

  // --- sequence bookkeeping ---------------------------------------------------------------

  ChatClient.prototype.markSeen = function (seq) {
    this.seen[seq] = true;
    while (this.seen[this.lastSeq + 1]) { this.lastSeq += 1; }
  };

  // --- outbox -------------------------------------------------------------------------------

  ChatClient.prototype.restoreOutbox = function () {
    var self = this;
    var saved = [];
    try { saved = JSON.parse(window.sessionStorage.getItem(this.outboxKey) || "[]"); } catch (e) { saved = []; }
    saved.forEach(function (item) {
      if (self.log.querySelector('[data-client-id="' + item.client_id + '"]')) { return; }  // stored meanwhile
      self.pending[item.client_id] = item;
      self.renderPending(item);
    });
    this.saveOutbox();
  };

  ChatClient.prototype.saveOutbox = function () {
    var self = this;
    var list = Object.keys(this.pending).map(function (key) { return self.pending[key]; })
      .filter(function (item) { return !item.failed; })
      .sort(function (a, b) { return a.at - b.at; });
    try {
      if (list.length) { window.sessionStorage.setItem(this.outboxKey, JSON.stringify(list)); }
      else { window.sessionStorage.removeItem(this.outboxKey); }
    } catch (e) { /* private mode: the outbox lives in memory only */ }
    return list;
  };

  ChatClient.prototype.flushOutbox = function () {
    var self = this;
    this.saveOutbox().forEach(function (item, index) {
      // Spread resends under the server's 5 frames per second.
      window.setTimeout(function () {
        if (self.pending[item.client_id]) {
          self.send({ type: "message", client_id: item.client_id, body: item.body });
        }
      }, index * 250);
    });
  };

  // --- socket -------------------------------------------------------------------------------

  ChatClient.prototype.send = function (frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  ChatClient.prototype.connect = function () {
    var self = this;
    if (this.stopped) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + this.path);
    this.socket = socket;
    socket.addEventListener("open", function () {
      if (self.retry > 0) { self.showConnection(t("back"), false); }
      self.retry = 0;
      self.send({ type: "sync", last_seq: self.lastSeq });
      self.flushOutbox();
      window.clearInterval(self.pinger);
      self.pinger = window.setInterval(function () { self.send({ type: "ping" }); }, PING_MS);
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      self.handle(data);
    });
    socket.addEventListener("close", function (event) {
      window.clearInterval(self.pinger);
      if (self.socket !== socket) { return; }
      var sockets = window.GuichetSockets;
      if (event.code === 4401 && sockets) { sockets.sessionEnded(); }
      if (event.code === 4408 && sockets) {
        // Too many sockets open for this person (tabs): say so, try again later.
        self.showConnection(t("closed_4408"), true);
        window.setTimeout(function () { self.connect(); }, sockets.backoff(event.code));
        return;
      }
      if (FINAL_CODES[event.code]) {
        self.stopped = true;
        var key = "closed_" + event.code;
        self.showConnection(strings[key] ? t(key) : t("closed_other"), true);
        if (self.hooks.onClosed) { self.hooks.onClosed(self, event.code); }
        return;
      }
      self.showConnection(t("lost"), true);
      self.retry = Math.min(self.retry + 1, 5);
      var delay = Math.pow(2, self.retry) * 500 + Math.random() * 500;
      window.setTimeout(function () { self.connect(); }, delay);
    });
  };

  ChatClient.prototype.showConnection = function (text, persistent) {
    if (!this.connection) { return; }
    this.connection.textContent = text;
    this.connection.hidden = false;
    var line = this.connection;
    if (!persistent) {
      window.setTimeout(function () { line.hidden = true; line.textContent = ""; }, 3000);
    }
  };

  ChatClient.prototype.handle = function (data) {
    var self = this;
    switch (data.type) {
      case "state":
        this.setStatus(data);
        if (this.role === "citizen") { this.peerRead = Math.max(this.peerRead, data.agent_read_seq || 0); }
        if (this.role === "agent") { this.peerRead = Math.max(this.peerRead, data.citizen_read_seq || 0); }
        this.refreshReadMarks();
        break;
      case "history":
        (data.messages || []).forEach(function (m) { self.addMessage(m, true); });
        this.scrollToEnd(false);
        this.scheduleRead();
        break;
      case "message":
        this.addMessage(data.message, false);
        break;
      case "error":
        this.onError(data);
        break;
      case "typing":
        this.showTyping(data);
        break;
      case "read":
        if (data.role !== this.role && this.role !== "observer") {
          this.peerRead = Math.max(this.peerRead, data.seq);
          this.refreshReadMarks();
        }
        break;
      case "status":
        this.setStatus(data);
        break;
      case "queue":
        this.setQueue(data);
        break;
      default:
        break;
    }
  };

  // --- rendering ------------------------------------------------------------------------------

  ChatClient.prototype.authorFor = function (m) {
    if (m.kind === "system") { return ""; }
    if (m.kind === "context") { return t("assistant"); }
    if (m.kind === this.role) { return t("you"); }
    if (m.kind === "agent") { return (m.author || "") + " " + t("agent_suffix"); }
    return m.author || "";
  };

  ChatClient.prototype.buildItem = function (m) {
    var mine = m.kind === this.role;
    var item = el("li", "chat-msg chat-msg--" + m.kind + (mine ? " chat-msg--mine" : ""));
    item.setAttribute("data-seq", m.seq);
    item.setAttribute("data-client-id", m.client_id);
    item.setAttribute("data-kind", m.kind);
    if (m.notice) { item.setAttribute("data-notice", m.notice); }
    if (m.kind === "context") {
      var details = el("details", "chat-msg__context");
      details.appendChild(el("summary", null, t("assistant")));
      details.appendChild(el("p", "chat-msg__body", m.body));
      item.appendChild(details);
      return item;
    }
    var meta = el("p", "chat-msg__meta");
    var author = this.authorFor(m);
    if (author) {
      meta.appendChild(el("span", "chat-msg__author", author));
      meta.appendChild(document.createTextNode(" "));
    }
    var time = el("time", null, this.timeFormat.format(new Date(m.created_at)));
    time.setAttribute("datetime", m.created_at);
    meta.appendChild(time);
    item.appendChild(meta);
    if (m.body) { item.appendChild(el("p", "chat-msg__body", m.body)); }
    if (m.attachments && m.attachments.length) {
      var list = el("ul", "chat-msg__files");
      m.attachments.forEach(function (a) {
        var li = el("li");
        var link = el("a", "fr-link fr-link--download", a.name + " ");
        link.href = a.url;
        link.setAttribute("download", "");
        link.appendChild(el("span", "fr-link__detail", (a.content_type || "").split("/").pop().toUpperCase() + " – " + formatSize(a.size)));
        li.appendChild(link);
        list.appendChild(li);
      });
      item.appendChild(list);
    }
    if (mine) {
      var state = el("p", "chat-msg__state", m.seq <= this.peerRead ? t("read") : t("sent"));
      state.setAttribute("data-msg-state", "");
      item.appendChild(state);
    }
    return item;
  };

  ChatClient.prototype.insertOrdered = function (item, seq) {
    var items = this.list.querySelectorAll("[data-seq]");
    for (var i = 0; i < items.length; i += 1) {
      var other = parseInt(items[i].getAttribute("data-seq"), 10);
      if (other > seq) {
        this.list.insertBefore(item, items[i]);
        return;
      }
    }
    var firstPending = this.list.querySelector("[data-pending]");
    if (firstPending) { this.list.insertBefore(item, firstPending); } else { this.list.appendChild(item); }
  };

  ChatClient.prototype.addMessage = function (m, fromHistory) {
    if (!m || typeof m.seq !== "number") { return; }
    if (this.seen[m.seq]) {
      this.resolvePending(m.client_id);
      return;
    }
    var nearEnd = this.isNearEnd();
    this.markSeen(m.seq);
    var pendingItem = this.log.querySelector('[data-pending][data-client-id="' + m.client_id + '"]');
    if (pendingItem) { pendingItem.remove(); }
    this.resolvePending(m.client_id);
    this.insertOrdered(this.buildItem(m), m.seq);
    if (m.kind !== this.role && m.kind !== "system" && m.kind !== "context") {
      if (this.typingLine) { this.typingLine.textContent = ""; }
      if (!fromHistory) { this.noteIncoming(m); }
    }
    if (m.kind === "system" && m.notice === "joined" && this.hooks.onIncoming && !fromHistory) {
      this.hooks.onIncoming(this, m);
    }
    if (nearEnd || m.kind === this.role) { this.scrollToEnd(false); }
    this.scheduleRead();
  };

  ChatClient.prototype.renderPending = function (item) {
    var li = el("li", "chat-msg chat-msg--" + this.role + " chat-msg--mine chat-msg--pending");
    li.setAttribute("data-pending", "");
    li.setAttribute("data-client-id", item.client_id);
    var meta = el("p", "chat-msg__meta");
    meta.appendChild(el("span", "chat-msg__author", t("you")));
    li.appendChild(meta);
    li.appendChild(el("p", "chat-msg__body", item.body));
    var state = el("p", "chat-msg__state", item.failed ? t("failed") : t("sending"));
    state.setAttribute("data-msg-state", "");
    li.appendChild(state);
    this.list.appendChild(li);
    this.scrollToEnd(false);
    return li;
  };

  ChatClient.prototype.resolvePending = function (clientId) {
    if (clientId && this.pending[clientId]) {
      delete this.pending[clientId];
      this.saveOutbox();
    }
  };

  ChatClient.prototype.refreshReadMarks = function () {
    var self = this;
    Array.prototype.forEach.call(this.log.querySelectorAll(".chat-msg--mine[data-seq]"), function (item) {
      var seq = parseInt(item.getAttribute("data-seq"), 10);
      var state = item.querySelector("[data-msg-state]");
      if (state) { state.textContent = seq <= self.peerRead ? t("read") : t("sent"); }
    });
  };

  ChatClient.prototype.isNearEnd = function () {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  };

  ChatClient.prototype.scrollToEnd = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  // --- status -------------------------------------------------------------------------------

  ChatClient.prototype.setStatus = function (data) {
    var previous = this.status;
    this.status = data.status || this.status;
    this.root.setAttribute("data-status", this.status);
    if (data.agent !== undefined) { this.agent = data.agent; }
    var text;
    if (this.status === "active") {
      text = this.role === "citizen" ? t("active", { name: this.agent || "" }) : t("active_agent");
    } else if (this.status === "ended") {
      text = t("ended");
    } else if (this.role === "citizen") {
      this.setQueue(data);
      text = null;
    } else {
      text = t("waiting_agent");
    }
    if (text !== null && this.statusLine) { this.statusLine.textContent = text; }
    var ended = this.status === "ended";
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-chat-when-open]"), function (node) { node.hidden = ended; });
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-chat-when-ended]"), function (node) { node.hidden = !ended; });
    if (ended && previous !== "ended" && this.hooks.onEnded) { this.hooks.onEnded(this); }
  };

  ChatClient.prototype.setQueue = function (data) {
    if (this.role !== "citizen" || this.status !== "waiting" || !this.statusLine) { return; }
    var parts = [];
    parts.push(data.position ? t("queue_position", { position: data.position }) : t("queue_next"));
    if (data.wait_seconds === null || data.wait_seconds === undefined) { parts.push(t("queue_wait_unknown")); }
    else if (data.wait_seconds < 60) { parts.push(t("queue_wait_short")); }
    else { parts.push(t("queue_wait", { minutes: Math.round(data.wait_seconds / 60) })); }
    this.statusLine.textContent = parts.join(" ");
  };

  // --- typing -------------------------------------------------------------------------------

  ChatClient.prototype.typing = function (active) {
    if (this.role === "observer") { return; }
    var now = Date.now();
    if (active && now - this.lastTypingSent < TYPING_SEND_MS) { return; }
    this.lastTypingSent = active ? now : 0;
    this.send({ type: "typing", active: active });
  };

  ChatClient.prototype.showTyping = function (data) {
    var self = this;
    if (!this.typingLine) { return; }
    window.clearTimeout(this.typingTimer);
    if (!data.active) { this.typingLine.textContent = ""; return; }
    this.typingLine.textContent = data.role === "agent" ? t("typing_agent", { name: data.author || "" }) : t("typing_citizen");
    this.typingTimer = window.setTimeout(function () { self.typingLine.textContent = ""; }, TYPING_SHOW_MS);
  };

  // --- read marks and unread counter ----------------------------------------------------

  ChatClient.prototype.isAttended = function () {
    if (document.visibilityState !== "visible") { return false; }
    if (this.hooks.isAttended) { return this.hooks.isAttended(this); }
    return true;
  };

  ChatClient.prototype.noteIncoming = function (m) {
    if (!this.isAttended()) {
      this.unread += 1;
      if (this.hooks.onUnread) { this.hooks.onUnread(this, this.unread); }
    }
    if (this.hooks.onIncoming) { this.hooks.onIncoming(this, m); }
  };

  ChatClient.prototype.focused = function () {
    if (this.unread) {
      this.unread = 0;
      if (this.hooks.onUnread) { this.hooks.onUnread(this, 0); }
    }
    this.scheduleRead();
  };

  ChatClient.prototype.scheduleRead = function () {
    var self = this;
    if (this.role === "observer" || !this.isAttended()) { return; }
    window.clearTimeout(this.readTimer);
    this.readTimer = window.setTimeout(function () {
      // Attention may have moved during the delay: a message that arrived meanwhile is unread.
      if (!self.isAttended()) { return; }
      var peer = self.role === "citizen" ? "agent" : "citizen";
      var items = self.log.querySelectorAll('[data-kind="' + peer + '"][data-seq]');
      if (!items.length) { return; }
      var seq = parseInt(items[items.length - 1].getAttribute("data-seq"), 10);
      if (seq > self.sentRead && self.send({ type: "read", seq: seq })) { self.sentRead = seq; }
    }, 600);
  };

  // --- sending --------------------------------------------------------------------------------

  ChatClient.prototype.updateCounter = function () {
    if (!this.counter || !this.textarea) { return; }
    this.counter.textContent = t("counter", { count: this.textarea.value.length.toLocaleString("fr-FR") });
  };

  ChatClient.prototype.setError = function (text) {
    if (!this.errorBox) { return; }
    this.errorBox.textContent = "";
    var group = this.errorBox.closest("[data-chat-body-group]");
    if (text) {
      this.errorBox.appendChild(el("p", "fr-message fr-message--error", text));
      if (group) { group.classList.add("fr-input-group--error"); }
      if (this.textarea) { this.textarea.setAttribute("aria-invalid", "true"); }
    } else {
      if (group) { group.classList.remove("fr-input-group--error"); }
      if (this.textarea) { this.textarea.removeAttribute("aria-invalid"); }
    }
  };

  ChatClient.prototype.submit = function () {
    var body = this.textarea.value;
    if (!body.trim()) { this.setError(t("empty")); return; }
    if (body.length > MAX_CHARS) { this.setError(t("too_long", { length: body.length })); return; }
    this.setError("");
    var item = { client_id: newId(), body: body, at: Date.now() };
    this.pending[item.client_id] = item;
    this.saveOutbox();
    this.renderPending(item);
    this.textarea.value = "";
    this.updateCounter();
    this.lastTypingSent = 0;  // the message itself ends the peer's typing indicator
    this.send({ type: "message", client_id: item.client_id, body: body });
    this.focused();
  };

  ChatClient.prototype.onError = function (data) {
    var self = this;
    var clientId = data.client_id;
    if (data.code === "rate_limited" && clientId && this.pending[clientId]) {
      window.setTimeout(function () {
        var item = self.pending[clientId];
        if (item) { self.send({ type: "message", client_id: item.client_id, body: item.body }); }
      }, 1200);
      return;
    }
    if (clientId && this.pending[clientId]) {
      var item = this.pending[clientId];
      item.failed = true;
      delete this.pending[clientId];
      this.saveOutbox();
      var li = this.log.querySelector('[data-pending][data-client-id="' + clientId + '"]');
      if (li) {
        li.classList.add("chat-msg--failed");
        var state = li.querySelector("[data-msg-state]");
        if (state) { state.textContent = t("failed"); }
      }
      if (this.textarea && !this.textarea.value) { this.textarea.value = item.body; this.updateCounter(); }
    }
    this.setError(data.message || "");
  };

  ChatClient.prototype.sendFile = function () {
    var self = this;
    var form = this.upload;
    var errorBox = form.querySelector("[data-chat-upload-error]");
    var input = form.querySelector("input[type=file]");
    errorBox.textContent = "";
    var data = new FormData(form);
    data.set("client_id", newId());
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    window.fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) }
    }).then(function (response) {
      return response.json().then(function (json) { return { ok: response.ok, json: json }; });
    }).then(function (result) {
      if (!result.ok) {
        var errors = result.json.errors || {};
        Object.keys(errors).forEach(function (field) {
          errors[field].forEach(function (message) { errorBox.appendChild(el("p", "fr-message fr-message--error", message)); });
        });
        if (input) { input.setAttribute("aria-invalid", "true"); }
        return;
      }
      if (input) { input.value = ""; input.removeAttribute("aria-invalid"); }
      self.addMessage(result.json.message, false);
    }).catch(function () {
      errorBox.appendChild(el("p", "fr-message fr-message--error", t("closed_other")));
    }).then(function () {
      if (button) { button.disabled = false; }
    });
  };

  ChatClient.prototype.stop = function () {
    this.stopped = true;
    window.clearInterval(this.pinger);
    if (this.socket) { this.socket.close(1000); }
  };

  // The citizen's page: unread messages counted in the window title while the tab is hidden.
  function citizenHooks() {
    var baseTitle = document.title;
    return {
      onUnread: function (client, count) {
        document.title = count ? "(" + count + ") " + baseTitle : baseTitle;
      },
      init: function (client) {
        document.addEventListener("visibilitychange", function () {
          if (document.visibilityState === "visible") { client.focused(); }
        });
      }
    };
  }

  window.GuichetChat = {
    mount: function (root, hooks) {
      if (root.guichetChat) { return root.guichetChat; }
      if (!hooks && root.getAttribute("data-role") === "citizen") { hooks = citizenHooks(); }
      root.guichetChat = new ChatClient(root, hooks);
      if (hooks && hooks.init) { hooks.init(root.guichetChat); }
      return root.guichetChat;
    },
    strings: t
  };

  function autoMount() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chat]"), function (root) {
      if (!root.closest("[data-chat-desk]")) { window.GuichetChat.mount(root); }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoMount);
  } else {
    autoMount();
  }
})();
