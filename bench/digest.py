"""A digest and an export of a large run: time, memory and what the event loop feels.

A run of the library survey is filled with `--answers` answers (about 4.3 per
response, as people answer it: choices, a scale, a sentence of their own, an age
group) straight into a fresh SQLite file, then the real command posts its digest
(headline, figures, chart, CSV) through the in-memory adapter, and `survey export`
makes its file. Meanwhile a probe task measures how late the event loop wakes up
(its longest stall), and participants answer at `--rate` turns a second: their
replies' latency is what everyone in a conversation would feel.

    python bench/digest.py --answers 1000000 --rate 1000
    python bench/digest.py --answers 1000000 --rate 1000 --text-only   # no chart, no CSV

The digest runs twice: the first in a process pays for importing matplotlib.

The seeding writes SQL itself: it is the benchmark's fixture, not civicbot's code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryAdapter  # noqa: E402
from bench.turns import SCRIPT, calibration_seconds, rss_mib  # noqa: E402
from bot.app import running  # noqa: E402
from bot.gc_tuning import tune_for_serving  # noqa: E402

STAFF_ROOM = "staff-room"
COMMENTS = [
    "Longer opening hours on Sundays please",
    "The opening hours are too short for working people",
    "More Finnish audiobooks and e-books",
    "Quieter study rooms, the children's corner is loud",
    "Pidemmät aukioloajat viikonloppuisin",
    "Aukioloaikoja pitäisi pidentää, call me 040 123 4567",
    "Fler böcker på svenska",
    "The e-book app crashes on my phone",
]


def seed(database: Path, answers: int) -> int:
    """Fill run 1 of library-services with about `answers` answers; returns how many."""
    connection = sqlite3.connect(database)
    connection.execute(
        "INSERT INTO runs (id, survey_id, audience, status, staff_channel, created_at)"
        " VALUES (1, 'library-services', 'open', 'open', 'memory:staff-room', 0)"
    )
    pick = random.Random(7)
    responses, rows = [], []
    response_id = 0
    while len(rows) < answers:
        response_id += 1
        done = pick.random() < 0.9
        at = 1_000.0 + response_id
        language = "fi" if pick.random() < 0.3 else "en"
        responses.append(
            (
                response_id,
                1,
                None,
                "completed" if done else "answering",
                at,
                at,
                at if done else None,
                language,
                "web",
            )
        )
        given = [
            ("visits", json.dumps(pick.choice(["weekly", "monthly", "rarely"]))),
            ("services", json.dumps(pick.sample(["loans", "ebooks", "events", "study"], 2))),
            ("satisfaction", json.dumps(pick.choice([1, 2, 3, 4, 4, 5, 5]))),
        ]
        if pick.random() < 0.5:
            given.append(("improve", json.dumps(pick.choice(COMMENTS))))
        given.append(("age_group", json.dumps(pick.choice(["18_39", "40_64", "over_65"]))))
        rows.extend((response_id, q, v, "participant", at) for q, v in given)
    connection.executemany(
        "INSERT INTO responses (id, run_id, pid, status, started_at, updated_at, completed_at,"
        " language, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        responses,
    )
    connection.executemany(
        "INSERT INTO answers (response_id, question_id, value, given_by, answered_at)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    connection.commit()
    connection.close()
    return len(rows)


class Probe:
    """How late the event loop runs a task that asks to wake every millisecond."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - before - 0.001)

    def stop(self) -> None:
        self._task.cancel()


class PeakMemory:
    """The largest resident set size seen, sampled every 10 ms from a thread."""

    def __init__(self) -> None:
        self.peak = rss_mib()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


async def participants(chat: MemoryAdapter, rate: float, latencies: list[float]) -> None:
    """People answering the library survey at `rate` turns a second, round and round."""
    people = [f"p{n}" for n in range(200)]
    step = {person: 0 for person in people}
    interval = 1.0 / rate
    next_at = time.perf_counter()
    pending: set[asyncio.Task] = set()

    async def turn(person: str) -> None:
        text = SCRIPT[step[person] % len(SCRIPT)]
        step[person] += 1
        started = time.perf_counter()
        await chat.push(person, text)
        latencies.append(time.perf_counter() - started)

    for number in range(10**9):
        next_at += interval
        person = people[number % len(people)]
        task = asyncio.create_task(turn(person))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if len(pending) > 500:  # the bot cannot keep up: do not pile up more
            await asyncio.sleep(0.01)


async def timed(chat: MemoryAdapter, text: str, rate: float) -> dict[str, float]:
    """Run one staff command while participants answer; what it cost and what they felt."""
    latencies: list[float] = []
    probe = Probe()
    probe.start()
    load = asyncio.create_task(participants(chat, rate, latencies)) if rate else None
    await asyncio.sleep(0.5)
    latencies.clear()
    probe.worst = 0.0
    before = rss_mib()
    with PeakMemory() as memory:
        started = time.perf_counter()
        await chat.push("coord", text, command=True, is_direct=False, conversation=STAFF_ROOM)
        seconds = time.perf_counter() - started
    if load:
        load.cancel()
    probe.stop()
    ordered = sorted(latencies) or [0.0]
    # the chart's own process (bot/chart_drawer.py), beside the bot's
    charting = sum(rss_mib(child.pid) for child in multiprocessing.active_children())
    return {
        "seconds": seconds,
        "memory_growth_mib": memory.peak - before,
        "chart_process_mib": charting,
        "worst_stall_ms": probe.worst * 1000,
        "turns": len(latencies),
        "turn_p50_ms": statistics.median(ordered) * 1000,
        "turn_p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
    }


def survey_folder(folder: Path, *, text_only: bool) -> Path:
    """The example surveys, without their digests' chart and CSV if `text_only`."""
    surveys = folder / "surveys"
    surveys.mkdir()
    for source in (ROOT / "surveys").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if text_only:
            text = text.replace("  chart: true", "  chart: false").replace(
                "  csv: true", "  csv: false"
            )
        (surveys / source.name).write_text(text, encoding="utf-8")
    return surveys


def civicbot(database: Path, surveys: Path, **options: Any):
    """civicbot on the in-memory adapter, with `memory:coord` as its coordinator."""
    return running(
        **options,
        database=database,
        survey_folder=surveys,
        adapters=[MemoryAdapter],
        environ={"CIVICBOT_PSEUDONYM_KEY": "bench"},
        coordinators=frozenset({"memory:coord"}),
    )


async def main(args: argparse.Namespace) -> None:
    print(f"calibration {calibration_seconds():.2f} s")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        database = Path(folder) / "civicbot.db"
        surveys = survey_folder(Path(folder), text_only=args.text_only)
        async with civicbot(database, surveys):
            pass  # creates and migrates the file
        started = time.perf_counter()
        stored = seed(database, args.answers)
        print(f"seeded {stored:,} answers in {time.perf_counter() - started:.1f} s")
        async with civicbot(database, surveys) as runtime:
            tune_for_serving()  # as `civicbot run` does
            chat = runtime.adapters[0]
            for text in ("survey digest 1", "survey digest 1", "survey export 1"):
                figures = await timed(chat, text, args.rate)
                shown = ", ".join(f"{k} {v:,.1f}" for k, v in figures.items())
                print(f"{text}: {shown}")
                print(f"  answered: {chat.to(STAFF_ROOM)[-1].message.text[:100]!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="participants' turns/s")
    parser.add_argument("--dir", default=None, help="where the database goes (default /tmp)")
    parser.add_argument("--text-only", action="store_true", help="digests without files")
    asyncio.run(main(parser.parse_args()))
