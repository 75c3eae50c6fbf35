// New request: refresh the knowledge-base suggestions as the citizen types (debounced).
// No inline script (CSP): the URL, topic and source fields come from data-* attributes.
(function () {
  "use strict";
  var box = document.getElementById("suggestions");
  if (!box || !window.htmx) { return; }
  var url = box.getAttribute("data-suggestions-url");
  var topic = box.getAttribute("data-topic") || "";
  var sources = (box.getAttribute("data-sources") || "").split(",")
    .map(function (sel) { return document.querySelector(sel); })
    .filter(Boolean);
  var timer = null;
  var last = null;
  function text() {
    return sources.map(function (el) { return el.value.trim(); }).join(" ").slice(0, 500);
  }
  function refresh() {
    var q = text();
    if (q === last) { return; }
    last = q;
    window.htmx.ajax("GET", url + "?topic=" + encodeURIComponent(topic) + "&q=" + encodeURIComponent(q),
      { target: box, swap: "innerHTML" });
  }
  sources.forEach(function (el) {
    el.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 600);
    });
  });
})();
