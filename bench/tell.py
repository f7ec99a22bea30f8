""" "You said, we did" to everyone who took part in a large run: how long the draft and the
queueing take, and that each person gets it once.

    python bench/tell.py --people 10000

Run 1 of the library survey is given `--people` participants with their addresses and
a finding marked done, straight in a fresh SQLite file (the benchmark's fixture, not
civicbot's code); then `survey tell 1` and `survey tell 1 send` run through the real
commands and the in-memory adapter, and `send` again to show nobody gets it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.digest import STAFF_ROOM, civicbot, survey_folder  # noqa: E402
from bench.turns import calibration_seconds, rss_mib  # noqa: E402
from bot.invitations import Guardrails  # noqa: E402


def seed(database: Path, people: int, *, platform: str = "memory") -> None:
    """Run 1 with `people` who took part, reachable on `platform`, and a finding done."""
    connection = sqlite3.connect(database)
    staff = "slack:C0STAFF" if platform == "slack" else "memory:staff-room"
    connection.execute(
        "INSERT INTO runs (id, survey_id, audience, status, staff_channel, created_at)"
        " VALUES (1, 'library-services', 'open', 'open', ?, 0)",
        (staff,),
    )
    pids = [f"bench-{n:06d}" for n in range(people)]
    connection.executemany(
        "INSERT INTO participants (pid, created_at) VALUES (?, 0)", [(p,) for p in pids]
    )
    connection.executemany(
        "INSERT INTO addresses (pid, platform, user_id, conversation_id, updated_at)"
        " VALUES (?, ?, ?, ?, 0)",
        [(p, platform, *address(platform, n)) for n, p in enumerate(pids)],
    )
    connection.executemany(
        "INSERT INTO conversations (pid, run_id, response_id, state, finished, updated_at)"
        " VALUES (?, 1, NULL, '{}', 1, 0)",
        [(p,) for p in pids],
    )
    connection.execute(
        "INSERT INTO findings (run_id, key, number, label, people, status, note, updated_at)"
        " VALUES (1, 'improve:theme:open hour', 1, '40 answers mention “opening hours”',"
        " 40, 'done', 'Open on Sundays 12-16 since March', 0)"
    )
    connection.commit()
    connection.close()


def address(platform: str, number: int) -> tuple[str, str]:
    """(user id, conversation id) of person `number` on `platform`."""
    if platform == "slack":
        return f"U{number:06d}", f"DU{number:06d}"
    return f"bench-{number:06d}", f"dm-bench-{number:06d}"


async def main(args: argparse.Namespace) -> None:
    print(f"calibration {calibration_seconds():.2f} s")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        database = Path(folder) / "civicbot.db"
        surveys = survey_folder(Path(folder), text_only=True)
        async with civicbot(database, surveys):
            pass  # creates and migrates the file
        seed(database, args.people)
        guardrails = Guardrails(approval_above=args.people)  # one coordinator is enough
        async with civicbot(database, surveys, guardrails=guardrails) as runtime:
            chat = runtime.adapters[0]
            for text in ("survey tell 1", "survey tell 1 send", "survey tell 1 send"):
                before = rss_mib()
                started = time.perf_counter()
                await chat.push(
                    "coord", text, command=True, is_direct=False, conversation=STAFF_ROOM
                )
                seconds = time.perf_counter() - started
                answer = chat.to(STAFF_ROOM)[-1].message.text.splitlines()[0]
                print(f"{text}: {seconds:.2f} s, +{rss_mib() - before:.1f} MiB: {answer!r}")
            got = [m for m in chat.sent if m.conversation_id.startswith("dm-")]
            print(
                f"delivered {len(got):,} follow-ups to {len({m.conversation_id for m in got}):,}"
                " people"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--dir", default=None, help="where the database goes (default /tmp)")
    asyncio.run(main(parser.parse_args()))
