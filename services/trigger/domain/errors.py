"""The trigger service's own errors, specialising the project's tree.

runtime.errors.AlreadyExists
└── WebhookRouteTaken        an active workflow already owns that method+path
"""

from __future__ import annotations

from runtime.errors import AlreadyExists

__all__ = ["WebhookRouteTaken"]


class WebhookRouteTaken(AlreadyExists):
    """An active workflow already owns the webhook ``method`` ``path``."""

    def __init__(self, *, method: str, path: str, owner_id: str, owner_name: str) -> None:
        super().__init__(
            f"webhook {method} /webhook/{path} is already used by active workflow "
            f'"{owner_name}" ({owner_id}); deactivate it or choose another path or method'
        )
        self.method = method
        self.path = path
        self.owner_id = owner_id
        self.owner_name = owner_name
