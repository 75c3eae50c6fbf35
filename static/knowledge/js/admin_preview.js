// Admin editor: live preview of an article's Markdown, rendered and sanitised by the server.
(function () {
  "use strict";
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) { return input.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function setup(box) {
    var source = document.getElementById(box.getAttribute("data-source"));
    var target = box.querySelector(".knowledge-md-preview__body");
    var url = box.getAttribute("data-preview-url");
    if (!source || !target || !url) { return; }
    var timer = null;
    function refresh() {
      var body = new URLSearchParams();
      body.set("body", source.value);
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString()
      }).then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) { target.innerHTML = html; }) // sanitised by nh3 on the server
        .catch(function () { /* keep the previous preview */ });
    }
    source.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    });
    refresh();
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".knowledge-md-preview"), setup);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
