"""Pseudonymous participant ids: a keyed hash of platform and user id.

The key comes from the environment variable CIVICBOT_PSEUDONYM_KEY (hex or any
text), or is generated once into `<database>.key` beside the database with mode
0600. Without the key, the stored ids cannot be tied back to platform accounts;
lose the key and returning participants are seen as new.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_VARIABLE = "CIVICBOT_PSEUDONYM_KEY"


def key_file(database: Path) -> Path:
    """Where the generated key of `database` is kept: beside it."""
    return database.with_name(database.name + ".key")


def load_key(database: Path, environ: dict[str, str] | None = None) -> bytes:
    environ = os.environ if environ is None else environ
    if environ.get(KEY_VARIABLE):
        return environ[KEY_VARIABLE].encode()
    path = key_file(database)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


class Pseudonyms:
    def __init__(self, key: bytes) -> None:
        self._key = key
        # busy participants send several messages a minute: remember a bounded few
        self.of = functools.lru_cache(maxsize=4096)(self._compute)

    def _compute(self, platform: str, user_id: str) -> str:
        digest = hmac.new(self._key, f"{platform}\0{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]
