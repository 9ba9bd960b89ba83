"""Where a workflow names credentials, and whether those names are right.

A workflow names a credential in an ``httpRequest`` node's ``credential`` parameter
and in a webhook's ``auth.credential``. ``check_refs`` is run when a workflow is saved:
an unknown name, or a credential of a type the field cannot use, is an
``InvalidArgument`` naming the node and field. ``credential_users`` finds the
workflows that use a credential (to refuse deleting it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hookline_runtime.errors import InvalidArgument
from hookline_trigger.domain.credential_types import HTTP_REQUEST_TYPES, WEBHOOK_AUTH_TYPES

__all__ = ["CredentialRef", "check_refs", "credential_refs", "credential_users"]

TypesOf = Callable[[set[str]], Awaitable[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class CredentialRef:
    node: str
    field: str
    """The parameter, as messages name it: ``credential`` or ``auth.credential``."""
    name: str
    types: tuple[str, ...]
    """The credential types this field can use."""


def credential_refs(definition: Mapping[str, Any]) -> list[CredentialRef]:
    """Every credential a workflow JSON document names."""
    refs: list[CredentialRef] = []
    nodes = definition.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, Mapping):
            continue
        params = node.get("parameters")
        if not isinstance(params, Mapping):
            continue
        name = str(node.get("name", ""))
        if node.get("type") == "httpRequest" and isinstance(params.get("credential"), str):
            refs.append(CredentialRef(name, "credential", params["credential"], HTTP_REQUEST_TYPES))
        auth = params.get("auth") if node.get("type") == "webhook" else None
        if isinstance(auth, Mapping) and isinstance(auth.get("credential"), str):
            wanted = WEBHOOK_AUTH_TYPES.get(str(auth.get("type")))
            if wanted is not None:
                refs.append(CredentialRef(name, "auth.credential", auth["credential"], (wanted,)))
    return refs


def _types_text(types: tuple[str, ...]) -> str:
    return types[0] if len(types) == 1 else ", ".join(types[:-1]) + " or " + types[-1]


async def check_refs(definition: Mapping[str, Any], types_of: TypesOf) -> None:
    """InvalidArgument naming the node and field of the first credential that does
    not exist or is of the wrong type."""
    refs = credential_refs(definition)
    if not refs:
        return
    known = await types_of({ref.name for ref in refs})
    for ref in refs:
        where = f'node "{ref.node}" parameter {ref.field}'
        found = known.get(ref.name)
        if found is None:
            raise InvalidArgument(
                f'{where}: no credential named "{ref.name}" (create it with POST '
                "/api/v1/credentials)",
                field=ref.node,
            )
        if found not in ref.types:
            raise InvalidArgument(
                f'{where}: credential "{ref.name}" is of type {found}; this field takes '
                f"{_types_text(ref.types)}",
                field=ref.node,
            )


def credential_users(
    workflows: Iterable[tuple[str, str, Mapping[str, Any]]], name: str
) -> list[tuple[str, str]]:
    """(id, name) of each of ``workflows`` (id, name, definition) that names ``name``."""
    return [
        (workflow_id, workflow_name)
        for workflow_id, workflow_name, definition in workflows
        if any(ref.name == name for ref in credential_refs(definition))
    ]
