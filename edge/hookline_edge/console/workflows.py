"""The workflow pages: the list (with active switches and the paste box), one
workflow (diagram, settings dialog, test request, recent executions), and the
forms that change them. Every change goes through the public API; an API 4xx is
shown next to the input that caused it (status 409/422, which htmx swaps in)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from hookline_edge.console.answers import go_to, is_htmx, refusal_status, reraise_unless_shown
from hookline_edge.console.api import ApiError, HookApi, WebhookReply
from hookline_edge.console.documents import DocumentError, parse_document
from hookline_edge.console.layout import layout_workflow
from hookline_edge.console.svg import render_svg
from hookline_edge.console.urls import CONSOLE_PATH, execution_url, workflow_url
from hookline_edge.console.views import (
    WorkflowRow,
    editable_document,
    pretty_body,
    workflow_row,
)
from hookline_runtime.strict_json import loads_strict

__all__ = ["WorkflowPages"]

Form = URLEncodedBody[dict[str, str]]

_CLIENT_ERRORS = frozenset({400, 404, 409, 413, 422})
"""API answers shown beside the form that caused them (others go to the error pages)."""
_CHANGE_ERRORS = _CLIENT_ERRORS - {404}
"""The same, for a change to one workflow: a missing workflow is the 404 page."""
_NOTICES = {
    "created": "Workflow created.",
    "replaced": "Workflow replaced.",
    "settings": "Settings saved.",
    "deleted": "Workflow deleted.",
}
_DEFAULT_TEST_BODY = '{\n  "name": "world"\n}'


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _checked(value: str | None) -> bool:
    """A checkbox (or hidden field) of the form is on."""
    return (value or "").lower() in ("true", "on", "1")


def _test_result(reply: WebhookReply | None, error: str | None) -> dict[str, Any]:
    """The template fields of a test request's answer (or of why it was not sent)."""
    return {
        "reply": reply,
        "reply_body": pretty_body(reply.body, reply.content_type) if reply else "",
        "test_error": error,
    }


