"""Settings for a whole hookline in one test process: every gRPC port on 0 (the
stack picks free ones), a short shutdown grace, console logs, and a run stream of
its own — stacks sharing the test Redis on one stream would take each other's runs
(and save them in their own databases)."""

from __future__ import annotations

import uuid
from typing import Any

from hookline_runtime.settings import Settings

__all__ = ["stack_settings"]


def stack_settings(database_url: str, **overrides: Any) -> Settings:
    """The test stack's settings on ``database_url``; keyword arguments override."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "edge_addr": "127.0.0.1:0",
        "trigger_listen": "127.0.0.1:0",
        "execution_listen": "127.0.0.1:0",
        "cache_listen": "127.0.0.1:0",
        "shutdown_grace_seconds": 1.0,
        "log_format": "console",
        "run_stream": f"hookline:runs:test:{uuid.uuid4().hex}",
        **overrides,
    }
    return Settings(**values)
