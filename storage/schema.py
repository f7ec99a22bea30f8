"""The schema, step by step as the numbered migrations (storage/migrations.py) apply it:
each function one step, in one transaction, with what it is for beside each table."""

from __future__ import annotations

import sqlite3


def initial_schema(db: sqlite3.Connection) -> None:
    # Tables read or written on every turn are WITHOUT ROWID: a primary-key lookup or
    # insert then touches one b-tree instead of an index and a table.
    run_script(
        db,
        """
        CREATE TABLE participants (
            pid TEXT PRIMARY KEY,
            active_run INTEGER,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;

        -- The only place that says how to reach a person; erasure clears it.
        CREATE TABLE addresses (
            pid TEXT PRIMARY KEY REFERENCES participants (pid),
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            updated_at REAL
        ) WITHOUT ROWID;

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            survey_id TEXT NOT NULL,
            audience TEXT NOT NULL,
            status TEXT NOT NULL,
            staff_channel TEXT,
            created_at REAL NOT NULL,
            closed_at REAL
        );
        CREATE INDEX runs_by_survey ON runs (survey_id, status);

        CREATE TABLE responses (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            pid TEXT,  -- NULL in anonymous surveys
            status TEXT NOT NULL,
            started_at REAL,
            updated_at REAL,
            completed_at REAL
        );
        CREATE INDEX responses_by_run ON responses (run_id, status);

        CREATE TABLE conversations (
            pid TEXT NOT NULL REFERENCES participants (pid),
            run_id INTEGER NOT NULL REFERENCES runs (id),
            response_id INTEGER,
            state TEXT NOT NULL,
            updated_at REAL,
            PRIMARY KEY (pid, run_id)
        ) WITHOUT ROWID;

        CREATE TABLE answers (
            response_id INTEGER NOT NULL REFERENCES responses (id),
            question_id TEXT NOT NULL,
            value TEXT,  -- JSON; null when the question was skipped
            given_by TEXT NOT NULL,  -- participant | intermediary
            answered_at REAL,
            PRIMARY KEY (response_id, question_id)
        ) WITHOUT ROWID;

        CREATE TABLE processed_events (
            event_id TEXT PRIMARY KEY,
            processed_at REAL NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """,
    )


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Each statement in the migration's transaction (executescript would commit first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


def coordination(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Every coordinator command, allowed or refused.
        CREATE TABLE command_audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            command TEXT NOT NULL,
            allowed INTEGER NOT NULL,
            outcome TEXT NOT NULL
        );

        -- The watermark: a digest covers responses completed up to covered_until.
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            covered_until REAL NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX digests_by_run ON digests (run_id, covered_until);
        """,
    )


def schedules(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Digest schedules; re-registered with the scheduler at every start.
        CREATE TABLE schedules (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            cron TEXT NOT NULL,
            timezone TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_fired_at REAL
        );
        """,
    )


def event_age(db: sqlite3.Connection) -> None:
    run_script(db, "CREATE INDEX processed_events_by_age ON processed_events (processed_at);")


def finished_conversations(db: sqlite3.Connection) -> None:
    # The state is the engine's to read; from now on each turn says whether it ended.
    # Existing rows are read once, in the format the engine wrote until then.
    run_script(
        db,
        """
        ALTER TABLE conversations ADD COLUMN finished INTEGER NOT NULL DEFAULT 0;
        UPDATE conversations SET finished = 1
            WHERE json_extract(state, '$.stage') IN ('done', 'declined');
        """,
    )


def lifecycle(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Set by `unsubscribe`: no invitations or reminders until the person writes again.
        ALTER TABLE participants ADD COLUMN opted_out_at REAL;
        -- How often, and when last, the person was reminded of this conversation.
        ALTER TABLE conversations ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE conversations ADD COLUMN reminded_at REAL;
        CREATE INDEX conversations_by_run ON conversations (run_id, finished);
        """,
    )


def retention(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- When the run's answers were deleted after their retention (the run row stays).
        ALTER TABLE runs ADD COLUMN purged_at REAL;
        -- What a survey that keeps counts keeps of a purged run: how often each value of
        -- each choice and scale question was given, and nothing that names anybody.
        CREATE TABLE kept_counts (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            question_id TEXT NOT NULL,
            value TEXT NOT NULL,  -- JSON
            count INTEGER NOT NULL,
            PRIMARY KEY (run_id, question_id, value)
        ) WITHOUT ROWID;
        CREATE INDEX addresses_by_age ON addresses (updated_at);
        """,
    )


def reminder_policies(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A run's own reminder policy (survey remind RUN after …), over its survey's.
        ALTER TABLE runs ADD COLUMN remind_after REAL;
        ALTER TABLE runs ADD COLUMN remind_at_most INTEGER;
        """,
    )


def audit_by_run(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        ALTER TABLE command_audit ADD COLUMN run_id INTEGER;
        CREATE INDEX command_audit_by_run ON command_audit (run_id, at);
        CREATE INDEX command_audit_by_time ON command_audit (at);
        """,
    )


def approvals(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Commands held until a second coordinator approves them (large audiences).
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            requested_at REAL NOT NULL,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            command TEXT NOT NULL,
            audience INTEGER NOT NULL,
            approved_at REAL,
            approved_by TEXT
        );
        """,
    )


def run_schedules(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Starts of runs at a time (at) or again and again (cron), as a coordinator asked.
        CREATE TABLE run_schedules (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,  -- the start command, without its schedule
            platform TEXT NOT NULL,  -- who asked, and where: the start runs as theirs
            user_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            at REAL,
            cron TEXT,
            timezone TEXT NOT NULL,
            until REAL,  -- runs close then, and a cron starts none after it
            created_at REAL NOT NULL,
            last_fired_at REAL,
            last_run_id INTEGER,
            ended INTEGER NOT NULL DEFAULT 0
        );
        -- When an open run closes by itself (survey start … until, survey close RUN at).
        ALTER TABLE runs ADD COLUMN closes_at REAL;
        CREATE INDEX runs_by_closing ON runs (closes_at) WHERE closes_at IS NOT NULL;
        """,
    )


