"""What is deleted when its time is up: a closed run's answers, addresses nobody needs
any more, and processed event ids.

An event id is remembered so that a redelivery changes nothing. Platforms
redeliver within minutes to hours (Slack retries within the hour, the web chat
resends on reconnect, Matrix replays from civicbot's own checkpoint, which only
trails the newest stored event by a batch or by a message waiting for its key),
so thirty days is far beyond any of them, and the table stops growing forever.

Every deletion here goes in chunks of DELETE_CHUNK rows per write, so that the
writer never stalls the conversations for long.
"""

from __future__ import annotations

from storage.dialect import Connection, is_postgres

EVENT_MEMORY_SECONDS = 30 * 24 * 3600
DELETE_CHUNK = 5_000  # rows per write


def forget_events_before(connection: Connection, before: float) -> int:
    """Forget up to DELETE_CHUNK event ids processed before `before`; how many went."""
    return connection.execute(
        "DELETE FROM processed_events WHERE event_id IN"
        " (SELECT event_id FROM processed_events WHERE processed_at < ? LIMIT ?)",
        (before, DELETE_CHUNK),
    ).rowcount


def runs_past_retention(connection: Connection, survey_id: str, closed_before: float) -> list[int]:
    """The survey's runs closed before `closed_before` that still hold anything to purge."""
    rows = connection.execute(
        "SELECT id FROM runs WHERE survey_id = ? AND status = 'closed' AND closed_at < ?"
        " AND (purged_at IS NULL"
        "  OR EXISTS (SELECT 1 FROM responses WHERE run_id = runs.id)"
        "  OR EXISTS (SELECT 1 FROM conversations WHERE run_id = runs.id))"
        " ORDER BY id",
        (survey_id, closed_before),
    )
    return [run_id for (run_id,) in rows]


def purge_run_chunk(
    connection: Connection, *, run_id: int, counted: list[str], now: float
) -> tuple[int, int, int]:
    """Delete up to DELETE_CHUNK each of the run's answers, then of its responses and
    conversations; how many of each went, all 0 when nothing is left. The first chunk
    keeps the counts of the `counted` questions' values, once."""
    first = connection.execute(
        "UPDATE runs SET purged_at = ? WHERE id = ? AND purged_at IS NULL", (now, run_id)
    ).rowcount
    if first and counted:
        _keep_counts(connection, run_id, counted)
    answers = connection.execute(
        "DELETE FROM answers WHERE (response_id, question_id) IN"
        " (SELECT a.response_id, a.question_id FROM answers a"
        "  JOIN responses r ON r.id = a.response_id WHERE r.run_id = ? LIMIT ?)",
        (run_id, DELETE_CHUNK),
    ).rowcount
    if answers:
        return answers, 0, 0
    connection.execute(  # decisions on the answers and references to them go with them
        "DELETE FROM reviews WHERE response_id IN (SELECT id FROM responses WHERE run_id = ?)",
        (run_id,),
    )
    connection.execute("DELETE FROM answer_references WHERE run_id = ?", (run_id,))
    connection.execute("DELETE FROM reply_threads WHERE run_id = ?", (run_id,))
    connection.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))  # quotes in labels
    responses = connection.execute(
        "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE run_id = ? LIMIT ?)",
        (run_id, DELETE_CHUNK),
    ).rowcount
    conversations = connection.execute(
        "DELETE FROM conversations WHERE (pid, run_id) IN"
        " (SELECT pid, run_id FROM conversations WHERE run_id = ? LIMIT ?)",
        (run_id, DELETE_CHUNK),
    ).rowcount
    return 0, responses, conversations


def _keep_counts(connection: Connection, run_id: int, counted: list[str]) -> None:
    """How often each value of the questions was given; an answer of several choices
    counts once for each."""
    placeholders = ",".join("?" * len(counted))
    connection.execute(
        "INSERT INTO kept_counts (run_id, question_id, value, count)"
        f" SELECT r.run_id, a.question_id, {_CHOSEN[is_postgres(connection)]}, count(*)"
        " FROM answers a JOIN responses r ON r.id = a.response_id,"
        f" {_EACH_CHOSEN[is_postgres(connection)]}"
        f" WHERE r.run_id = ? AND a.question_id IN ({placeholders})"
        "  AND a.value IS NOT NULL AND a.value != 'null'"
        " GROUP BY r.run_id, a.question_id, chosen.value",
        (run_id, *counted),
    )


# Each value chosen in an answer (one, or each of a list), as JSON text: the engines'
# JSON functions are the one thing of theirs spelt differently here.
_CHOSEN = {False: "json_quote(chosen.value)", True: "chosen.value::text"}
_EACH_CHOSEN = {
    False: "json_each(CASE json_type(a.value) WHEN 'array' THEN a.value"
    " ELSE json_array(json(a.value)) END) chosen",
    True: "jsonb_array_elements(CASE jsonb_typeof(a.value::jsonb) WHEN 'array'"
    " THEN a.value::jsonb ELSE jsonb_build_array(a.value::jsonb) END) chosen(value)",
}


def kept_counts(connection: Connection, run_id: int) -> list[tuple[str, str, int]]:
    return connection.execute(
        "SELECT question_id, value, count FROM kept_counts WHERE run_id = ?"
        " ORDER BY question_id, count DESC, value",
        (run_id,),
    ).fetchall()


def forget_addresses(connection: Connection, *, inactive_since: float) -> int:
    """Forget up to DELETE_CHUNK addresses of people seen last before `inactive_since`:
    neither their address nor any of their conversations changed since."""
    return connection.execute(
        "DELETE FROM addresses WHERE pid IN (SELECT a.pid FROM addresses a"
        " WHERE a.updated_at < ? AND NOT EXISTS (SELECT 1 FROM conversations c"
        "  WHERE c.pid = a.pid AND c.updated_at >= ?) LIMIT ?)",
        (inactive_since, inactive_since, DELETE_CHUNK),
    ).rowcount
