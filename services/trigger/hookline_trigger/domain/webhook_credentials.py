"""Webhook auth that names a credential: ``{"type": "hmac", "header", "credential"}``
(an ``hmac`` credential), ``{"type": "header", "name", "credential"}`` (``httpHeader``)
and ``{"type": "basic", "credential"}`` (``httpBasic``).

``resolve_auth`` gives the same auth with the credential's values filled in, ready
for ``webhook_auth.authenticate``. A credential that is gone, of the wrong type or
unreadable fails closed (``AuthUnresolvable``: the call is answered 401 and the
reason logged, never the values).
"""

from __future__ import annotations

from typing import Protocol

from hookline_runtime.errors import NotFound
from hookline_runtime.workflow import BasicAuth, HeaderAuth, HmacAuth
from hookline_trigger.domain.credential_types import WEBHOOK_AUTH_TYPES, ResolvedCredential
from hookline_trigger.domain.errors import FailedPrecondition
from hookline_trigger.domain.webhook_auth import WebhookAuth

__all__ = ["AuthUnresolvable", "CredentialResolver", "resolve_auth"]


class CredentialResolver(Protocol):
    async def resolve(self, name: str) -> ResolvedCredential:
        """The credential's values; ``NotFound`` when there is none by that name."""


class AuthUnresolvable(Exception):
    """The credential an auth names cannot be used; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def resolve_auth(
    auth: WebhookAuth | None, resolver: CredentialResolver | None
) -> WebhookAuth | None:
    """``auth`` with the values of the credential it names; unchanged when it names
    none. ``Unavailable`` (the database) passes through."""
    name = getattr(auth, "credential", None)
    if auth is None or name is None:
        return auth
    if resolver is None:
        raise AuthUnresolvable("credentials are not available in this service")
    try:
        credential = await resolver.resolve(name)
    except NotFound:
        raise AuthUnresolvable(f'no credential named "{name}"') from None
    except FailedPrecondition as exc:
        raise AuthUnresolvable(exc.message) from None
    wanted = WEBHOOK_AUTH_TYPES.get(auth.type)
    if credential.type != wanted:
        raise AuthUnresolvable(
            f'credential "{name}" is of type {credential.type}; {auth.type} auth needs {wanted}'
        )
    data = credential.data
    if isinstance(auth, HmacAuth):
        return HmacAuth(type="hmac", header=auth.header, secret=data["secret"])
    if isinstance(auth, HeaderAuth):
        return HeaderAuth(type="header", name=auth.name, value=data["value"])
    if isinstance(auth, BasicAuth):
        return BasicAuth(type="basic", username=data["username"], password=data["password"])
    raise AuthUnresolvable(f"{auth.type} auth does not take a credential")
