"""The Credentials page: the list (metadata only), a form to create one, and delete.

Values are write-only: the form's value fields are password inputs never filled in
again, the API never answers them, and a refused form is shown again with its name
and type only (the values must be typed again). Each type has its own fieldset; only
the fields of the chosen type are sent. An API 409/422 is shown beside the form or
the list (status 409/422, which htmx swaps in).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from hookline_edge.console.answers import go_to, refusal_status
from hookline_edge.console.api import ApiError, HookApi
from hookline_edge.console.urls import CONSOLE_PATH

__all__ = ["CREDENTIAL_FIELDS", "CredentialPages"]

Form = URLEncodedBody[dict[str, str]]

CREDENTIALS_PATH = f"{CONSOLE_PATH}/credentials"

CREDENTIAL_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "bearer": (("token", "Token", True),),
    "httpHeader": (("name", "Header name", False), ("value", "Header value", True)),
    "httpBasic": (("username", "User name", False), ("password", "Password", True)),
    "hmac": (("secret", "Signing secret", True),),
}
"""Type -> (field, label, secret) of the form; secret fields are password inputs."""

_NOTICES = {"created": "Credential created.", "deleted": "Credential deleted."}
_CLIENT_ERRORS = frozenset({400, 404, 409, 422, 503})


class CredentialPages(Controller):
    path = "/credentials"

    @get("/", name="console:credentials")
    async def list_page(
        self, api: NamedDependency[HookApi], notice: FromQuery[str | None] = None
    ) -> Template:
        return await self._page(api, notice=_NOTICES.get(notice or ""))

    async def _page(
        self,
        api: HookApi,
        *,
        notice: str | None = None,
        form_error: str | None = None,
        list_error: str | None = None,
        name: str = "",
        type_: str = "bearer",
        status_code: int = 200,
    ) -> Template:
        credentials = sorted(await api.all_credentials(), key=lambda c: str(c["name"]).lower())
        return Template(
            "console/credentials.html",
            context={
                "section": "credentials",
                "credentials": credentials,
                "fields": CREDENTIAL_FIELDS,
                "notice": notice,
                "form_error": form_error,
                "list_error": list_error,
                "name": name,
                "chosen_type": type_ if type_ in CREDENTIAL_FIELDS else "bearer",
            },
            status_code=status_code,
        )

    @post("/", name="console:create-credential")
    async def create(
        self, request: Request[Any, Any, Any], api: NamedDependency[HookApi], data: Form
    ) -> Response[Any]:
        name, type_ = data.get("name", "").strip(), data.get("type", "")
        fields = CREDENTIAL_FIELDS.get(type_, ())
        values = {field: data.get(f"{type_}.{field}", "") for field, _, _ in fields}
        try:
            await api.create_credential({"name": name, "type": type_, "data": values})
        except ApiError as exc:
            status = refusal_status(exc, _CLIENT_ERRORS)
            return await self._page(
                api, form_error=exc.message, name=name, type_=type_, status_code=status
            )
        return go_to(request, f"{CREDENTIALS_PATH}?notice=created")

    @post("/{credential_id:str}/delete", name="console:delete-credential")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        api: NamedDependency[HookApi],
        credential_id: FromPath[str],
    ) -> Response[Any]:
        try:
            await api.delete_credential(credential_id)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
            return await self._page(api, list_error=exc.message, status_code=409)
        return go_to(request, f"{CREDENTIALS_PATH}?notice=deleted")
