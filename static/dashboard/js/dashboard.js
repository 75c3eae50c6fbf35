// Supervisor dashboard: Chart.js charts from the json_script data, custom period fields,
// CSV exports with a progress indicator. No inline script (CSP script-src 'self').
(function () {
  "use strict";

  // DSFR illustrative colours, distinguishable and with enough contrast on white.
  var COLORS = ["#000091", "#c9191e", "#18753c", "#b34000", "#6a6af4", "#716043", "#a94645", "#009099", "#3a3a3a"];

  function drawCharts() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof window.Chart === "undefined") { return; }
    var specs = JSON.parse(source.textContent);
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    document.querySelectorAll("canvas[data-dashboard-chart]").forEach(function (canvas) {
      var spec = specs[canvas.getAttribute("data-dashboard-chart")];
      if (!spec) { return; }
      var datasets = spec.datasets.map(function (dataset, index) {
        var color = COLORS[index % COLORS.length];
        return {
          label: dataset.label,
          data: dataset.data,
          backgroundColor: color,
          borderColor: color,
          borderWidth: spec.type === "line" ? 2 : 0,
          pointRadius: spec.type === "line" ? 2 : 0,
          tension: 0
        };
      });
      new window.Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: reduceMotion ? false : { duration: 300 },
          locale: document.documentElement.lang || "fr",
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom" } },
          scales: {
            x: { stacked: !!spec.stacked },
            y: { stacked: !!spec.stacked, beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } }
          }
        }
      });
    });
  }

  // The date fields only apply to a custom period: disabled (not sent) otherwise.
  function customPeriod() {
    var form = document.querySelector("[data-dashboard-filters]");
    if (!form) { return; }
    var period = form.querySelector("select[name=periode]");
    if (!period) { return; }
    function sync() {
      var custom = period.value === "perso";
      form.querySelectorAll("[data-dashboard-custom] input").forEach(function (input) {
        input.disabled = !custom;
      });
    }
    period.addEventListener("change", sync);
    sync();
  }

  // --- exports with progress ---

  var status = null;
  var box = null;

  function message(name, values) {
    var text = status.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.replace("%(" + key + ")s", values[key]);
    });
    return text;
  }

  function show(text, done, total) {
    status.textContent = text;
    if (!box) { return; }
    box.hidden = false;
    box.querySelector("[data-dashboard-progress-visible]").textContent = text;
    var bar = box.querySelector("progress");
    if (total) { bar.max = total; bar.value = Math.min(done, total); }
    else { bar.removeAttribute("value"); }
  }

  function number(value) {
    return new Intl.NumberFormat("fr-FR").format(value);
  }

  function filenameOf(response, fallback) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="([^"]+)"/.exec(header);
    return match ? match[1] : fallback;
  }

  function save(chunks, name) {
    var blob = new Blob(chunks, { type: "text/csv;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function fail(error) {
    show((error && error.userMessage) || message("error"), 0, 0);
  }

  function runExport(link) {
    var lastPaint = 0;
    show(message("start"), 0, 0);
    fetch(link.href, { credentials: "same-origin", headers: { "Accept": "text/csv" } })
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var detail = doc.querySelector("[data-export-error]");
            var error = new Error("export failed");
            error.userMessage = detail ? detail.textContent.replace(/\s+/g, " ").trim() : "";
            throw error;
          });
        }
        var total = parseInt(response.headers.get("X-Export-Rows") || "0", 10);
        var name = filenameOf(response, "export.csv");
        var chunks = [];
        var lines = 0;
        var reader = response.body.getReader();
        function pump() {
          return reader.read().then(function (result) {
            if (result.done) {
              var done = Math.max(0, lines - 1);
              save(chunks, name);
              show(message("done", { done: number(total || done) }), total || done, total || done);
              return;
            }
            chunks.push(result.value);
            for (var i = 0; i < result.value.length; i++) {
              if (result.value[i] === 10) { lines++; }
            }
            var now = Date.now();
            if (now - lastPaint > 400) {
              lastPaint = now;
              var rows = Math.min(Math.max(0, lines - 1), total);
              show(message("progress", { done: number(rows), total: number(total) }), rows, total);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(fail);
  }

  function exports() {
    status = document.querySelector("[data-dashboard-progress-text]");
    box = document.querySelector("[data-dashboard-progress]");
    if (!status || !window.fetch || !window.ReadableStream) { return; }
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-dashboard-export]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      event.preventDefault();
      runExport(link);
    });
  }

  function start() {
    drawCharts();
    customPeriod();
    exports();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
