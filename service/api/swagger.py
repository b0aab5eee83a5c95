"""Swagger UI at /docs, served offline from the swagger-ui-bundle package.

The page carries no inline script: Swagger UI is started by /docs/start.js, from this
origin, so the docs' Content-Security-Policy needs no hash or 'unsafe-inline' for
scripts.
"""

from __future__ import annotations

from flask import Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

# Every path the docs are served under (the security headers tell them apart by it).
PREFIX = "/docs"
ASSETS = f"{PREFIX}/assets/"
START = f"{PREFIX}/start.js"

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>medtrack API</title>
  <link href="{ASSETS}swagger-ui.css" rel="stylesheet" type="text/css">
</head>
<body>
  <div id="swagger-ui-container"></div>
  <script src="{ASSETS}swagger-ui-standalone-preset.js"></script>
  <script src="{ASSETS}swagger-ui-bundle.js"></script>
  <script src="{START}"></script>
</body>
</html>
"""

START_SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui-container" });
});
"""


def register(app: Flask) -> None:
    @app.get(PREFIX)
    def docs_page() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get(START)
    def docs_start() -> Response:
        return Response(START_SCRIPT, mimetype="text/javascript")

    @app.get(f"{ASSETS}<path:filename>")
    def docs_assets(filename: str) -> Response:
        # The bundle's files change only when the package does.
        return send_from_directory(swagger_ui_path, filename, max_age=86400)
