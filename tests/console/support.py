"""Helpers of the console tests: the stack in a background thread, and workflows."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import httpx

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings

START_TIMEOUT_SECONDS = 30.0
API_KEY = f"console-key-{uuid.uuid4().hex}"
"""HOOKLINE_API_KEY of the keyed stack."""


class BackgroundStack:
    """``with BackgroundStack(settings) as stack: stack.edge_url`` — LocalStack in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.edge_url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="console-stack", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - the thread's boundary: raised in the test thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalStack(self.settings) as stack:
            self.edge_url = stack.edge_url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            raise TimeoutError("the stack did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_SECONDS)


def greeter(unique: Callable[[str], str], *, save: bool = True, **hook: Any) -> dict[str, Any]:
    """A webhook workflow answering 201 with a custom header and a greeting."""
    params = {"path": unique("greet"), "method": "POST", "responseMode": "lastNode", **hook}
    return {
        "name": unique("Greeter"),
        "active": True,
        "settings": {"saveExecutionToDatabase": save},
        "nodes": [
            {"name": "Hook", "type": "webhook", "parameters": params},
            {
                "name": "Shape",
                "type": "set",
                "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}},
            },
            {
                "name": "Reply",
                "type": "httpResponse",
                "parameters": {
                    "statusCode": 201,
                    "headers": {"X-Greeter": "console"},
                    "body": {"message": "{{ json.greeting }}"},
                },
            },
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


def branching_greeter(unique: Callable[[str], str], *, save: bool = True) -> dict[str, Any]:
    """``greeter`` with an ``if`` in front: no name in the body stops with an error."""
    document = greeter(unique, save=save)
    document["nodes"].insert(
        1, {"name": "Has name", "type": "if", "parameters": {"condition": "{{ json.body.name }}"}}
    )
    document["nodes"].append(
        {"name": "Refuse", "type": "stopAndError", "parameters": {"message": "name is required"}}
    )
    document["connections"] = [
        {"from": "Hook", "to": "Has name"},
        {"from": "Has name", "to": "Shape", "output": "true"},
        {"from": "Has name", "to": "Refuse", "output": "false"},
        {"from": "Shape", "to": "Reply"},
    ]
    return document


def delete_by_name(api: httpx.Client, name: str) -> None:
    """Remove a workflow the browser created (found by name)."""
    page = api.get("/api/v1/workflows", params={"limit": 100}).json()
    cursor = page.get("nextCursor")
    found = list(page["data"])
    while cursor:
        page = api.get("/api/v1/workflows", params={"limit": 100, "cursor": cursor}).json()
        found.extend(page["data"])
        cursor = page.get("nextCursor")
    for workflow in found:
        if workflow["name"] == name:
            api.delete(f"/api/v1/workflows/{workflow['id']}")