def _parse_headers(text: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ValueError(f"header line {number} is not 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return headers


class WorkflowPages(Controller):
    path = "/"

    # ------------------------------------------------------------------ list
    @get("/", name="console:workflows")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        notice: FromQuery[str | None] = None,
    ) -> Template:
        return await self._list(request, api, notice=_NOTICES.get(notice or ""))

    async def _list(
        self,
        request: Request[Any, Any, Any],
        api: HookApi,
        *,
        notice: str | None = None,
        document: str = "",
        import_error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        workflows = await api.all_workflows()
        rows = sorted((workflow_row(wf) for wf in workflows), key=lambda r: r.name.lower())
        return Template(
            "console/workflows.html",
            context={
                "rows": rows,
                "base_url": _base_url(request),
                "notice": notice,
                "document": document,
                "import_error": import_error,
            },
            status_code=status_code,
        )

    # ---------------------------------------------------------------- import
    @post("/workflows", name="console:import")
    async def import_workflow(
        self, request: Request[Any, Any, Any], api: NamedDependency[HookApi], data: Form
    ) -> Response[Any]:
        text = data.get("document", "")
        form_id = data.get("form_id", "import-form")
        try:
            document = parse_document(text)
            stored, verb = await self._save(api, document)
        except DocumentError as exc:
            return await self._import_failed(request, api, form_id, text, str(exc), 422)
        except ApiError as exc:
            status = refusal_status(exc, _CLIENT_ERRORS)
            return await self._import_failed(request, api, form_id, text, exc.message, status)
        return go_to(request, workflow_url(str(stored["id"]), notice=verb))

    async def _save(self, api: HookApi, document: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Replace the workflow with this id, else the one with this name, else create."""
        target = document.get("id")
        if not isinstance(target, str) or not target:
            by_name = {wf.get("name"): wf.get("id") for wf in await api.all_workflows()}
            target = by_name.get(document["name"])
        if target:
            try:
                return await api.replace_workflow(str(target), document), "replaced"
            except ApiError as exc:
                if exc.status != 404:
                    raise
        fresh = {k: v for k, v in document.items() if k not in ("id", "createdAt", "updatedAt")}
        return await api.create_workflow(fresh), "created"

    async def _import_failed(
        self,
        request: Request[Any, Any, Any],
        api: HookApi,
        form_id: str,
        text: str,
        message: str,
        status: int,
    ) -> Response[Any]:
        if is_htmx(request):
            return Template(
                "console/_import_form.html",
                context={
                    "form_id": form_id
                    if form_id in ("import-form", "edit-form")
                    else "import-form",
                    "document": text,
                    "import_error": message,
                    "submit_label": "Replace workflow"
                    if form_id == "edit-form"
                    else "Save workflow",
                },
                status_code=status,
            )
        return await self._list(
            request, api, document=text, import_error=message, status_code=status
        )

    # ---------------------------------------------------------------- active
    @post("/workflows/{workflow_id:str}/active", name="console:active")
    async def set_active(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        wanted = _checked(data.get("active"))
        row_error: str | None = None
        status = 200
        try:
            row = workflow_row(await api.patch_workflow(workflow_id, {"active": wanted}))
        except ApiError as exc:
            reraise_unless_shown(exc, _CHANGE_ERRORS)
            row = workflow_row(await api.get_workflow(workflow_id))
            row_error, status = exc.message, 409
        if not is_htmx(request):
            if row_error:
                return await self._list(request, api, notice=row_error, status_code=status)
            return Redirect(CONSOLE_PATH, status_code=303)
        return Template(
            "console/_workflow_row.html",
            context={"row": row, "base_url": _base_url(request), "row_error": row_error},
            status_code=status,
        )

    # ------------------------------------------------------------ one workflow
    @get("/workflows/{workflow_id:str}", name="console:workflow")
    async def workflow_page(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
        dialog: FromQuery[str | None] = None,
        notice: FromQuery[str | None] = None,
    ) -> Template:
        workflow = await api.get_workflow(workflow_id)
        return await self._workflow(
            request, api, workflow, dialog=dialog, notice=_NOTICES.get(notice or "")
        )

    async def _workflow(
        self,
        request: Request[Any, Any, Any],
        api: HookApi,
        workflow: dict[str, Any],
        *,
        dialog: str | None = None,
        notice: str | None = None,
        settings_form: dict[str, Any] | None = None,
        settings_error: str | None = None,
        test: dict[str, str] | None = None,
        reply: WebhookReply | None = None,
        test_error: str | None = None,
        run_input: str = "{}",
        run_error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        row = workflow_row(workflow)
        recent: dict[str, Any] = {
            "rows": [],
            "error": None,
            "show_workflow": False,
            "names": {},
            "filtered": False,
        }
        try:
            recent["rows"] = (await api.list_executions(workflow_id=row.id, limit=10)).data
        except ApiError as exc:
            recent["error"] = f"Executions could not be listed: {exc.message}"
        return Template(
            "console/workflow.html",
            context={
                "row": row,
                "workflow": workflow,
                "base_url": _base_url(request),
                "diagram": render_svg(layout_workflow(workflow)),
                "dialog": dialog,
                "notice": notice,
                "form": settings_form or self._settings_of(row),
                "settings_error": settings_error,
                "test": test or self._default_test(row),
                **_test_result(reply, test_error),
                "run_input": run_input,
                "run_error": run_error,
                "recent": recent,
                "document": editable_document(workflow),
                "import_error": None,
            },
            status_code=status_code,
        )

    async def _refused(
        self, request: Request[Any, Any, Any], api: HookApi, workflow_id: str, **form: Any
    ) -> Template:
        """The workflow page again (422), with the refused form's fields and its error."""
        workflow = await api.get_workflow(workflow_id)
        return await self._workflow(request, api, workflow, status_code=422, **form)

    @staticmethod
    def _settings_of(row: WorkflowRow) -> dict[str, Any]:
        return {
            "saveExecutionToDatabase": row.saves_history,
            "resultTtlSeconds": row.result_ttl_seconds,
            "responseTimeoutSeconds": row.response_timeout_seconds,
        }

    @staticmethod
    def _default_test(row: WorkflowRow) -> dict[str, str]:
        return {
            "query": "",
            "headers": "",
            "content_type": "application/json",
            "body": "" if row.method == "GET" else _DEFAULT_TEST_BODY,
        }

    # -------------------------------------------------------------- settings
    @post("/workflows/{workflow_id:str}/settings", name="console:settings")
    async def save_settings(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        form: dict[str, Any] = {
            "saveExecutionToDatabase": _checked(data.get("saveExecutionToDatabase")),
            "resultTtlSeconds": data.get("resultTtlSeconds", ""),
            "responseTimeoutSeconds": data.get("responseTimeoutSeconds", ""),
        }
        error: str | None = None
        try:
            settings = {
                "saveExecutionToDatabase": form["saveExecutionToDatabase"],
                "resultTtlSeconds": int(form["resultTtlSeconds"]),
                "responseTimeoutSeconds": int(form["responseTimeoutSeconds"]),
            }
        except ValueError:
            error = "The result TTL and the response timeout are whole numbers of seconds."
        else:
            try:
                await api.patch_workflow(workflow_id, {"settings": settings})
            except ApiError as exc:
                reraise_unless_shown(exc, _CHANGE_ERRORS)
                error = exc.message
        if error is None:
            return Redirect(workflow_url(workflow_id, notice="settings"), status_code=303)
        return await self._refused(
            request, api, workflow_id, dialog="settings", settings_form=form, settings_error=error
        )

    # ---------------------------------------------------------- test request
    @post("/workflows/{workflow_id:str}/test", name="console:test")
    async def send_test(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
        data: Form,
    ) -> Template:
        workflow = await api.get_workflow(workflow_id)
        row = workflow_row(workflow)
        test = {
            "query": data.get("query", "").strip().lstrip("?"),
            "headers": data.get("headers", ""),
            "content_type": data.get("content_type", "application/json"),
            "body": data.get("body", ""),
        }
        reply: WebhookReply | None = None
        error: str | None = None
        if row.path is None or row.method is None:
            error = "This workflow is not started by a webhook."
        else:
            try:
                headers = _parse_headers(test["headers"])
                if not any(name.lower() == "content-type" for name, _ in headers):
                    headers.append(("Content-Type", test["content_type"]))
                path = row.path + (f"?{test['query']}" if test["query"] else "")
                reply = await api.send_webhook(
                    row.method,
                    path,
                    body=test["body"],
                    headers=headers,
                    wait_seconds=row.response_timeout_seconds,
                )
            except ValueError as exc:
                error = str(exc)
            except ApiError as exc:
                error = exc.message
        if is_htmx(request):
            return Template("console/_test_result.html", context=_test_result(reply, error))
        return await self._workflow(
            request, api, workflow, test=test, reply=reply, test_error=error
        )

    # --------------------------------------------------------------- run now
    @post("/workflows/{workflow_id:str}/run", name="console:run")
    async def run_now(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        """A manual run (``POST /api/v1/workflows/{id}/run``), then its execution page,
        which waits for the record when the run is not saved."""
        text = data.get("input", "").strip() or "{}"
        try:
            body = loads_strict(text)
        except ValueError as exc:
            return await self._refused(
                request,
                api,
                workflow_id,
                run_input=text,
                run_error=f"The input is not valid JSON: {exc}",
            )
        execution_id = await api.run_workflow(workflow_id, body)
        return go_to(request, execution_url(execution_id, pending="1"))

    # ---------------------------------------------------------------- delete
    @post("/workflows/{workflow_id:str}/delete", name="console:delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        workflow_id: FromPath[str],
    ) -> Response[Any]:
        await api.delete_workflow(workflow_id)
        return go_to(request, f"{CONSOLE_PATH}?notice=deleted")
