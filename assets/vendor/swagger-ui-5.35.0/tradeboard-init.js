// Swagger UI for /api/docs: loads the OpenAPI document named by the container's data-url (same origin,
// the session cookie goes with it). External file, so the Content-Security-Policy needs no inline hash.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    withCredentials: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
