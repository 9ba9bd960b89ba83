"""schemathesis against ``/schema/openapi.json`` of the real stack (edge, trigger,
execution, cache; Redis; SQLite), with and without ``HOOKLINE_API_KEY``.

Every operation of the document is fuzzed (examples, coverage and fuzzing phases;
positive and negative data), each request over real HTTP to the LocalStack's edge,
and every answer must:

- not be a 5xx;
- have a documented status, content type, headers and body (``{error, message}`` for
  every error);
- if the request was schema-valid, not be refused: 400 for a valid request means the
  document allows what the API refuses. These refusals are no such disagreement,
  and only they are let through (``schema_valid_requests_are_accepted``):

  - 422 from the trigger service's validation of a workflow or credential (one
    trigger node, known node types, an acyclic graph: what JSON Schema cannot say;
    the document says "422 names the bad node or field");
  - 422 ``idempotency_key_reused``: a valid key, sent before with another request;
  - 400 for a well-formed cursor the API did not issue (a cursor is opaque: the
    document gives its alphabet and length, the API decides which exist);
  - 405 from a webhook path that has no active workflow for that method (the path's
    404, for one method; the fuzzing itself replaces and deletes workflows).

Narrowed, not excluded: a webhook call generated at random hits no workflow (404)
and would never start a run. So half of the webhook cases go to paths owned by
active ``onReceived`` workflows (one per method) made before the run: those calls
start real runs, with generated bodies, queries and ``Idempotency-Key`` headers.

The stack runs on its own event loop in a thread: schemathesis calls are blocking.
Bounded for CI: ``MAX_EXAMPLES`` per operation, a fixed seed, derandomized.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import Case, Response
from schemathesis.checks import CheckContext
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.engine.recorder import CheckNode, Interaction
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings

MAX_EXAMPLES = 20
SEED = 20261130
API_KEY = "fuzz-key"
WEBHOOK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENCRYPTION_KEY = "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY="  # 32 bytes, base64url
STACK_START_SECONDS = 30.0

pytestmark = pytest.mark.timeout(300)


class ThreadedStack:
    """A LocalStack on an event loop of its own thread, for blocking clients."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fuzz-stack", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.edge_url = ""

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalStack(self._settings) as stack:
            self.edge_url = stack.edge_url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(STACK_START_SECONDS) or self._error is not None:
            raise RuntimeError("the stack did not start") from self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STACK_START_SECONDS)


def _webhook_workflow(method: str, path: str) -> dict[str, Any]:
    return {
        "name": f"fuzz-{method.lower()}-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {
                "name": "Hook",
                "type": "webhook",
                "parameters": {"path": path, "method": method, "responseMode": "onReceived"},
            },
            {"name": "Shape", "type": "set", "parameters": {"values": {"seen": "yes"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}],
    }


def _make_webhooks(edge_url: str, headers: dict[str, str]) -> str:
    """One active onReceived workflow per method on a fresh path; returns the path."""
    path = f"fuzz/{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=edge_url, headers=headers, timeout=10) as http:
        for method in WEBHOOK_METHODS:
            answer = http.post("/api/v1/workflows", json=_webhook_workflow(method, path))
            assert answer.status_code == 201, answer.text
    return path


