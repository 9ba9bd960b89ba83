"""``hookline dev``'s encryption key for credentials (HOOKLINE_ENCRYPTION_KEY unset).

The key lives in a file beside the SQLite database (``hookline.db`` →
``hookline.db.key``; the working directory's ``hookline.key`` for other databases),
created on first start with 32 random bytes in url-safe base64, readable by its owner
only, and read back on every later start. The database and its key file belong
together: without the file, the credentials stored in the database cannot be read.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from hookline_runtime.settings import Settings

__all__ = ["DevKey", "key_file_for", "with_dev_key"]

_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class DevKey:
    """What ``with_dev_key`` did: ``path`` None when the key came from the environment."""

    settings: Settings
    path: Path | None
    created: bool


def key_file_for(database_url: str) -> Path:
    """Where the key file of ``database_url`` goes."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database)
        return path.with_name(path.name + ".key")
    return Path("hookline.key")


def with_dev_key(settings: Settings) -> DevKey:
    """``settings`` with an encryption key: the configured one, else the key file's
    (made now when it does not exist yet)."""
    if settings.encryption_key is not None:
        return DevKey(settings, None, False)
    path = key_file_for(settings.database_url)
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode() + "\n")
        created = True
    key = SecretStr(path.read_text().strip())
    return DevKey(settings.model_copy(update={"encryption_key": key}), path, created)
