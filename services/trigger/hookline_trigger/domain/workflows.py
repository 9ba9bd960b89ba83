"""Workflow management: validate, store, page, replace, patch and delete workflows.

Every definition goes through ``hookline_runtime.workflow.parse_workflow``, so an invalid one
is refused with ``InvalidArgument`` naming the node or field, as is one naming a
credential that does not exist or is of the wrong type, or naming a workflow (an
``executeWorkflow`` target, the ``errorWorkflow`` setting) that does not exist.
Webhook secrets are write-only (``webhook_secrets``): a replacement that leaves one
out keeps it, and a patch never touches it. After each change the trigger index is
told (``on_change``), which reloads this replica and announces the change to the
others.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hookline_runtime.clock import utcnow
from hookline_runtime.errors import InvalidArgument, NotFound
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.strict_json import JsonRejected, loads_strict
from hookline_runtime.workflow import Workflow, parse_workflow
from hookline_trigger.domain.credential_refs import TypesOf, check_refs
from hookline_trigger.domain.paging import PageKey, decode_cursor, encode_cursor, page_limit
from hookline_trigger.domain.ports import WorkflowStore
from hookline_trigger.domain.records import WorkflowRecord
from hookline_trigger.domain.webhook_secrets import restore_secrets
from hookline_trigger.domain.workflow_refs import check_workflow_refs

__all__ = ["PATCHABLE_FIELDS", "WorkflowManager", "WorkflowPage"]

log = get_logger(__name__)

PATCHABLE_FIELDS = ("name", "active", "settings")

ChangeHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WorkflowPage:
    workflows: list[WorkflowRecord]
    next_cursor: str
    """Empty on the last page."""


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = loads_strict(raw) if raw else None
    except JsonRejected as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return data


def _merge_patch(definition: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The definition with ``patch`` applied; settings merge key by key and a null
    setting goes back to its default."""
    unknown = [key for key in patch if key not in PATCHABLE_FIELDS]
    if unknown:
        raise InvalidArgument(
            f"{unknown[0]}: cannot be patched; a patch may hold only name, active and settings "
            "(use PUT to replace the whole workflow)",
            field=unknown[0],
        )
    merged = dict(definition)
    if "name" in patch:
        merged["name"] = patch["name"]
    if "active" in patch:
        if not isinstance(patch["active"], bool):
            raise InvalidArgument("active: must be true or false", field="active")
        merged["active"] = patch["active"]
    if "settings" in patch:
        changes = patch["settings"]
        if not isinstance(changes, dict):
            raise InvalidArgument("settings: must be an object", field="settings")
        settings = dict(merged.get("settings") or {})
        for key, value in changes.items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        merged["settings"] = settings
    return merged


class WorkflowManager:
    """The workflow CRUD rules, over a ``WorkflowStore``."""

    def __init__(
        self,
        store: WorkflowStore,
        *,
        on_change: ChangeHook,
        clock: Callable[[], datetime] = utcnow,
        credential_types: TypesOf | None = None,
    ) -> None:
        """``credential_types`` (name -> type of the credentials that exist) checks the
        credentials a workflow names; None skips that check."""
        self._store = store
        self._on_change = on_change
        self._clock = clock
        self._credential_types = credential_types

    async def _check_credentials(self, workflow: Workflow) -> None:
        if self._credential_types is not None:
            await check_refs(workflow.to_json(), self._credential_types)

    async def create(self, raw: bytes) -> WorkflowRecord:
        workflow = parse_workflow(restore_secrets(_json_object(raw, "the workflow"), None))
        await self._check_credentials(workflow)
        await check_workflow_refs(workflow, None, self._store)
        now = self._clock()
        record = WorkflowRecord.from_workflow(workflow, id=new_id(), created_at=now, updated_at=now)
        await self._store.insert(record)
        log.info("Created workflow", workflow_id=record.id, name=record.name, active=record.active)
        await self._on_change(record.id)
        return record

    async def get(self, workflow_id: str) -> WorkflowRecord:
        record = await self._store.get(workflow_id)
        if record is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        return record

    async def get_by_name(self, name: str) -> WorkflowRecord:
        """The oldest workflow with this name; NotFound when there is none."""
        record = await self._store.by_name(name)
        if record is None:
            raise NotFound(f"no workflow named {name!r}")
        return record

    async def list(self, *, limit: int, cursor: str) -> WorkflowPage:
        size = page_limit(limit)
        rows = await self._store.page(decode_cursor(cursor), size + 1)
        page, more = rows[:size], len(rows) > size
        next_cursor = encode_cursor(PageKey(page[-1].created_at, page[-1].id)) if more else ""
        return WorkflowPage(page, next_cursor)

    async def replace(self, workflow_id: str, raw: bytes) -> WorkflowRecord:
        """Replace the definition; a webhook secret left out (or sent back as the
        placeholder of answers) keeps its stored value."""
        document = _json_object(raw, "the workflow")
        current = await self.get(workflow_id)
        workflow = parse_workflow(restore_secrets(document, json.loads(current.definition)))
        return await self._save(current, workflow)

    async def patch(self, workflow_id: str, raw: bytes) -> WorkflowRecord:
        patch = _json_object(raw, "the patch")
        current = await self.get(workflow_id)
        workflow = parse_workflow(_merge_patch(json.loads(current.definition), patch))
        return await self._save(current, workflow)

    async def delete(self, workflow_id: str) -> None:
        if not await self._store.delete(workflow_id):
            raise NotFound(f"no workflow with id {workflow_id!r}")
        log.info("Deleted workflow", workflow_id=workflow_id)
        await self._on_change(workflow_id)

    async def _save(self, current: WorkflowRecord, workflow: Workflow) -> WorkflowRecord:
        await self._check_credentials(workflow)
        await check_workflow_refs(workflow, current.id, self._store)
        updated_at = self._clock()
        if updated_at <= current.updated_at:  # keep updatedAt strictly increasing
            updated_at = current.updated_at + timedelta(microseconds=1)
        record = WorkflowRecord.from_workflow(
            workflow, id=current.id, created_at=current.created_at, updated_at=updated_at
        )
        await self._store.update(record)
        log.info("Updated workflow", workflow_id=record.id, name=record.name, active=record.active)
        await self._on_change(record.id)
        return record
