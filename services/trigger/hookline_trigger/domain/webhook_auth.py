"""Webhook authentication (DESIGN.md section 2): a shared header value, HTTP Basic, an
HMAC-SHA256 signature of the raw body, or a timestamped signature as Slack and Stripe
send them (refused outside ``toleranceSeconds`` of now, so a captured delivery cannot
be replayed later). Every comparison is constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from hookline_runtime.workflow import BasicAuth, HeaderAuth, HmacAuth, SlackAuth, StripeAuth

__all__ = ["WebhookAuth", "authenticate", "secret_headers"]

WebhookAuth = HeaderAuth | BasicAuth | HmacAuth | SlackAuth | StripeAuth

_ALWAYS_HIDDEN = frozenset({"authorization", "proxy-authorization"})
SLACK_SIGNATURE = "x-slack-signature"
SLACK_TIMESTAMP = "x-slack-request-timestamp"
STRIPE_SIGNATURE = "stripe-signature"
_MAX_TIMESTAMP_DIGITS = 12
_MAX_STRIPE_SIGNATURES = 16


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    values = headers.get(name.lower())
    return values[0] if values else None


def _basic(auth: BasicAuth, given: str | None) -> bool:
    if given is None or auth.username is None or auth.password is None:
        return False  # a credential's values not filled in: fail closed
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


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _hmac(auth: HmacAuth, given: str | None, body: bytes) -> bool:
    if given is None or auth.secret is None:
        return False
    signature = given.strip()
    if signature[:7].lower() == "sha256=":
        signature = signature[7:]
    return _equal(signature.lower(), _hex_hmac(auth.secret, body))


def _timestamp(text: str | None) -> int | None:
    """Whole Unix seconds, or None when ``text`` is not a plain short number."""
    if text is None:
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_TIMESTAMP_DIGITS):
        return None
    return int(text)


def _fresh(timestamp: int, tolerance: int, now: float) -> bool:
    return abs(now - timestamp) <= tolerance


def _slack(auth: SlackAuth, headers: Mapping[str, list[str]], body: bytes, now: float) -> bool:
    given, raw_time = _first(headers, SLACK_SIGNATURE), _first(headers, SLACK_TIMESTAMP)
    timestamp = _timestamp(raw_time)
    if given is None or timestamp is None or raw_time is None:
        return False
    expected = "v0=" + _hex_hmac(auth.secret, b"v0:" + raw_time.strip().encode() + b":" + body)
    signature_ok = _equal(given.strip().lower(), expected)
    return signature_ok and _fresh(timestamp, auth.toleranceSeconds, now)


def _stripe(auth: StripeAuth, given: str | None, body: bytes, now: float) -> bool:
    if given is None:
        return False
    raw_time: str | None = None
    signatures: list[str] = []
    for item in given.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and raw_time is None:
            raw_time = value
        elif key == "v1" and len(signatures) < _MAX_STRIPE_SIGNATURES:
            signatures.append(value.strip().lower())
    timestamp = _timestamp(raw_time)
    if timestamp is None or raw_time is None or not signatures:
        return False
    expected = _hex_hmac(auth.secret, raw_time.strip().encode() + b"." + body)
    # Every listed signature is compared (no early exit): several are sent while a
    # secret is being rolled.
    matches = [_equal(signature, expected) for signature in signatures]
    return any(matches) and _fresh(timestamp, auth.toleranceSeconds, now)


def authenticate(
    auth: WebhookAuth | None,
    headers: Mapping[str, list[str]],
    body: bytes,
    *,
    now: float | None = None,
) -> bool:
    """True when the call passes the webhook's auth (or it has none); auth naming a
    credential must have been resolved first (``webhook_credentials``), or it fails.
    ``headers`` maps lower-case names to values; ``now`` (Unix seconds, default the
    clock) is what timestamped signatures are checked against."""
    if auth is None:
        return True
    if isinstance(auth, HeaderAuth):
        given = _first(headers, auth.name)
        return given is not None and auth.value is not None and _equal(given, auth.value)
    if isinstance(auth, BasicAuth):
        return _basic(auth, _first(headers, "authorization"))
    if isinstance(auth, HmacAuth):
        return _hmac(auth, _first(headers, auth.header), body)
    clock = time.time() if now is None else now
    if isinstance(auth, SlackAuth):
        return _slack(auth, headers, body, clock)
    return _stripe(auth, _first(headers, STRIPE_SIGNATURE), body, clock)


def secret_headers(auth: WebhookAuth | None) -> frozenset[str]:
    """Lower-case names of headers that carry credentials, kept out of the execution."""
    if isinstance(auth, HeaderAuth):
        return _ALWAYS_HIDDEN | {auth.name.lower()}
    if isinstance(auth, HmacAuth):
        return _ALWAYS_HIDDEN | {auth.header.lower()}
    if isinstance(auth, SlackAuth):
        return _ALWAYS_HIDDEN | {SLACK_SIGNATURE}
    if isinstance(auth, StripeAuth):
        return _ALWAYS_HIDDEN | {STRIPE_SIGNATURE}
    return _ALWAYS_HIDDEN
