// Chatbot widget: talks to POST /api/chatbot/messages (session + CSRF). No inline script (CSP):
// texts come from the <template id="chatbot-strings"> and every message is built with textContent.
(function () {
  "use strict";
  var root = document.getElementById("chatbot");
  if (!root) { return; }
  var log = document.getElementById("chatbot-log");
  var form = document.getElementById("chatbot-form");
  var input = document.getElementById("chatbot-input");
  var group = document.getElementById("chatbot-group");
  var errors = document.getElementById("chatbot-messages");
  var counter = document.getElementById("chatbot-count");
  var sendButton = document.getElementById("chatbot-send");
  var resetButton = document.getElementById("chatbot-reset");
  var apiUrl = root.getAttribute("data-api-url");
  var ratingUrl = root.getAttribute("data-rating-url");
  var maxChars = parseInt(root.getAttribute("data-max-chars"), 10) || 1000;
  var STORAGE_KEY = "guichet.chatbot.conversation";
  var strings = {};
  var tpl = document.getElementById("chatbot-strings");
  if (tpl && tpl.content) {
    Array.prototype.forEach.call(tpl.content.querySelectorAll("[data-key]"), function (el) {
      strings[el.getAttribute("data-key")] = el.textContent;
    });
  }
  var conversation = null;
  try { conversation = window.sessionStorage.getItem(STORAGE_KEY); } catch (e) { conversation = null; }
  var busy = false;

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) { return headers["X-CSRFToken"]; }
    } catch (e) { /* fall back to the cookie */ }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function message(who) {
    var box = el("div", "knowledge-chat__msg knowledge-chat__msg--" + who);
    box.appendChild(el("p", "knowledge-chat__who", who === "user" ? strings.you : strings.bot));
    return box;
  }

  function append(box) {
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }

  function setError(text) {
    errors.textContent = "";
    if (text) {
      errors.appendChild(el("p", "fr-message fr-message--error", text));
      group.classList.add("fr-input-group--error");
      input.setAttribute("aria-invalid", "true");
    } else {
      group.classList.remove("fr-input-group--error");
      input.removeAttribute("aria-invalid");
    }
  }

  function updateCount() {
    counter.textContent = (strings.count || "%(n)s / %(max)s")
      .replace("%(n)s", String(input.value.length)).replace("%(max)s", String(maxChars));
  }

  function linkList(title, items) {
    var wrap = el("div", "knowledge-chat__links");
    wrap.appendChild(el("p", "fr-text--sm fr-mb-1v", title));
    var list = el("ul", "fr-text--sm");
    items.forEach(function (item) {
      var li = el("li");
      var a = el("a", "fr-link", item.title);
      a.href = item.url;
      if (item.lang) { a.setAttribute("lang", item.lang); }
      li.appendChild(a);
      list.appendChild(li);
    });
    wrap.appendChild(list);
    return wrap;
  }

  function ratingBlock(turnId) {
    var wrap = el("div", "knowledge-chat__rating");
    var label = el("p", "fr-text--sm fr-mb-1v", strings.rateQuestion);
    label.id = "rate-label-" + turnId;
    wrap.appendChild(label);
    var buttons = el("div", "fr-btns-group fr-btns-group--inline fr-btns-group--sm");
    [[1, "fr-icon-thumb-up-line", strings.useful], [-1, "fr-icon-thumb-down-line", strings.notUseful]]
      .forEach(function (spec) {
        var b = el("button", "fr-btn fr-btn--tertiary fr-btn--sm " + spec[1], spec[2]);
        b.type = "button";
        b.setAttribute("aria-pressed", "false");
        b.setAttribute("data-turn", String(turnId));
        b.setAttribute("data-value", String(spec[0]));
        buttons.appendChild(b);
      });
    wrap.appendChild(buttons);
    return wrap;
  }

  function handoffBlock(handoff) {
    var box = el("div", "fr-callout fr-callout--brown-caramel knowledge-chat__handoff");
    box.appendChild(el("p", "fr-callout__title fr-h6", strings.human));
    box.appendChild(el("p", "fr-callout__text fr-text--sm", handoff.message));
    var list = el("ul", "fr-btns-group fr-btns-group--sm fr-mt-2w");
    handoff.options.forEach(function (option, index) {
      var li = el("li");
      var a = el("a", "fr-btn fr-btn--sm" + (index === 0 ? "" : " fr-btn--secondary"), option.label);
      a.href = option.url;
      a.setAttribute("data-handoff", option.kind);
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function render(data) {
    var box = message("bot");
    if (data.article) {
      // The answer's language may differ from the page's (an English question): every text
      // carries its own lang attribute so that screen readers pronounce it right (RGAA 8.7).
      var intro = el("p", null, data.text);
      if (data.text_lang) { intro.setAttribute("lang", data.text_lang); }
      box.appendChild(intro);
      var card = el("div", "knowledge-chat__article");
      var title = el("p", "fr-text--lg fr-text--bold fr-mb-1v");
      var link = el("a", null, data.article.title);
      link.href = data.article.url;
      title.appendChild(link);
      var summary = el("p", "fr-text--sm", data.article.summary);
      if (data.article.lang) {
        title.setAttribute("lang", data.article.lang);
        summary.setAttribute("lang", data.article.lang);
      }
      card.appendChild(title);
      card.appendChild(summary);
      var more = el("a", "fr-link fr-icon-arrow-right-line fr-link--icon-right fr-text--sm", strings.read);
      more.href = data.article.url;
      card.appendChild(more);
      box.appendChild(card);
    } else {
      data.text.split(/\n{2,}/).forEach(function (para) {
        var p = el("p", null, para.replace(/\*\*/g, ""));
        if (data.redirection && data.text_lang) { p.setAttribute("lang", data.text_lang); }
        box.appendChild(p);
      });
      if (data.redirection && /^https:\/\//.test(data.redirection.url || "")) {
        // Another administration's subject: its site (an editor's https address).
        var site = el("a", "fr-link fr-icon-external-link-line fr-link--icon-right fr-text--sm",
          data.redirection.organisation || data.redirection.url);
        site.href = data.redirection.url;
        site.rel = "noopener";
        box.appendChild(site);
      }
    }
    if (data.suggestions && data.suggestions.length) { box.appendChild(linkList(strings.seeAlso, data.suggestions)); }
    if (data.topics && data.topics.length) { box.appendChild(linkList(strings.topics, data.topics)); }
    if (data.can_rate) { box.appendChild(ratingBlock(data.turn)); }
    if (data.handoff) { box.appendChild(handoffBlock(data.handoff)); }
    append(box);
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function post(url, body, key) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() };
    if (key) { headers["Idempotency-Key"] = key; } // the server acts once per key
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(body)
    });
  }

  function errorText(response, payload) {
    if (response.status === 429) { return strings.throttled; }
    if (response.status === 403 || response.status === 401) { return strings.expired; }
    if (payload) {
      // The API's one error format: {"detail": "...", "errors": {field: [...]}}.
      if (payload.detail) { return String(payload.detail); }
    }
    return strings.network;
  }

  function send(text) {
    busy = true;
    sendButton.disabled = true;
    log.setAttribute("aria-busy", "true");
    var mine = message("user");
    mine.appendChild(el("p", "knowledge-chat__text", text));
    append(mine);
    var body = { message: text };
    if (conversation) { body.conversation = parseInt(conversation, 10); }
    post(apiUrl, body, newKey()).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (payload) {
        if (!response.ok) {
          if (response.status === 404 && conversation) {
            conversation = null; // conversation purged or from another account: start again
            try { window.sessionStorage.removeItem(STORAGE_KEY); } catch (e) { /* ignore */ }
          }
          mine.remove();
          input.value = text;
          setError(errorText(response, payload));
          return;
        }
        conversation = String(payload.conversation);
        try { window.sessionStorage.setItem(STORAGE_KEY, conversation); } catch (e) { /* ignore */ }
        render(payload);
      });
    }).catch(function () {
      mine.remove();
      input.value = text;
      setError(strings.network);
    }).then(function () {
      busy = false;
      sendButton.disabled = false;
      log.removeAttribute("aria-busy");
      updateCount();
      input.focus();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var text = input.value.trim();
    if (!text) { setError(strings.empty); input.focus(); return; }
    if (text.length > maxChars) { setError(strings.tooLong); input.focus(); return; }
    setError("");
    input.value = "";
    updateCount();
    send(text);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit", { cancelable: true })); }
    }
  });
  input.addEventListener("input", updateCount);

  log.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-turn]");
    if (!button) { return; }
    var turn = button.getAttribute("data-turn");
    var value = parseInt(button.getAttribute("data-value"), 10);
    var group = button.parentNode;
    post(ratingUrl.replace("/0/", "/" + turn + "/"), { value: value }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (payload) {
        if (!response.ok) { setError(errorText(response, payload)); return; }
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        var note = group.parentNode.querySelector(".knowledge-chat__thanks");
        if (!note) {
          note = el("p", "fr-text--xs knowledge-chat__thanks", strings.thanksRating);
          group.parentNode.appendChild(note);
        }
        if (payload && payload.handoff) {
          var box = message("bot");
          box.appendChild(handoffBlock(payload.handoff));
          append(box);
        }
      });
    }).catch(function () { setError(strings.network); });
  });

  resetButton.addEventListener("click", function () {
    conversation = null;
    try { window.sessionStorage.removeItem(STORAGE_KEY); } catch (e) { /* ignore */ }
    while (log.children.length > 1) { log.removeChild(log.lastChild); }
    setError("");
    input.focus();
  });

  updateCount();
})();
