// Starts Swagger UI in #swagger-ui on the OpenAPI document its data-url names. A file of its
// own rather than an inline script, so the page's Content-Security-Policy allows no inline code.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    deepLinking: true,
    displayRequestDuration: true,
    // The default asks an online validator for a badge: nothing leaves this server.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
  });
})();
