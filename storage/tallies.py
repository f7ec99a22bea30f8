"""Answer tallies: each distinct answer of a run's completed responses with how many gave
it, kept by SQLite triggers as answers and responses change.

A digest of a million answers then reads a few hundred rows instead of sorting the
million (a GROUP BY over them took 1.0 s alone and up to 2.1 s while people answered).
Triggers keep the tally whatever writes: a turn that completes a response, an answer
changed or retracted, an erasure, a retention purge, an expiry. A turn pays a primary-key
look-up per answer, and a completion one upsert per answer, all inside SQLite.

PostgreSQL has no tallies: its hash aggregate sums a run's answers at query time,
and tally rows that every worker updates would be the hottest rows of the database.

A skipped question is tallied under the JSON text 'null'. `first_response` is the first
response that gave the answer (a quote's source, to reply to); once that response's
answer goes, it is NULL until someone gives the answer again. A tally that falls to
none is deleted: erasure and retention leave no text behind here.
"""

from __future__ import annotations

import sqlite3

from storage.schema import run_script


def _add(run: str, row: str, source: str) -> str:
    """An upsert that counts one more of each answer `source` gives (`row` names it)."""
    return f"""
    INSERT INTO answer_tallies (run_id, question_id, value, count, first_response)
    SELECT {run}, {row}question_id, coalesce({row}value, 'null'), 1, {row}response_id
    {source} ON CONFLICT (run_id, question_id, value) DO UPDATE SET count = count + 1,
      first_response = coalesce(min(first_response, excluded.first_response),
                                excluded.first_response);"""


def _take(run: str, answer: str) -> str:
    """Count one less of the answer `answer` names (old or new); a tally of none goes, so
    that no text outlives its answers (an erasure, a retention purge)."""
    tally = (
        f"run_id = {run} AND question_id = {answer}.question_id"
        f" AND value = coalesce({answer}.value, 'null')"
    )
    return f"""
    UPDATE answer_tallies SET count = count - 1, first_response = CASE
      WHEN first_response = {answer}.response_id THEN NULL ELSE first_response END
    WHERE {tally};
    DELETE FROM answer_tallies WHERE {tally} AND count <= 0;"""


def _run_of(answer: str) -> str:
    return f"(SELECT run_id FROM responses WHERE id = {answer}.response_id)"


def _completed(answer: str) -> str:
    return f"(SELECT status FROM responses WHERE id = {answer}.response_id) = 'completed'"


SCHEMA = f"""
    CREATE TABLE answer_tallies (
        run_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        value TEXT NOT NULL,  -- JSON, as in answers; 'null' when skipped
        count INTEGER NOT NULL,
        first_response INTEGER,
        PRIMARY KEY (run_id, question_id, value)
    ) WITHOUT ROWID;

    CREATE TRIGGER tally_completed AFTER UPDATE OF status ON responses
    WHEN new.status = 'completed' AND old.status IS NOT 'completed'
    BEGIN {_add("new.run_id", "", "FROM answers WHERE response_id = new.id")}
    END;

    CREATE TRIGGER tally_uncompleted AFTER UPDATE OF status ON responses
    WHEN old.status = 'completed' AND new.status IS NOT 'completed'
    BEGIN
    UPDATE answer_tallies SET count = count - 1,
      first_response = CASE WHEN first_response = old.id THEN NULL ELSE first_response END
    WHERE run_id = old.run_id AND (question_id, value) IN
      (SELECT question_id, coalesce(value, 'null') FROM answers WHERE response_id = old.id);
    DELETE FROM answer_tallies WHERE run_id = old.run_id AND count <= 0;
    END;

    CREATE TRIGGER tally_answer_given AFTER INSERT ON answers WHEN {_completed("new")}
    BEGIN {_add(_run_of("new"), "new.", "WHERE true")}
    END;

    CREATE TRIGGER tally_answer_gone AFTER DELETE ON answers WHEN {_completed("old")}
    BEGIN {_take(_run_of("old"), "old")}
    END;

    CREATE TRIGGER tally_answer_changed AFTER UPDATE OF value ON answers
    WHEN old.value IS NOT new.value AND {_completed("new")}
    BEGIN {_take(_run_of("old"), "old")} {_add(_run_of("new"), "new.", "WHERE true")}
    END;

    -- what is there already, once
    INSERT INTO answer_tallies (run_id, question_id, value, count, first_response)
    SELECT r.run_id, a.question_id, coalesce(a.value, 'null'), count(*), min(a.response_id)
    FROM answers a JOIN responses r ON r.id = a.response_id WHERE r.status = 'completed'
    GROUP BY r.run_id, a.question_id, coalesce(a.value, 'null');

    -- responses completed in a time window: a digest's new ones
    CREATE INDEX responses_by_completion ON responses (run_id, status, completed_at);
    DROP INDEX responses_by_run;
"""

DESCRIPTION = "answer tallies kept as answers come, and responses by completion time"


def tallies(db: sqlite3.Connection) -> None:
    run_script(db, SCHEMA)


def tallied(connection: sqlite3.Connection, run_id: int) -> list[tuple[str, str, int, int | None]]:
    """Each distinct answer of the run's completed responses: (question, value as JSON or
    NULL when skipped, how many gave it, the first response that did)."""
    rows = connection.execute(
        "SELECT question_id, value, count, first_response FROM answer_tallies WHERE run_id = ?",
        (run_id,),
    )
    return [(q, None if value == "null" else value, n, first) for q, value, n, first in rows]
