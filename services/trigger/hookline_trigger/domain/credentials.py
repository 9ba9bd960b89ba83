"""Credentials: create, page, replace and delete them, and resolve their values.

Values are write-only. They are validated (``credential_types``), sealed with the
``CredentialCipher`` before they reach the store, and leave this service only through
``resolve`` — for webhook authentication here, and for the execution service's
``ResolveCredential`` calls. Answers carry metadata (``CredentialRecord`` without
``sealed``). Without an encryption key (``hookline serve`` with
HOOKLINE_ENCRYPTION_KEY unset) metadata can still be read, but storing or resolving
a credential fails with ``EncryptionKeyMissing``.

Workflows name credentials: a credential that an active workflow uses cannot be
deleted, renamed or given another type (``CredentialInUse`` names the workflows).
Resolved values are cached in the process for ``cache_seconds``: another replica's
change is seen within that time, this replica's at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookline_runtime.clock import utcnow
from hookline_runtime.errors import InvalidArgument, NotFound
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.strict_json import JsonRejected, loads_strict
from hookline_trigger.domain.credential_cipher import CredentialCipher
from hookline_trigger.domain.credential_refs import credential_users
from hookline_trigger.domain.credential_types import (
    CredentialDocument,
    CredentialRecord,
    ResolvedCredential,
    validate_document,
)
from hookline_trigger.domain.errors import (
    CredentialInUse,
    EncryptionKeyMissing,
)
from hookline_trigger.domain.paging import PageKey, decode_cursor, encode_cursor, page_limit
from hookline_trigger.domain.ports import CredentialStore, CredentialUsers

__all__ = ["CredentialManager", "CredentialPage"]

log = get_logger(__name__)

DEFAULT_CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CredentialPage:
    credentials: list[CredentialRecord]
    next_cursor: str
    """Empty on the last page."""


def _document(raw: bytes, *, data_required: bool) -> CredentialDocument:
    try:
        parsed = loads_strict(raw) if raw else None
    except JsonRejected as exc:
        raise InvalidArgument(f"the credential is not valid JSON: {exc}") from None
    return validate_document(parsed, data_required=data_required)


class CredentialManager:
    """The credential rules, over a ``CredentialStore`` (and the workflows that use
    credentials, from the ``WorkflowStore``)."""

    def __init__(
        self,
        store: CredentialStore,
        workflows: CredentialUsers,
        cipher: CredentialCipher | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
    ) -> None:
        self._store = store
        self._workflows = workflows
        self._cipher = cipher
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ResolvedCredential]] = {}

    def _sealer(self) -> CredentialCipher:
        if self._cipher is None:
            raise EncryptionKeyMissing()
        return self._cipher

    async def create(self, raw: bytes) -> CredentialRecord:
        document = _document(raw, data_required=True)
        assert document.data is not None
        cipher = self._sealer()
        now = self._clock()
        credential_id = new_id()
        record = CredentialRecord(
            id=credential_id,
            name=document.name,
            type=document.type,
            sealed=cipher.seal(credential_id, document.data),
            created_at=now,
            updated_at=now,
        )
        await self._store.insert(record)
        log.info("Created credential", credential_id=record.id, name=record.name, type=record.type)
        return record

    async def get(self, credential_id: str) -> CredentialRecord:
        record = await self._store.get(credential_id)
        if record is None:
            raise NotFound(f"no credential with id {credential_id!r}")
        return record

    async def list(self, *, limit: int, cursor: str) -> CredentialPage:
        size = page_limit(limit)
        rows = await self._store.page(decode_cursor(cursor), size + 1)
        page, more = rows[:size], len(rows) > size
        next_cursor = encode_cursor(PageKey(page[-1].created_at, page[-1].id)) if more else ""
        return CredentialPage(page, next_cursor)

    async def replace(self, credential_id: str, raw: bytes) -> CredentialRecord:
        """New name, type and values; ``data`` left out keeps the stored values when
        the type is unchanged. Renaming or retyping one that active workflows use is a
        conflict."""
        document = _document(raw, data_required=False)
        current = await self.get(credential_id)
        if document.data is None and document.type != current.type:
            raise InvalidArgument(
                "data: is required when the type changes (the stored values are of type "
                f"{current.type})",
                field="data",
            )
        cipher = self._sealer()
        if document.name != current.name or document.type != current.type:
            await self._refuse_if_used(current, action="rename or retype")
        sealed = (
            cipher.seal(current.id, document.data) if document.data is not None else current.sealed
        )
        updated_at = self._clock()
        if updated_at <= current.updated_at:  # keep updatedAt strictly increasing
            updated_at = current.updated_at + timedelta(microseconds=1)
        record = CredentialRecord(
            id=current.id,
            name=document.name,
            type=document.type,
            sealed=sealed,
            created_at=current.created_at,
            updated_at=updated_at,
        )
        await self._store.update(record)
        self._forget(current.name, record.name)
        log.info("Replaced credential", credential_id=record.id, name=record.name, type=record.type)
        return record

    async def delete(self, credential_id: str) -> None:
        current = await self.get(credential_id)
        await self._refuse_if_used(current, action="delete")
        if not await self._store.delete(credential_id):
            raise NotFound(f"no credential with id {credential_id!r}")
        self._forget(current.name)
        log.info("Deleted credential", credential_id=credential_id, name=current.name)

    async def types_of(self, names: set[str]) -> dict[str, str]:
        """Name -> type of the credentials among ``names`` that exist."""
        if not names:
            return {}
        return await self._store.types_of(names)

    async def resolve(self, name: str) -> ResolvedCredential:
        """The decrypted values of the credential ``name``; ``NotFound`` when there is
        none, ``EncryptionKeyMissing`` / ``CredentialUnreadable`` when they cannot be
        read."""
        cached = self._cache.get(name)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        cipher = self._sealer()
        record = await self._store.by_name(name)
        if record is None:
            self._cache.pop(name, None)
            raise NotFound(f'no credential named "{name}"')
        resolved = ResolvedCredential(
            record.name, record.type, cipher.open(record.id, record.name, record.sealed)
        )
        self._cache[name] = (now, resolved)
        return resolved

    def _forget(self, *names: str) -> None:
        for name in names:
            self._cache.pop(name, None)

    async def _refuse_if_used(self, record: CredentialRecord, *, action: str) -> None:
        candidates = await self._workflows.active_with_credentials()
        users = credential_users(
            ((wf.id, wf.name, json.loads(wf.definition)) for wf in candidates), record.name
        )
        if users:
            raise CredentialInUse(record.name, users, action=action)
