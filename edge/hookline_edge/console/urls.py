"""Where the console's pages live; used by the handlers and, as globals, by the templates."""

from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = [
    "CONSOLE_PATH",
    "LOGIN_PATH",
    "STATIC_PATH",
    "execution_url",
    "executions_url",
    "workflow_url",
]

CONSOLE_PATH = "/console"
STATIC_PATH = f"{CONSOLE_PATH}/static"
LOGIN_PATH = f"{CONSOLE_PATH}/login"


def workflow_url(workflow_id: str, **query: str) -> str:
    url = f"{CONSOLE_PATH}/workflows/{quote(workflow_id, safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


def execution_url(execution_id: str, **query: str) -> str:
    url = f"{CONSOLE_PATH}/executions/{quote(execution_id, safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


def executions_url(**query: str | None) -> str:
    """The executions list, with only the filters that have a value."""
    kept = {key: value for key, value in query.items() if value}
    url = f"{CONSOLE_PATH}/executions"
    return f"{url}?{urlencode(kept)}" if kept else url
