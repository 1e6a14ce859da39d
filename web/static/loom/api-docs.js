// The API documentation page: Swagger UI on the OpenAPI document named by #swagger-ui.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // The session cookie authenticates "Try it out"; unsafe methods also need the CSRF token.
    requestInterceptor: function (req) {
      req.headers["X-CSRFToken"] = csrf;
      return req;
    }
  });
})();
