"""Webhook authentication (DESIGN.md section 2): a shared header value, HTTP Basic,
or an HMAC-SHA256 signature of the raw body. Every comparison is constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from runtime.workflow import BasicAuth, HeaderAuth, HmacAuth

__all__ = ["WebhookAuth", "authenticate", "secret_headers"]

WebhookAuth = HeaderAuth | BasicAuth | HmacAuth

_ALWAYS_HIDDEN = frozenset({"authorization", "proxy-authorization"})


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    values = headers.get(name.lower())
    return values[0] if values else None


def _basic(auth: BasicAuth, given: str | None) -> bool:
    if given is None:
        return False
    scheme, _, token = given.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        # A non-ASCII token is a ValueError of its own (not a binascii.Error).
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        return False
    username, colon, password = decoded.partition(":")
    # Both comparisons always run, so timing does not tell which one failed.
    user_ok = _equal(username, auth.username)
    password_ok = _equal(password, auth.password)
    return bool(colon) and user_ok and password_ok


def _hmac(auth: HmacAuth, given: str | None, body: bytes) -> bool:
    if given is None:
        return False
    signature = given.strip()
    if signature[:7].lower() == "sha256=":
        signature = signature[7:]
    expected = hmac.new(auth.secret.encode(), body, hashlib.sha256).hexdigest()
    return _equal(signature.lower(), expected)


def authenticate(auth: WebhookAuth | None, headers: Mapping[str, list[str]], body: bytes) -> bool:
    """True when the call passes the webhook's auth (or it has none).
    ``headers`` maps lower-case names to values."""
    if auth is None:
        return True
    if isinstance(auth, HeaderAuth):
        given = _first(headers, auth.name)
        return given is not None and _equal(given, auth.value)
    if isinstance(auth, BasicAuth):
        return _basic(auth, _first(headers, "authorization"))
    return _hmac(auth, _first(headers, auth.header), body)


def secret_headers(auth: WebhookAuth | None) -> frozenset[str]:
    """Lower-case names of headers that carry credentials, kept out of the execution."""
    if isinstance(auth, HeaderAuth):
        return _ALWAYS_HIDDEN | {auth.name.lower()}
    if isinstance(auth, HmacAuth):
        return _ALWAYS_HIDDEN | {auth.header.lower()}
    return _ALWAYS_HIDDEN