def staff_accounts(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- One sign-in per staff person for the web staff page; keys and sessions are
        -- stored as hashes, so the database never holds what opens the page.
        CREATE TABLE staff_accounts (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE TABLE staff_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,  -- an account's name, or the operator's key's user
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID;
        """,
    )


def provenance_and_review(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- The language a response was given in and the platform it came through: the
        -- export's columns, and the digest's check that every language is heard.
        ALTER TABLE responses ADD COLUMN language TEXT;
        ALTER TABLE responses ADD COLUMN channel TEXT;
        -- A moderator's decision on an answer held for review: released reaches the
        -- digest, kept stays out of it. Undecided held answers have no row.
        CREATE TABLE reviews (
            response_id INTEGER NOT NULL REFERENCES responses (id),
            question_id TEXT NOT NULL,
            decision TEXT NOT NULL,  -- released | kept
            decided_at REAL NOT NULL,
            PRIMARY KEY (response_id, question_id)
        ) WITHOUT ROWID;
        -- Who made a digest schedule, and where: a digest that cannot go out is told there.
        ALTER TABLE schedules ADD COLUMN made_by TEXT;  -- platform:user
        ALTER TABLE schedules ADD COLUMN made_in TEXT;  -- platform:conversation
        -- Answers an intermediary typed: few, so the digest counts them without a scan.
        CREATE INDEX answers_assisted ON answers (response_id) WHERE given_by != 'participant';
        """,
    )


def replies(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Whether the person agreed that the service may reply about this response's
        -- answers: 1 yes, 0 no or withdrawn, NULL never asked.
        ALTER TABLE responses ADD COLUMN may_reply INTEGER;
        -- The short references a digest gave its quotes: what `survey reply REF` answers.
        -- A keyed hash of the answer; gone with the run's answers at retention.
        CREATE TABLE answer_references (
            reference TEXT PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            response_id INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX answer_references_by_run ON answer_references (run_id);
        """,
    )


def reply_threads(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A staff reply opens a thread: what its recipient writes back goes to the staff
        -- channel under the reference, until staff close it or it is 30 days old.
        CREATE TABLE reply_threads (
            reference TEXT PRIMARY KEY,
            pid TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            opened_at REAL NOT NULL,
            closed_at REAL,
            messages INTEGER NOT NULL DEFAULT 0  -- passed on since it was opened
        ) WITHOUT ROWID;
        CREATE INDEX reply_threads_by_person ON reply_threads (pid, opened_at);
        """,
    )


def findings(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A digest's findings, numbered per run the first time they appear (F1, F2 …)
        -- and the same finding again next week, with what staff did about each.
        CREATE TABLE findings (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            key TEXT NOT NULL,  -- what makes it the same finding: question, kind, value
            number INTEGER NOT NULL,
            label TEXT NOT NULL,  -- as the latest digest said it
            people INTEGER NOT NULL,  -- how many it concerned then
            status TEXT,  -- noted | planned | done | declined
            note TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, key),
            UNIQUE (run_id, number)
        ) WITHOUT ROWID;
        -- "You said, we did": when a run's follow-up was sent, so nobody gets it twice.
        ALTER TABLE runs ADD COLUMN told_at REAL;
        """,
    )


def workers(db: sqlite3.Connection) -> None:
    # What workers sharing a PostgreSQL database need; SQLite has one worker and one
    # writer, which order everything, and leaves these 0 and NULL.
    run_script(
        db,
        """
        -- How many turns of the participant are stored: what tells a worker that another
        -- stored a turn since it read the participant.
        ALTER TABLE participants ADD COLUMN turns INTEGER NOT NULL DEFAULT 0;
        -- The worker that sends the reply, until when: another takes it after that.
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        ALTER TABLE outbox ADD COLUMN claimed_until REAL;
        """,
    )


def served_surveys(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- The surveys each running worker serves, as fingerprints by survey id: a worker
        -- whose survey files differ from the others' is refused at start. SQLite has
        -- one worker, and leaves it empty.
        CREATE TABLE served_surveys (
            worker TEXT PRIMARY KEY,
            surveys TEXT NOT NULL,  -- JSON: {survey id: fingerprint}
            started_at REAL NOT NULL
        );
        """,
    )


FOLLOW_UPS = "who has had a run's follow-up, findings' notes by language, replies a day"


def follow_ups(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- When the person was sent the run's "you said, we did": nobody gets it twice,
        -- however long after the first send a second one is typed.
        ALTER TABLE conversations ADD COLUMN told_at REAL;
        -- What was done about a finding in the survey's other languages, as JSON
        -- {language: note}: the follow-up goes out in them.
        ALTER TABLE findings ADD COLUMN notes TEXT;
        -- Staff replies to a reference since `replies_since`: a day's are limited.
        ALTER TABLE reply_threads ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reply_threads ADD COLUMN replies_since REAL;
        """,
    )


def delivery_attempts(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- What became of the tries to send a reply. A row not marked refused may have
        -- reached its platform before a crash or a lost connection: it is checked there
        -- before it is sent again. A dead row is never tried again.
        ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN failure TEXT;  -- the platform's reason, never the text
        ALTER TABLE outbox ADD COLUMN dead_at REAL;
        """,
    )
