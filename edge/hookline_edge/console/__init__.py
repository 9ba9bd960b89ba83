"""The web console: server-rendered pages (Jinja2 + vendored htmx) under ``/console``,
built only on the edge's public HTTP API.

The edge mounts it with one line: ``Litestar(..., plugins=[ConsolePlugin(settings)])``.

Modules: ``plugin`` (mounting), ``access`` (API-key login, CSRF), ``context`` (per-request
API client), ``api`` (the HTTP client of ``/api/v1`` and ``/webhook``), ``workflows`` and
``executions`` (the pages), ``error_pages``, ``layout`` and ``svg`` (the diagram),
``views`` (reading API JSON for display), ``documents`` (pasted JSON/YAML), ``answers``
(htmx or plain redirects), ``templating``.
"""

from hookline_edge.console.plugin import ConsolePlugin

__all__ = ["ConsolePlugin"]
