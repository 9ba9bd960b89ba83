"""The ``X-API-Key`` guard of the management API."""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

__all__ = ["API_KEY_HEADER", "api_key_guard"]

API_KEY_HEADER = "X-API-Key"


def api_key_guard(expected: str | None) -> list[Guard]:
    """Guards requiring ``X-API-Key == expected`` (compared in constant time); none when
    no key is configured."""
    if not expected:
        return []
    wanted = expected.encode()

    def require_api_key(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        given = connection.headers.get(API_KEY_HEADER, "").encode()
        if not hmac.compare_digest(given, wanted):
            raise NotAuthorizedException(detail="a valid X-API-Key header is required")

    return [require_api_key]
