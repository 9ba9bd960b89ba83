"""``hookline apply``: create or update workflows and credentials, matched by name,
through the edge.

A file (JSON or YAML) holds one document or a list of them. A document is a workflow
(DESIGN.md section 2), or a credential: ``{"kind": "credential", "name", "type",
"data"}``. Credentials are applied first, then workflows in the order given, so a
workflow may name a credential (or, by ``workflowName``, a workflow) that an earlier
document of the same call defines. Values of a credential's ``data`` written as
``{"env": "NAME"}`` are read from the environment of ``hookline apply``, so secrets
need not be written into files.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["Document", "apply_files", "load_documents", "load_workflows"]

CREDENTIAL_KIND = "credential"


@dataclass(frozen=True)
class Document:
    """One document of a file: a workflow or a credential."""

    path: Path
    body: dict[str, Any]

    @property
    def is_credential(self) -> bool:
        return self.body.get("kind") == CREDENTIAL_KIND

    @property
    def name(self) -> str:
        return str(self.body["name"])


def load_documents(path: Path) -> list[Document]:
    """The documents in a JSON or YAML file: one object, or a list of them."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            # ValueError, not TypeError: the caller reports it with the file's other parse errors.
            raise ValueError("each document must be an object with a string 'name'")  # noqa: TRY004
    return [Document(path, item) for item in items]


def load_workflows(path: Path) -> list[dict[str, Any]]:
    """The workflows in a file (its credential documents left out)."""
    return [doc.body for doc in load_documents(path) if not doc.is_credential]


def _names(client: httpx.Client, collection: str) -> dict[str, str]:
    """name -> id of every workflow or credential, through the paged list."""
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        resp = client.get(f"/api/v1/{collection}", params=params)
        resp.raise_for_status()
        page = resp.json()
        for item in page["data"]:
            found.setdefault(item["name"], item["id"])
        cursor = page.get("nextCursor")
        if not cursor:
            return found


def _credential_body(doc: Document) -> dict[str, Any]:
    """The credential as the API takes it, ``{"env": NAME}`` values read."""
    data: dict[str, Any] = {}
    for key, value in (doc.body.get("data") or {}).items():
        if isinstance(value, dict) and set(value) == {"env"}:
            variable = str(value["env"])
            if variable not in os.environ:
                raise ValueError(f"data.{key}: environment variable {variable} is not set")
            value = os.environ[variable]
        data[key] = value
    return {"name": doc.name, "type": doc.body.get("type"), "data": data}


def _error(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("message", resp.text))
    except ValueError:
        return resp.text


class _Applier:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._ids = {kind: _names(client, kind) for kind in ("credentials", "workflows")}
        self.failures = 0

    def apply(self, doc: Document) -> None:
        kind = "credentials" if doc.is_credential else "workflows"
        try:
            body = _credential_body(doc) if doc.is_credential else doc.body
        except ValueError as exc:
            self._fail(doc, str(exc))
            return
        existing = self._ids[kind].get(doc.name)
        if existing:
            resp = self._client.put(f"/api/v1/{kind}/{existing}", json=body)
            verb = "updated"
        else:
            resp = self._client.post(f"/api/v1/{kind}", json=body)
            verb = "created"
        if resp.status_code >= 400:
            self._fail(doc, f"{resp.status_code} {_error(resp)}")
            return
        stored = resp.json()
        self._ids[kind][stored["name"]] = stored["id"]
        label = "credential " if doc.is_credential else ""
        print(f"{verb} {label}{stored['name']} ({stored['id']}) from {doc.path}")

    def _fail(self, doc: Document, message: str) -> None:
        print(f"{doc.path}: {doc.name}: {message}", file=sys.stderr)
        self.failures += 1


def _documents(files: list[str]) -> Iterator[Document | str]:
    for name in files:
        path = Path(name)
        try:
            yield from load_documents(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            yield f"{path}: cannot read: {exc}"


def apply_files(files: list[str], *, url: str, api_key: str | None) -> int:
    """Apply every document of every file; returns the process exit code."""
    headers = {"X-API-Key": api_key} if api_key else {}
    loaded = list(_documents(files))
    unreadable = [item for item in loaded if isinstance(item, str)]
    for message in unreadable:
        print(message, file=sys.stderr)
    docs = [item for item in loaded if isinstance(item, Document)]
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            applier = _Applier(client)
            for doc in sorted(docs, key=lambda d: not d.is_credential):  # stable
                applier.apply(doc)
    except httpx.HTTPError as exc:
        print(f"cannot reach hookline at {url}: {exc}", file=sys.stderr)
        return 2
    return 1 if applier.failures or unreadable else 0
