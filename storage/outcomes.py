"""A run's findings as digests number them, and what staff did about each."""

from __future__ import annotations

import json
import sqlite3

from storage.records import FindingRow, TookPart

_COLUMNS = "number, key, label, people, status, note, notes"


def number_findings(
    connection: sqlite3.Connection,
    *,
    run_id: int,
    findings: list[tuple[str, str, int]],
    now: float,
) -> dict[str, int]:
    """Each (key, label, people) finding's number in the run, a new one the first time;
    the label and count are brought up to date."""
    (last,) = connection.execute(
        "SELECT coalesce(max(number), 0) FROM findings WHERE run_id = ?", (run_id,)
    ).fetchone()
    numbers: dict[str, int] = {}
    for key, label, people in findings:
        found = connection.execute(
            "SELECT number FROM findings WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        if found:
            connection.execute(
                "UPDATE findings SET label = ?, people = ?, updated_at = ?"
                " WHERE run_id = ? AND key = ?",
                (label, people, now, run_id, key),
            )
            numbers[key] = found[0]
            continue
        last += 1
        connection.execute(
            "INSERT INTO findings (run_id, key, number, label, people, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, key, last, label, people, now),
        )
        numbers[key] = last
    return numbers


def act_on_finding(
    connection: sqlite3.Connection,
    *,
    run_id: int,
    number: int,
    status: str,
    note: str,
    notes: dict[str, str],
    now: float,
) -> bool:
    changed = connection.execute(
        "UPDATE findings SET status = ?, note = ?, notes = ?, updated_at = ?"
        " WHERE run_id = ? AND number = ?",
        (status, note or None, json.dumps(notes) if notes else None, now, run_id, number),
    )
    return changed.rowcount == 1


def findings_of(connection: sqlite3.Connection, run_id: int) -> list[FindingRow]:
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM findings WHERE run_id = ? ORDER BY number", (run_id,)
    )
    return [FindingRow(*row[:-1], json.loads(row[-1]) if row[-1] else {}) for row in rows]


def participants_of(connection: sqlite3.Connection, run_id: int) -> list[TookPart]:
    """Everyone who took part in the run and can be reached, not opted out, with the
    language they took part in: in anonymous surveys too, for nothing here names an
    answer (the conversation's state keeps its language once the answers are gone)."""
    rows = connection.execute(
        "SELECT c.pid, a.platform, a.conversation_id, c.state, c.told_at IS NOT NULL,"
        " o.platform IS NOT NULL FROM conversations c"
        " JOIN addresses a ON a.pid = c.pid JOIN participants p ON p.pid = c.pid"
        " LEFT JOIN (SELECT DISTINCT platform, conversation_id FROM outbox"
        "  WHERE dead_at IS NULL) o"
        "  ON o.platform = a.platform AND o.conversation_id = a.conversation_id"
        " WHERE c.run_id = ? AND p.opted_out_at IS NULL ORDER BY c.pid",
        (run_id,),
    )
    return [
        TookPart(pid, platform, to, json.loads(state).get("language") if state else None, *flags)
        for pid, platform, to, state, *flags in rows
    ]


def mark_told(connection: sqlite3.Connection, run_id: int, *, now: float) -> bool:
    """Note that the run's follow-up went out; False if it had already."""
    told = connection.execute(
        "UPDATE runs SET told_at = ? WHERE id = ? AND told_at IS NULL", (now, run_id)
    )
    return told.rowcount == 1
