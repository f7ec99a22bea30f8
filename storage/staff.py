"""Staff accounts of the web staff page and their sessions, kept as hashes."""

from __future__ import annotations

import sqlite3

from storage.records import StaffAccount


def add_staff(
    connection: sqlite3.Connection, *, name: str, role: str, key_hash: str, now: float
) -> bool:
    return (
        connection.execute(
            "INSERT INTO staff_accounts (name, role, key_hash, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (name, role, key_hash, now),
        ).rowcount
        == 1
    )


def revoke_staff(connection: sqlite3.Connection, *, name: str) -> bool:
    connection.execute("DELETE FROM staff_sessions WHERE user_id = ?", (name,))
    return connection.execute("DELETE FROM staff_accounts WHERE name = ?", (name,)).rowcount == 1


def staff_accounts(connection: sqlite3.Connection) -> list[StaffAccount]:
    rows = connection.execute("SELECT name, role, created_at FROM staff_accounts ORDER BY name")
    return [StaffAccount(*row) for row in rows]


def staff_account(
    connection: sqlite3.Connection, *, name: str | None = None, key_hash: str | None = None
) -> StaffAccount | None:
    row = connection.execute(
        "SELECT name, role, created_at FROM staff_accounts WHERE name = ? OR key_hash = ?",
        (name, key_hash),
    ).fetchone()
    return StaffAccount(*row) if row else None


def add_staff_session(
    connection: sqlite3.Connection, *, token_hash: str, user_id: str, now: float, expires_at: float
) -> None:
    connection.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (token_hash, user_id, now, expires_at),
    )


def staff_session(connection: sqlite3.Connection, *, token_hash: str, now: float) -> str | None:
    row = connection.execute(
        "SELECT user_id FROM staff_sessions WHERE token_hash = ? AND expires_at > ?",
        (token_hash, now),
    ).fetchone()
    return row[0] if row else None
