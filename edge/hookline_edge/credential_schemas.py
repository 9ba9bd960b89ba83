"""HTTP bodies of ``/api/v1/credentials`` and the conversion from the
``CredentialAdmin`` port's ``CredentialInfo``. A credential's answer is its metadata;
the values are write-only and have no field here to leak through."""

from __future__ import annotations

import msgspec

from hookline_edge.ports import CredentialInfo
from hookline_runtime.clock import to_iso

__all__ = ["CredentialMetadata", "CredentialPage", "metadata_of"]


class CredentialMetadata(msgspec.Struct, rename="camel"):
    """A stored credential, without its values."""

    id: str
    name: str
    type: str
    created_at: str
    updated_at: str


class CredentialPage(msgspec.Struct, rename="camel"):
    data: list[CredentialMetadata]
    next_cursor: str | None


def metadata_of(info: CredentialInfo) -> CredentialMetadata:
    return CredentialMetadata(
        id=info.id,
        name=info.name,
        type=info.type,
        created_at=to_iso(info.created_at),
        updated_at=to_iso(info.updated_at),
    )
