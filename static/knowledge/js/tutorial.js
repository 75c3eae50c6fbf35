/* Video tutorials: anonymous audience measure (start, half-way, end) and embedded players
 * loaded only on request. The visitor token is random, drawn again every day, kept in this
 * browser only; the server stores a keyed hash of it, never an address or an account. */
(function () {
  "use strict";
  var KEY = "guichet-tutorial-visitor";
  var memory = null;

  function today() {
    return new Date().toISOString().slice(0, 10);
  }

  function randomToken() {
    var bytes = new Uint8Array(18);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function visitor() {
    var day = today();
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
      if (saved && saved.day === day && saved.token) return saved.token;
      var fresh = { day: day, token: randomToken() };
      window.localStorage.setItem(KEY, JSON.stringify(fresh));
      return fresh.token;
    } catch (error) {
      if (!memory || memory.day !== day) memory = { day: day, token: randomToken() };
      return memory.token;
    }
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function send(figure, kind) {
    var sent = figure.dataset.sent ? figure.dataset.sent.split(",") : [];
    if (sent.indexOf(kind) !== -1) return;
    sent.push(kind);
    figure.dataset.sent = sent.join(",");
    var body = new FormData();
    body.append("kind", kind);
    body.append("visitor", visitor());
    window.fetch(figure.dataset.beacon, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      if (response.ok) figure.dataset.counted = figure.dataset.sent;
    }).catch(function () { /* a lost measure never disturbs the viewer */ });
  }

  function watch(figure) {
    var video = figure.querySelector("video");
    if (video) {
      video.addEventListener("play", function () { send(figure, "start"); });
      video.addEventListener("timeupdate", function () {
        if (video.duration && video.currentTime >= video.duration / 2) send(figure, "half");
      });
      video.addEventListener("ended", function () { send(figure, "complete"); });
      return;
    }
    var embed = figure.querySelector("[data-embed]");
    var button = figure.querySelector("[data-embed-start]");
    if (!embed || !button) return;
    button.addEventListener("click", function () {
      var frame = document.createElement("iframe");
      frame.src = embed.dataset.embed;
      frame.title = embed.dataset.title;
      frame.className = "fr-responsive-vid";
      frame.setAttribute("allow", "fullscreen");
      frame.setAttribute("allowfullscreen", "");
      embed.replaceChildren(frame);
      frame.focus();
      send(figure, "start");
    });
  }

  document.querySelectorAll("[data-tutorial]").forEach(watch);
})();
