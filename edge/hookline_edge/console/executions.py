"""The execution pages: the paged list (overall or per workflow) and one execution.

An execution page says where the record came from (``X-Hookline-Source``) and, for
a cached one, when it leaves the cache. While the run is ``running`` the detail is
an htmx fragment that fetches itself again every second; the fragment rendered once
the run has ended carries no trigger, so the polling stops by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from hookline_edge.console.api import ApiError, ExecutionView, HookApi
from hookline_edge.console.layout import layout_workflow
from hookline_edge.console.svg import render_svg
from hookline_edge.console.urls import execution_url

__all__ = ["ExecutionPages"]

POLL_SECONDS = 1
MAX_PENDING_POLLS = 60
"""How many times a page opened right after a test request waits for a record that
does not exist yet (an unsaved run reaches the cache only when it ends)."""
PAGE_SIZE = 20


def _expires_in(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = max(0, int((moment - datetime.now(UTC)).total_seconds()))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60} s"


def _error_of(record: dict[str, Any]) -> dict[str, Any] | None:
    error = record.get("error")
    if not error:
        return None
    if isinstance(error, dict):
        return {"node": error.get("node"), "message": error.get("message") or str(error)}
    return {"node": None, "message": str(error)}


class ExecutionPages(Controller):
    path = "/executions"

    @get("/", name="console:executions")
    async def list_page(
        self,
        api: NamedDependency[HookApi],
        workflow_id: Annotated[str | None, QueryParameter(name="workflowId")] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = PAGE_SIZE,
    ) -> Template:
        workflows = await api.all_workflows()
        names = {str(wf.get("id")): str(wf.get("name")) for wf in workflows}
        listing: dict[str, Any] = {
            "rows": [],
            "error": None,
            "show_workflow": not workflow_id,
            "names": names,
            "filtered": bool(workflow_id or status),
        }
        next_cursor: str | None = None
        try:
            page = await api.list_executions(
                workflow_id=workflow_id, status=status, limit=limit, cursor=cursor
            )
            listing["rows"], next_cursor = page.data, page.next_cursor
        except ApiError as exc:
            if exc.status >= 500:
                raise
            listing["error"] = exc.message
        return Template(
            "console/executions.html",
            context={
                "listing": listing,
                "next_cursor": next_cursor,
                "filters": {
                    "workflowId": workflow_id or "",
                    "status": status or "",
                    "cursor": cursor or "",
                    "limit": str(limit) if limit != PAGE_SIZE else "",
                },
                "workflow_name": names.get(workflow_id or ""),
                "workflow_options": sorted(names.items(), key=lambda item: item[1].lower()),
            },
        )

    @get("/lookup", name="console:execution-lookup")
    async def lookup(self, id: FromQuery[str]) -> Redirect:
        return Redirect(execution_url(id.strip()), status_code=303)

    @get("/{execution_id:str}", name="console:execution")
    async def execution_page(
        self,
        api: NamedDependency[HookApi],
        execution_id: FromPath[str],
        pending: FromQuery[int] = 0,
    ) -> Template:
        context = await self._detail(api, execution_id, pending=pending)
        missing = context["record"] is None and not context["polling"]
        return Template(
            "console/execution.html", context=context, status_code=404 if missing else 200
        )

    @get("/{execution_id:str}/live", name="console:execution-live")
    async def live_fragment(
        self,
        api: NamedDependency[HookApi],
        execution_id: FromPath[str],
        pending: FromQuery[int] = 0,
    ) -> Template:
        context = await self._detail(api, execution_id, pending=pending)
        return Template("console/_execution_detail.html", context=context)

    async def _detail(self, api: HookApi, execution_id: str, *, pending: int) -> dict[str, Any]:
        view: ExecutionView | None
        try:
            view = await api.get_execution(execution_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            view = None
        record = view.record if view else None
        if record is None:
            # A run that is neither saved nor finished has no record yet: wait a while
            # when the page was opened from a test request (?pending=1).
            polling = 0 < pending <= MAX_PENDING_POLLS
            query = f"?pending={pending + 1}"
        else:
            polling = record.get("status") == "running"
            query = ""
        workflow: dict[str, Any] | None = None
        diagram = None
        if record and record.get("workflowId"):
            try:
                workflow = await api.get_workflow(str(record["workflowId"]))
            except ApiError:
                workflow = None  # deleted since, or unreachable: the page still shows the run
        if workflow and record:
            statuses = {
                name: str(node.get("status", ""))
                for name, node in (record.get("nodes") or {}).items()
                if isinstance(node, dict)
            }
            diagram = render_svg(layout_workflow(workflow), statuses=statuses)
        nodes = list((record.get("nodes") or {}).items()) if record else []
        return {
            "execution_id": execution_id,
            "record": record,
            "source": view.source if view else None,
            "expires_at": view.expires_at if view else None,
            "expires_in": _expires_in(view.expires_at if view else None),
            "workflow": workflow,
            "diagram": diagram,
            "nodes": [(name, node) for name, node in nodes if isinstance(node, dict)],
            "response": record.get("response") if record else None,
            "error": _error_of(record) if record else None,
            "polling": polling,
            "polling_query": query,
            "poll_seconds": POLL_SECONDS,
        }
