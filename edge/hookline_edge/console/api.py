"""The console's client of the public HTTP API (DESIGN.md section 3), over HTTP.

The console never talks to the gRPC services: every page is built from what
``/api/v1`` and ``/webhook`` answer, with the operator's API key, so the console
works in front of any deployment. One ``httpx.AsyncClient`` per app (opened in the
app's lifespan) is shared; ``HookApi`` binds it to a base URL and a key per request.
Non-2xx answers become ``ApiError`` carrying the API's ``error`` and ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

__all__ = ["ApiError", "ExecutionView", "HookApi", "Page", "WebhookReply"]

API_TIMEOUT_SECONDS = 15.0
"""Deadline of a management call; waiting webhooks get the workflow's own timeout."""
_WEBHOOK_GRACE_SECONDS = 5.0
_MAX_WORKFLOW_PAGES = 100


class ApiError(Exception):
    """A non-2xx answer of the API, or no answer at all (``status`` 503)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True, slots=True)
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """An execution record and where the edge found it."""

    record: dict[str, Any]
    source: str | None
    """``cache`` or ``database`` (the ``X-Hookline-Source`` header)."""
    expires_at: datetime | None
    """When a cached record leaves the result cache (``X-Hookline-Expires-At``)."""


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status_code: int
    reason: str
    headers: list[tuple[str, str]]
    body: str
    content_type: str
    execution_id: str | None
    elapsed_ms: float


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return ApiError(
            response.status_code,
            str(body.get("error") or "error"),
            str(body.get("message") or response.reason_phrase),
        )
    return ApiError(response.status_code, "error", response.text[:500] or response.reason_phrase)


class HookApi:
    """The API at ``base_url`` (no trailing slash), called with ``api_key`` when set."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str | None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key} if api_key else {}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method,
                self._base + path,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                json=json,
                headers=self._headers,
                timeout=API_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise ApiError(503, "unavailable", f"the API did not answer: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    # ------------------------------------------------------------- workflows
    async def list_workflows(self, *, limit: int = 100, cursor: str | None = None) -> Page:
        body = (
            await self._call("GET", "/api/v1/workflows", params={"limit": limit, "cursor": cursor})
        ).json()
        return Page(list(body.get("data") or []), body.get("nextCursor"))

    async def all_workflows(self) -> list[dict[str, Any]]:
        """Every workflow, following the cursor (bounded, in case a server loops)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_WORKFLOW_PAGES):
            page = await self.list_workflows(limit=100, cursor=cursor)
            found.extend(page.data)
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    async def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self._call("GET", f"/api/v1/workflows/{workflow_id}")
        ).json()
        return result

    async def create_workflow(self, document: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self._call("POST", "/api/v1/workflows", json=document)
        ).json()
        return result

    async def replace_workflow(self, workflow_id: str, document: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self._call("PUT", f"/api/v1/workflows/{workflow_id}", json=document)
        ).json()
        return result

    async def patch_workflow(self, workflow_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self._call("PATCH", f"/api/v1/workflows/{workflow_id}", json=patch)
        ).json()
        return result

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._call("DELETE", f"/api/v1/workflows/{workflow_id}")

    async def run_workflow(self, workflow_id: str, body: Any) -> str:
        """Start a manual run with ``body`` as its input; the new execution's id."""
        response = await self._call("POST", f"/api/v1/workflows/{workflow_id}/run", json=body)
        return str(response.json()["executionId"])

    # ----------------------------------------------------------- credentials
    async def all_credentials(self) -> list[dict[str, Any]]:
        """Every credential's metadata (the API never answers values)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_WORKFLOW_PAGES):
            params = {"limit": 100, "cursor": cursor}
            body = (await self._call("GET", "/api/v1/credentials", params=params)).json()
            found.extend(body.get("data") or [])
            cursor = body.get("nextCursor")
            if not cursor:
                break
        return found

    async def create_credential(self, document: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self._call("POST", "/api/v1/credentials", json=document)
        ).json()
        return result

    async def delete_credential(self, credential_id: str) -> None:
        await self._call("DELETE", f"/api/v1/credentials/{credential_id}")

    # ------------------------------------------------------------ executions
    async def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        params = {"workflowId": workflow_id, "status": status, "limit": limit, "cursor": cursor}
        body = (await self._call("GET", "/api/v1/executions", params=params)).json()
        return Page(list(body.get("data") or []), body.get("nextCursor"))

    async def get_execution(self, execution_id: str) -> ExecutionView:
        response = await self._call("GET", f"/api/v1/executions/{execution_id}")
        return ExecutionView(
            record=response.json(),
            source=response.headers.get("X-Hookline-Source"),
            expires_at=_parse_time(response.headers.get("X-Hookline-Expires-At")),
        )

    # -------------------------------------------------------------- webhooks
    async def send_webhook(
        self,
        method: str,
        path: str,
        *,
        body: str,
        headers: list[tuple[str, str]],
        wait_seconds: float,
    ) -> WebhookReply:
        """Call ``{method} /webhook/{path}`` as an outside caller would (no API key)."""
        content = body.encode() if method != "GET" and body else None
        try:
            response = await self._http.request(
                method,
                f"{self._base}/webhook/{path.lstrip('/')}",
                content=content,
                headers=headers,
                timeout=wait_seconds + _WEBHOOK_GRACE_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise ApiError(503, "unavailable", f"the webhook did not answer: {exc}") from exc
        return WebhookReply(
            status_code=response.status_code,
            reason=response.reason_phrase,
            headers=list(response.headers.items()),
            body=response.text,
            content_type=response.headers.get("content-type", ""),
            execution_id=response.headers.get("X-Execution-Id"),
            elapsed_ms=response.elapsed.total_seconds() * 1000,
        )
