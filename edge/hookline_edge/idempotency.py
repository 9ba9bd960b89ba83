"""The ``Idempotency-Key`` request header at the edge (IETF httpapi draft
``draft-ietf-httpapi-idempotency-key-header``; DESIGN.md section 8).

The edge checks the key (1..255 visible ASCII characters, optionally sent as a
quoted string as the draft's structured-field form has it; anything else is 400)
and computes the request's fingerprint — method, path, query, Content-Type and body;
other headers do not count — and hands both to the trigger service, which decides.
Answers to a repeat carry ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Request

from hookline_edge.errors import EXECUTION_ID_HEADER, EdgeError

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "fingerprint",
    "idempotency_key",
    "not_kept",
    "reused",
]

IDEMPOTENCY_KEY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def idempotency_key(request: Request[Any, Any, Any]) -> str:
    """The request's key, or "" when it has none; 400 when it is malformed."""
    values = request.headers.getall(IDEMPOTENCY_KEY_HEADER, [])
    if not values:
        return ""
    if len(values) > 1:
        raise _malformed("send one Idempotency-Key header")
    key = values[0].strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise _malformed(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    if not all(" " <= ch <= "~" for ch in key):
        raise _malformed("an Idempotency-Key holds visible ASCII characters only")
    return key


def fingerprint(request: Request[Any, Any, Any], body: bytes) -> bytes:
    """What makes two requests with one key "the same request"."""
    digest = hashlib.sha256()
    for part in (
        request.method.upper().encode(),
        request.scope["raw_path"] if "raw_path" in request.scope else request.url.path.encode(),
        request.scope.get("query_string", b""),
        request.headers.get("content-type", "").encode("latin-1"),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    digest.update(body)
    return digest.digest()


def reused(execution_id: str) -> EdgeError:
    return EdgeError(
        422,
        "this Idempotency-Key was already used with a different request",
        error="idempotency_key_reused",
        extra={"executionId": execution_id},
    )


def not_kept(execution_id: str) -> EdgeError:
    """A repeat after the run whose response was too large to keep."""
    return EdgeError(
        409,
        "the execution this Idempotency-Key started has ended, and its response was too "
        f"large to keep for repeats; fetch /api/v1/executions/{execution_id}",
        error="response_not_kept",
        extra={"executionId": execution_id},
        headers={EXECUTION_ID_HEADER: execution_id, REPLAYED_HEADER: "true"},
    )


def _malformed(message: str) -> EdgeError:
    return EdgeError(400, message, error="invalid_idempotency_key")
