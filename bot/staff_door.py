"""Signing staff in to the web staff page: one personal link per staff person.

`civicbot staff add NAME ROLE` stores the hash of a new random key and prints the
link that carries it; opening the link signs the person in (a session cookie, the key
gone from the address bar) as the web user NAME with that role. Sessions are stored
as hashes too, so they survive a restart and end at once when the account is revoked
(`civicbot staff revoke NAME`). The operator's key (CIVICBOT_STAFF_KEY, or the one
printed at start) still opens the page as the coordinator `web:staff`.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from bot.roles import ROLES
from bot.scheduler import Clock
from storage.contract import Storage

SESSION_SECONDS = 30 * 24 * 3600.0
OPERATOR = "staff"  # the web user of the operator's key; no account may take the name
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


def hashed(secret: str) -> str:
    # Keys and tokens are 32 random bytes: a plain hash cannot be reversed or guessed.
    return hashlib.sha256(secret.encode()).hexdigest()


class StaffDoor:
    def __init__(self, store: Storage, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def sign_in(self, key: str) -> str | None:
        """A new session for whoever's personal key this is, or None."""
        account = await self._store.staff_account(key_hash=hashed(key))
        return None if account is None else await self.open_session(account.name)

    async def open_session(self, user_id: str) -> str:
        """A new session for `user_id`; its token, for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        await self._store.add_staff_session(
            token_hash=hashed(token), user_id=user_id, now=now, expires_at=now + SESSION_SECONDS
        )
        return token

    async def session_user(self, token: str) -> str | None:
        """Who the session belongs to, or None when it expired or was revoked."""
        if not token or len(token) > 100:
            return None
        return await self._store.staff_session(token_hash=hashed(token), now=self._clock())


async def add_account(store: Storage, *, name: str, role: str, now: float) -> str:
    """A new account; its sign-in key. ValueError naming what is wrong with name or role."""
    if not NAME.match(name) or name == OPERATOR:
        raise ValueError(
            f"'{name}' cannot be a staff name: use lower-case letters, digits, . _ or -"
            f" (at most 40), and not '{OPERATOR}'"
        )
    if role not in ROLES:
        raise ValueError(f"there is no role '{role}'; roles: {', '.join(ROLES)}")
    key = secrets.token_urlsafe(32)
    if not await store.add_staff(name=name, role=role, key_hash=hashed(key), now=now):
        raise ValueError(f"there is a staff account '{name}' already; revoke it first")
    return key