def _schema(edge_url: str, webhook_path: str, headers: dict[str, str]) -> BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "request-timeout": 10,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "response_headers_conformance": {"enabled": True},
                "negative_data_rejection": {"enabled": True},
                "missing_required_header": {"enabled": True},
                "unsupported_method": {"enabled": True},
                "allow_header_conformance": {"enabled": True},
                "ignored_auth": {"enabled": True},
                "positive_data_acceptance": {"enabled": False},  # see the module docstring
            },
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{edge_url}/schema/openapi.json", config=config, timeout=10
    )

    def flatmap_path_parameters(
        ctx: HookContext, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[dict[str, Any]]:
        operation = ctx.operation
        if operation is None or not operation.path.startswith("/webhook/"):
            return st.just(path_parameters)
        owned = {**path_parameters, "webhook_path": webhook_path}
        return st.sampled_from([owned, path_parameters])

    schema.hook(flatmap_path_parameters)
    return schema


def _cursor_refused(response: Response, case: Case[Any]) -> bool:
    """400 or 422 for a cursor the API did not issue (see the module docstring)."""
    if response.status_code not in (400, 422) or not (case.query or {}).get("cursor"):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "cursor" in str(body.get("message", ""))


def _error_code(response: Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _semantic_rejection(response: Response, case: Case[Any]) -> bool:
    """422 from the trigger service's validation of a stored document, or for an
    Idempotency-Key already used with another request."""
    if response.status_code != 422:
        return False
    if _error_code(response) == "idempotency_key_reused":
        return True
    return case.operation.path.startswith("/api/") and case.method.upper() in (
        "POST",
        "PUT",
        "PATCH",
    )


def _webhook_method_not_owned(response: Response, case: Case[Any]) -> bool:
    """405 from a webhook path whose workflow for this method is gone (the fuzzing
    itself replaces and deletes workflows): the 404 of a path, for one method."""
    return response.status_code == 405 and case.operation.path.startswith("/webhook/")


@schemathesis.check
def schema_valid_requests_are_accepted(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """schemathesis' positive_data_acceptance, less the two refusals of the docstring."""
    if (
        _cursor_refused(response, case)
        or _semantic_rejection(response, case)
        or _webhook_method_not_owned(response, case)
    ):
        return None
    return positive_data_acceptance(ctx, response, case)


def _describe(label: str, check: CheckNode, interaction: Interaction | None) -> str:
    info = check.failure_info
    answer = ""
    if interaction is not None and interaction.response is not None:
        response = interaction.response
        answer = f"[{response.status_code}] {(response.content or b'')[:300]!r}"
    if info is None:
        return f"{label}: {check.name} {answer}"
    failure = info.failure
    return (
        f"{label}: {check.name}: {failure.title}\n{failure.message}\n{info.code_sample}\n{answer}"
    )


KNOWN_GAPS: dict[tuple[str, str], str] = {}
"""Disagreements found here in code this test's author does not own: reported (the
test is then an expected failure naming them), never dropped."""


def _fuzz(schema: BaseSchema) -> list[str]:
    """Run every phase over every operation; the failures, described."""
    failures: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                failures.extend(
                    _describe(event.label or "?", check, recorder.interactions.get(case_id))
                    for check in checks
                    if check.status is Status.FAILURE
                )
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error: {event.value!r}")
        elif isinstance(event, events.FatalError):
            failures.append(f"run: fatal error: {event.exception!r}")
    return sorted(set(failures))


@pytest.mark.parametrize("api_key", [None, API_KEY], ids=["open", "api-key"])
def test_the_api_answers_as_its_openapi_document_says(
    api_key: str | None, tmp_path: Path, redis_url: str
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hookline.db'}",
        redis_url=redis_url,
        edge_addr="127.0.0.1:0",
        trigger_listen="127.0.0.1:0",
        execution_listen="127.0.0.1:0",
        cache_listen="127.0.0.1:0",
        shutdown_grace_seconds=1.0,
        run_stream=f"hookline:runs:test:{uuid.uuid4().hex}",
        log_format="console",
        log_level="warning",
        api_key=api_key,
        encryption_key=SecretStr(ENCRYPTION_KEY),
    )
    headers = {"X-API-Key": api_key} if api_key else {}
    with ThreadedStack(settings) as stack:
        webhook_path = _make_webhooks(stack.edge_url, headers)
        failures = _fuzz(_schema(stack.edge_url, webhook_path, headers))
    known = [f for f in failures if any(f.startswith(f"{op}: {check}") for op, check in KNOWN_GAPS)]
    unknown = [f for f in failures if f not in known]
    assert not unknown, "\n\n".join(unknown)
    if known:
        pytest.xfail("known gaps: " + "; ".join(KNOWN_GAPS.values()))
