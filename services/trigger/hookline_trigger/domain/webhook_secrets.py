"""Write-only webhook secrets.

The stored definition keeps every secret of a webhook's ``auth`` (the trigger needs it
to authenticate calls), but no answer shows one: ``masked`` replaces each secret field
(``value`` of ``header``, ``password`` of ``basic``, ``secret`` of ``hmac``, ``slack``
and ``stripe``) by ``SECRET_PLACEHOLDER``. A document sent back unchanged therefore
round-trips: on replace, ``restore_secrets`` puts the stored secret back wherever the
new document omits the field or sends the placeholder, as long as the auth ``type``
is unchanged; a new value replaces the stored one. The placeholder is never stored as
a secret: without a stored one to keep, it is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hookline_runtime.errors import InvalidArgument

__all__ = ["SECRET_FIELDS", "SECRET_PLACEHOLDER", "masked", "restore_secrets"]

SECRET_PLACEHOLDER = "********"

SECRET_FIELDS: dict[str, str] = {
    "header": "value",
    "basic": "password",
    "hmac": "secret",
    "slack": "secret",
    "stripe": "secret",
}
"""Auth type -> the field that holds its secret."""


def _webhook_auth(definition: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The (node name, auth object) of the definition's webhook node, if it has one."""
    nodes = definition.get("nodes")
    if not isinstance(nodes, list):
        return None
    for node in nodes:
        if not isinstance(node, dict) or node.get("type") != "webhook":
            continue
        parameters = node.get("parameters")
        auth = parameters.get("auth") if isinstance(parameters, dict) else None
        if isinstance(auth, dict):
            return str(node.get("name", "")), auth
    return None


def masked(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``definition`` whose webhook secret (if any) is the placeholder."""
    found = _webhook_auth(definition)
    if found is None:
        return definition
    field = SECRET_FIELDS.get(str(found[1].get("type")))
    if field is None or field not in found[1]:
        return definition
    out = copy.deepcopy(definition)
    found = _webhook_auth(out)
    assert found is not None
    found[1][field] = SECRET_PLACEHOLDER
    return out


def restore_secrets(definition: dict[str, Any], stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """``definition`` (changed in place and returned) with the webhook secret taken
    from ``stored`` where it is omitted or the placeholder; ``InvalidArgument`` when
    the placeholder is sent and there is no stored secret of that auth type."""
    found = _webhook_auth(definition)
    if found is None:
        return definition
    node_name, auth = found
    field = SECRET_FIELDS.get(str(auth.get("type")))
    if field is None or (field in auth and auth[field] != SECRET_PLACEHOLDER):
        return definition  # no secret here, or a new value: validation takes it as is
    if "credential" in auth and field not in auth:
        return definition  # the secret is a stored credential's: nothing to restore
    previous = _webhook_auth(stored) if stored is not None else None
    if previous is not None and previous[1].get("type") == auth.get("type"):
        secret = previous[1].get(field)
        if isinstance(secret, str):
            auth[field] = secret
            return definition
    if auth.get(field) == SECRET_PLACEHOLDER:
        raise InvalidArgument(
            f'node "{node_name}" parameter auth.{field}: "{SECRET_PLACEHOLDER}" stands for a '
            "stored secret, and there is none to keep; send the secret itself",
            field=node_name,
        )
    return definition  # omitted and nothing to keep: validation names the missing field
