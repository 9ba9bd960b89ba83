"""HTTP bodies of ``/api/v1/credentials`` and the conversion from the trigger
service's messages. A credential's answer is its metadata; the values are write-only
and have no field here to leak through."""

from __future__ import annotations

import msgspec
from hookline.trigger.v1 import trigger_service_pb2 as pb

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


def metadata_of(message: pb.Credential) -> CredentialMetadata:
    return CredentialMetadata(
        id=message.id,
        name=message.name,
        type=message.type,
        created_at=to_iso(message.create_time.ToDatetime()),
        updated_at=to_iso(message.update_time.ToDatetime()),
    )
