"""Signing for the console: one secret signs CSRF tokens and session cookies.

The secret is ``HOOKLINE_SECRET_KEY`` when set, else derived from the API key, else
random per process. Every edge that shares it accepts the others' sessions and CSRF
tokens, so the console works behind a load balancer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

__all__ = ["SESSION_SECONDS", "ConsoleSigner"]

SESSION_SECONDS = 12 * 3600
"""How long a console session lasts after logging in."""


@dataclass(frozen=True, slots=True)
class ConsoleSigner:
    """Signs the console's CSRF tokens and session cookies with one secret."""

    secret: bytes

    @classmethod
    def from_settings(cls, secret_key: str | None, api_key: str | None) -> ConsoleSigner:
        """``HOOKLINE_SECRET_KEY``, else derived from the API key, else random."""
        if secret_key:
            return cls(hashlib.sha256(b"hookline secret key|" + secret_key.encode()).digest())
        if api_key:
            return cls(hmac.new(api_key.encode(), b"hookline console", hashlib.sha256).digest())
        return cls(secrets.token_bytes(32))

    def _mac(self, purpose: bytes, message: bytes) -> str:
        return hmac.new(self.secret, purpose + b"|" + message, hashlib.sha256).hexdigest()

    @property
    def csrf_secret(self) -> str:
        return self._mac(b"csrf", b"")

    def session_token(self, api_key: str, now: float | None = None) -> str:
        """A session for whoever proved ``api_key``: ``EXPIRES.MAC``."""
        expires = str(int((time.time() if now is None else now) + SESSION_SECONDS))
        return f"{expires}.{self._session_mac(expires, api_key)}"

    def valid_session(self, token: str | None, api_key: str, now: float | None = None) -> bool:
        """True for an unexpired token signed with this secret for this API key."""
        expires, _, mac = (token or "").partition(".")
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return False
        mac_ok = hmac.compare_digest(mac.encode(), self._session_mac(expires, api_key).encode())
        return mac_ok and int(expires) > (time.time() if now is None else now)

    def _session_mac(self, expires: str, api_key: str) -> str:
        # Bound to the key: changing HOOKLINE_API_KEY ends every session.
        key_digest = hashlib.sha256(api_key.encode()).hexdigest()
        return self._mac(b"session", f"{expires}|{key_digest}".encode())
