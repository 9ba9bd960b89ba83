"""Encryption of credential values at rest (DESIGN.md section 2, "Credentials").

The key is ``HOOKLINE_ENCRYPTION_KEY``: 32 random bytes in url-safe base64. Values are
sealed with AES-256-GCM from the ``cryptography`` package: a fresh random 96-bit
nonce per value, and the credential's id as associated data, so a sealed value copied
onto another row does not open. The stored form is ``version byte ‖ nonce ‖
ciphertext+tag``. Nothing here is hand-rolled: the AEAD does all the work.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hookline_trigger.domain.errors import CredentialUnreadable, EncryptionKeyInvalid

__all__ = ["KEY_BYTES", "CredentialCipher", "cipher_for", "generate_key_text", "parse_key"]

KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"\x01"
_AAD_PREFIX = b"hookline credential v1:"


def generate_key_text() -> str:
    """A new key in the form HOOKLINE_ENCRYPTION_KEY takes."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str) -> bytes:
    """The key bytes of a HOOKLINE_ENCRYPTION_KEY value; ``EncryptionKeyInvalid``
    (which never repeats the value) when it is not 32 bytes of url-safe base64."""
    cleaned = text.strip()
    try:
        key = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise EncryptionKeyInvalid("it is not url-safe base64") from None
    if len(key) != KEY_BYTES:
        raise EncryptionKeyInvalid(f"it decodes to {len(key)} bytes, not {KEY_BYTES}")
    return key


class CredentialCipher:
    """Seals and opens credential values with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise EncryptionKeyInvalid(f"it is {len(key)} bytes, not {KEY_BYTES}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "CredentialCipher(<key hidden>)"

    def seal(self, credential_id: str, data: dict[str, str]) -> bytes:
        """``data`` encrypted for the row ``credential_id``."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, plain, _aad(credential_id))

    def open(self, credential_id: str, name: str, sealed: bytes) -> dict[str, str]:
        """The values sealed for ``credential_id``; ``CredentialUnreadable`` when this
        key (or this row) does not open them."""
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise CredentialUnreadable(name)
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, _aad(credential_id))
        except InvalidTag:
            raise CredentialUnreadable(name) from None
        data: Any = json.loads(plain)
        return {str(k): str(v) for k, v in data.items()}


def _aad(credential_id: str) -> bytes:
    return _AAD_PREFIX + credential_id.encode()


def cipher_for(key_text: str | None) -> CredentialCipher | None:
    """The cipher for a HOOKLINE_ENCRYPTION_KEY value; None when it is unset;
    ``EncryptionKeyInvalid`` when it is malformed."""
    if key_text is None or not key_text.strip():
        return None
    return CredentialCipher(parse_key(key_text))
