"""Durable turns per second, turn latency and memory of the bot core.

Simulated participants answer the library survey through the real core, the
real group-commit writer and a real SQLite file (WAL, synchronous=FULL). A turn
counts when its reply has been handed to the adapter, which happens only after
the turn's transaction has committed.

    python bench/turns.py throughput --participants 1000 --seconds 10
    python bench/turns.py latency --participants 1000 --rate 5000 --seconds 10
    python bench/turns.py memory --conversations 100000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryAdapter  # noqa: E402
from bot.app import Runtime, running  # noqa: E402
from bot.gc_tuning import tune_for_serving  # noqa: E402

# One full pass through library-services; the keyword starts the next pass.
SCRIPT = ["library", "yes", "1", "1, 3", "4", "Longer opening hours please", "2"]


def calibration_seconds() -> float:
    """A fixed pure-Python loop, timed: this machine's speed varies by half from one
    minute to the next, and figures are only comparable next to this one."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - started


def rss_mib(pid: int | str = "self") -> float:
    """Current resident set size of a process, this one by default (Linux), in MiB."""
    with open(f"/proc/{pid}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command's name, which may hold spaces: [0] is the state,
    [1] the parent, [11:15] utime, stime, cutime, cstime in clock ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def cpu_seconds(runtime: Runtime) -> tuple[float, float]:
    """CPU time of the bot's process and of its database writer process, if it has one
    (SQLite's; PostgreSQL's server is not counted)."""
    writer = getattr(runtime.store.writer, "pid", None)
    if writer is None:
        return time.process_time(), 0.0
    user, system = stat_fields(writer)[11:13]
    return time.process_time(), (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


async def quiet(outbound: object) -> None:
    """Replies are dropped: keeping them would measure the benchmark, not the bot."""


async def participant(
    chat: MemoryAdapter,
    user: str,
    deadline: float,
    latencies: list[float],
    interval: float,
    offset: float,
    step: int = 0,
) -> None:
    next_at = time.perf_counter() + offset
    for text in itertools.cycle(SCRIPT[step:] + SCRIPT[:step]):
        if interval:
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
        started = time.perf_counter()
        if started >= deadline:
            return
        await chat.push(user, text)
        latencies.append(time.perf_counter() - started)


async def drive(
    runtime: Runtime,
    participants: int,
    seconds: float,
    rate: float,
    prefix: str = "p",
    step: int = 0,
) -> dict:
    """`participants` answering for `seconds` (at `rate` turns/s in all, or as fast as
    they can), each from SCRIPT[step] on."""
    chat = runtime.adapters[0]
    latencies: list[float] = []
    interval = participants / rate if rate else 0.0
    commits_before = runtime.store.writer.commits
    await runtime.store.flushed()  # the writer process is up
    cpu_before = cpu_seconds(runtime)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            participant(
                chat,
                f"{prefix}{i}",
                deadline,
                latencies,
                interval,
                interval * i / participants,
                step,
            )
            for i in range(participants)
        )
    )
    elapsed = time.perf_counter() - started
    bot_cpu, writer_cpu = (
        after - before for after, before in zip(cpu_seconds(runtime), cpu_before, strict=True)
    )
    commits = runtime.store.writer.commits - commits_before
    latencies.sort()
    return {
        "turns": len(latencies),
        "turns_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "turns_per_commit": len(latencies) / max(commits, 1),
        "cpu_us_per_turn": (bot_cpu + writer_cpu) / max(len(latencies), 1) * 1e6,
        "writer_cpu_us_per_turn": writer_cpu / max(len(latencies), 1) * 1e6,
    }


def settings(folder: Path) -> dict:
    return {
        "database": folder / "bench.db",
        "survey_folder": ROOT / "surveys",
        "adapters": [lambda handler: MemoryAdapter(handler, on_send=quiet)],
        "environ": {"CIVICBOT_PSEUDONYM_KEY": "bench"},
    }


def repeatable(where: Path) -> dict:
    """`settings` with the library survey answerable again and again: its file says
    `repeat: false`, so a participant's second pass would be turns outside any survey
    ("you have answered this already"), far cheaper than answers."""
    folder = where / "surveys"
    folder.mkdir()
    survey = (ROOT / "surveys" / "library-services.yaml").read_text(encoding="utf-8")
    (folder / "library-services.yaml").write_text(f"repeat: true\n{survey}", encoding="utf-8")
    return {**settings(where), "survey_folder": folder}


