// Renders the API document on /api/docs with the vendored Swagger UI (kept
// in a file of its own: the Content Security Policy allows no inline code).
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    deepLinking: true,
    persistAuthorization: false
  });
})();
