"""The trigger service's own errors, specialising the project's tree.

hookline_runtime.errors.HooklineError
├── hookline_runtime.errors.AlreadyExists
│   ├── WebhookRouteTaken        an active workflow already owns that method+path
│   ├── CredentialNameTaken      another credential has that name
│   └── CredentialInUse          active workflows use the credential (a conflict, 409)
└── hookline_runtime.errors.FailedPrecondition   not set up for this call
    ├── EncryptionKeyMissing     no HOOKLINE_ENCRYPTION_KEY: credentials cannot be stored
    ├── EncryptionKeyInvalid     HOOKLINE_ENCRYPTION_KEY is not 32 bytes of base64
    └── CredentialUnreadable     the key does not open a stored credential

No message ever holds a credential's value or the key.
"""

from __future__ import annotations

from collections.abc import Sequence

from hookline_runtime.errors import AlreadyExists, FailedPrecondition

__all__ = [
    "CredentialInUse",
    "CredentialNameTaken",
    "CredentialUnreadable",
    "EncryptionKeyInvalid",
    "EncryptionKeyMissing",
    "FailedPrecondition",
    "WebhookRouteTaken",
]

ENCRYPTION_KEY_VARIABLE = "HOOKLINE_ENCRYPTION_KEY"


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


class CredentialNameTaken(AlreadyExists):
    """Credential names are unique."""

    def __init__(self, name: str) -> None:
        super().__init__(f'name: a credential named "{name}" already exists')
        self.name = name


class CredentialInUse(AlreadyExists):
    """Active workflows use the credential; ``workflows`` lists (id, name) pairs."""

    def __init__(self, name: str, workflows: Sequence[tuple[str, str]], *, action: str) -> None:
        listed = ", ".join(f'"{wf_name}" ({wf_id})' for wf_id, wf_name in workflows)
        super().__init__(
            f'credential "{name}" is used by active workflows: {listed}; deactivate them or '
            f"change them to use another credential before you {action} it"
        )
        self.name = name
        self.workflows = tuple(workflows)


class EncryptionKeyMissing(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__(
            "credentials cannot be stored or read: this server has no encryption key; set "
            f"{ENCRYPTION_KEY_VARIABLE} on the trigger service to 32 random bytes in url-safe "
            "base64 (python -c 'import base64,os; "
            "print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
        )


class EncryptionKeyInvalid(FailedPrecondition):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"{ENCRYPTION_KEY_VARIABLE} must be 32 random bytes in url-safe base64; {reason}"
        )


class CredentialUnreadable(FailedPrecondition):
    def __init__(self, name: str) -> None:
        super().__init__(
            f'credential "{name}" cannot be decrypted with this {ENCRYPTION_KEY_VARIABLE} '
            "(was the key changed?); set the key it was stored with, or store it again"
        )
        self.name = name
