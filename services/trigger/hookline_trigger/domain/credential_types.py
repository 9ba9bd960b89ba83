"""Credential types, the shape of their values, and the records that hold them
(DESIGN.md section 2).

| type         | data                   | used by                                          |
|--------------|------------------------|--------------------------------------------------|
| ``httpHeader`` | ``{name, value}``      | httpRequest (adds the header), webhook ``header`` |
| ``httpBasic``  | ``{username, password}`` | httpRequest (Authorization: Basic), webhook ``basic`` |
| ``bearer``     | ``{token}``            | httpRequest (Authorization: Bearer)               |
| ``hmac``       | ``{secret}``           | webhook ``hmac``                                  |

``validate_document`` checks a ``{name, type, data}`` document; its errors name the
field (``data.token: is required``) and never repeat a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from hookline_runtime.errors import InvalidArgument

__all__ = [
    "CREDENTIAL_TYPES",
    "HTTP_REQUEST_TYPES",
    "WEBHOOK_AUTH_TYPES",
    "CredentialDocument",
    "CredentialRecord",
    "ResolvedCredential",
    "validate_data",
    "validate_document",
]

_MAX_VALUE = 16 * 1024
# Printable text without control characters (no CR/LF: values go into HTTP headers).
_TEXT = r"^[^\x00-\x1f\x7f]*$"

Value = Annotated[str, StringConstraints(min_length=1, max_length=_MAX_VALUE, pattern=_TEXT)]
OptionalValue = Annotated[str, StringConstraints(max_length=_MAX_VALUE, pattern=_TEXT)]
HeaderName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
]
UserName = Annotated[
    str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f:]*$")
]
_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class HttpHeaderData(_Data):
    name: HeaderName
    value: Value


class HttpBasicData(_Data):
    username: UserName
    password: OptionalValue


class BearerData(_Data):
    token: Value


class HmacData(_Data):
    secret: Value


DATA_MODELS: dict[str, type[_Data]] = {
    "httpHeader": HttpHeaderData,
    "httpBasic": HttpBasicData,
    "bearer": BearerData,
    "hmac": HmacData,
}
CREDENTIAL_TYPES = tuple(DATA_MODELS)

HTTP_REQUEST_TYPES = ("httpHeader", "httpBasic", "bearer")
"""Credential types an httpRequest node's ``credential`` may name."""

WEBHOOK_AUTH_TYPES: dict[str, str] = {"header": "httpHeader", "basic": "httpBasic", "hmac": "hmac"}
"""Webhook auth type -> the credential type its ``credential`` must name."""


@dataclass(frozen=True, slots=True)
class CredentialDocument:
    """A validated ``{name, type, data}``; ``data`` None when it was left out."""

    name: str
    type: str
    data: dict[str, str] | None

    def __repr__(self) -> str:
        return f"CredentialDocument(name={self.name!r}, type={self.type!r}, data=<hidden>)"


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """One row of the ``credentials`` table; ``sealed`` is the encrypted values."""

    id: str
    name: str
    type: str
    sealed: bytes
    created_at: datetime
    updated_at: datetime

    def __repr__(self) -> str:
        return f"CredentialRecord(id={self.id!r}, name={self.name!r}, type={self.type!r})"


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    """A credential's decrypted values; its repr never shows them."""

    name: str
    type: str
    data: dict[str, str]

    def __repr__(self) -> str:
        return f"ResolvedCredential(name={self.name!r}, type={self.type!r}, data=<hidden>)"


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(["data", *(str(part) for part in err["loc"])])
    if err["type"] == "extra_forbidden":
        return f"{where}: is not a field of this credential type"
    if err["type"] == "missing":
        return f"{where}: is required"
    if err["type"] == "string_type":
        return f"{where}: must be a string"
    if err["type"] == "string_too_short":
        return f"{where}: must not be empty"
    if err["type"] == "string_too_long":
        return f"{where}: is too long"
    if err["type"] == "string_pattern_mismatch":
        return f"{where}: holds characters that are not allowed here"
    return f"{where}: {err['msg']}"


def validate_data(type_: str, data: Any) -> dict[str, str]:
    """The values of a ``type_`` credential; InvalidArgument naming the field."""
    if not isinstance(data, Mapping):
        raise InvalidArgument("data: must be an object", field="data")
    try:
        model = DATA_MODELS[type_].model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidArgument(_message(exc), field="data") from None
    return {key: str(value) for key, value in model.model_dump().items()}


def validate_document(document: Any, *, data_required: bool = True) -> CredentialDocument:
    """Check ``{name, type, data}``; InvalidArgument naming the bad field."""
    if not isinstance(document, Mapping):
        raise InvalidArgument("the credential must be a JSON object")
    unknown = [key for key in document if key not in ("name", "type", "data", "id")]
    unknown = [k for k in unknown if k not in ("createdAt", "updatedAt")]
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: is not a known field", field=str(unknown[0]))
    name = document.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.strip():
        raise InvalidArgument(
            "name: is required: 1 to 255 characters, no control characters, no leading or "
            "trailing spaces",
            field="name",
        )
    type_ = document.get("type")
    if type_ not in DATA_MODELS:
        raise InvalidArgument(f"type: must be one of {', '.join(CREDENTIAL_TYPES)}", field="type")
    if "data" not in document or document["data"] is None:
        if data_required:
            raise InvalidArgument("data: is required", field="data")
        return CredentialDocument(name, str(type_), None)
    return CredentialDocument(name, str(type_), validate_data(str(type_), document["data"]))
