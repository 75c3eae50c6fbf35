// Swagger UI on /api/docs/ (no inline script: CSP). Requests tried from the page carry the
// session cookie and, for unsafe methods, the CSRF token read from its cookie.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  window.SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    domNode: root,
    deepLinking: false,
    validatorUrl: null,
    onComplete: function () {
      // Swagger UI renders its operations in a <main>: the page already has one (DSFR).
      var inner = root.querySelector("main");
      if (inner) {
        inner.setAttribute("role", "region");
        inner.setAttribute("aria-label", root.getAttribute("data-operations-label") || "Operations");
      }
    },
    withCredentials: true,
    requestInterceptor: function (request) {
      if (!/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) {
        request.headers["X-CSRFToken"] = csrfToken();
      }
      return request;
    }
  });
})();