async def throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        chosen = repeatable(Path(folder)) if args.repeatable else settings(Path(folder))
        async with running(**chosen) as runtime:
            if args.gc == "tuned":
                tune_for_serving()  # as `civicbot run` does
            warm = await drive(runtime, args.participants, 1.0, args.rate)
            step = warm["turns"] // args.participants % len(SCRIPT)  # each goes on from there
            figures = await drive(runtime, args.participants, args.seconds, args.rate, step=step)
            writer_rss = rss_mib(runtime.store.writer.pid)
    if args.json:  # for bench/peers.py
        print(json.dumps({**figures, "calibration_s": calibration_seconds()}))
        return
    mode = f"offered {args.rate:,.0f} turns/s" if args.rate else "as fast as possible"
    print(
        f"{args.participants:,} participants, {args.seconds:g} s, {mode}, {args.loop}, gc {args.gc}"
    )
    print(f"  calibration      {calibration_seconds():.2f} s for 5M loop iterations")
    print(f"  durable turns/s  {figures['turns_per_s']:,.0f}  ({figures['turns']:,} turns)")
    print(f"  turn latency     p50 {figures['p50_ms']:.2f} ms   p99 {figures['p99_ms']:.2f} ms")
    print(f"  turns per commit {figures['turns_per_commit']:.1f}")
    cpu = figures["cpu_us_per_turn"]
    writer = figures["writer_cpu_us_per_turn"]
    print(
        f"  CPU per turn     {cpu:.0f} µs (both processes, simulated participants included;"
        f" the writer's {writer:.0f})"
    )
    print(f"  peak RSS         {peak_rss_mib():.1f} MiB, writer process {writer_rss:.1f} MiB")


async def open_conversations(runtime: Runtime, start: int, stop: int) -> None:
    """Participants start..stop each begin the survey and answer one question, then wait."""
    chat = runtime.adapters[0]

    async def begin(user: str) -> None:
        for text in SCRIPT[:3]:
            await chat.push(user, text)

    batch = 1_000
    for first in range(start, stop, batch):
        await asyncio.gather(*(begin(f"m{i}") for i in range(first, min(first + batch, stop))))


def count_open_conversations(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT count(*) FROM conversations WHERE NOT finished"
        ).fetchone()[0]


async def memory(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        async with running(**settings(Path(folder))) as runtime:
            if args.gc == "tuned":
                tune_for_serving()
            marks = [1_000, 10_000, args.conversations]
            done = 0
            readings = []
            for mark in marks:
                await open_conversations(runtime, done, mark)
                done = mark
                open_now = count_open_conversations(Path(folder) / "bench.db")
                writer_rss = rss_mib(runtime.store.writer.pid)
                readings.append((mark, open_now, rss_mib(), writer_rss))
    base = readings[0][2]
    print("open conversations   bot RSS      vs 1,000   writer process RSS")
    for _, open_now, rss, writer_rss in readings:
        print(f"  {open_now:>9,}      {rss:7.1f} MiB  {rss / base:.2f}x      {writer_rss:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: /tmp)")
    parser.add_argument(
        "--gc",
        choices=("tuned", "default"),
        default="tuned",
        help="the garbage collector as `civicbot run` sets it (bot/gc_tuning.py), or Python's",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop: uvloop as `civicbot run` uses, or asyncio's own",
    )
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("throughput", "latency"):
        mode = modes.add_parser(name)
        mode.add_argument("--participants", type=int, default=1_000)
        mode.add_argument("--seconds", type=float, default=10.0)
        mode.add_argument("--rate", type=float, default=0.0 if name == "throughput" else 5_000)
        mode.add_argument(
            "--repeatable",
            action="store_true",
            help="the survey answerable again and again: every turn after the first is an answer",
        )
        mode.add_argument("--json", action="store_true", help="the figures as one JSON line")
    mode = modes.add_parser("memory")
    mode.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args()
    loop_factory = uvloop.new_event_loop if args.loop == "uvloop" else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(memory(args) if args.mode == "memory" else throughput(args))


if __name__ == "__main__":
    main()
