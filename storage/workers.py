"""What workers sharing a PostgreSQL database tell each other at start."""

from __future__ import annotations

import json

from storage.dialect import CLAIMANT, Connection


def serve_surveys(
    connection: Connection, *, surveys: dict[str, str], now: float
) -> dict[str, str] | None:
    """Note the surveys (id: fingerprint) this worker serves, unless a running worker
    serves others: then theirs, and nothing is noted. Rows of workers with no session
    left (stopped, or dead) go first, so a new release's surveys replace the old ones."""
    connection.execute(
        "DELETE FROM served_surveys WHERE NOT EXISTS"
        " (SELECT 1 FROM pg_stat_activity WHERE application_name = served_surveys.worker)"
    )
    for (listed,) in connection.execute(
        f"SELECT surveys FROM served_surveys WHERE worker != {CLAIMANT}"
    ).fetchall():
        if (theirs := json.loads(listed)) != surveys:
            return theirs
    connection.execute(
        f"INSERT INTO served_surveys (worker, surveys, started_at) VALUES ({CLAIMANT}, ?, ?)"
        " ON CONFLICT (worker) DO UPDATE SET surveys = excluded.surveys",
        (json.dumps(surveys, sort_keys=True), now),
    )
    return None
