"""Durable turns on PostgreSQL with 1, 2 and 3 workers, beside SQLite, in one window.

A throwaway PostgreSQL server (tests/postgres_server.py: Debian's package, fsync on,
synchronous_commit on) on this machine; each worker is a process of its own, as
`civicbot run` is, driving its share of the simulated participants (bench/turns.py)
through the real core into the shared database. SQLite runs the same load with one
worker first. Then each setup again at half its peak rate, for the latency.

    python bench/postgres.py --participants 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import postgres_server  # noqa: E402

from adapters.memory import MemoryAdapter  # noqa: E402
from bench.turns import calibration_seconds, drive, peak_rss_mib, quiet, rss_mib  # noqa: E402
from bot.app import running  # noqa: E402
from bot.gc_tuning import tune_for_serving  # noqa: E402

WARM_UP_SECONDS = 1.0
START_AFTER = 10.0  # seconds from launch to the common start: every worker is warm by then


async def worker(args: argparse.Namespace) -> None:
    """One worker: start, warm up, wait for the common start, drive, print figures."""
    logging.disable(logging.WARNING)  # the example surveys' warnings, once per worker
    environ = json.loads(args.environ)
    database = args.database if "://" in args.database else Path(args.database)
    async with running(
        database=database,
        survey_folder=ROOT / "surveys",
        adapters=[lambda handler: MemoryAdapter(handler, on_send=quiet)],
        environ=environ,
    ) as runtime:
        tune_for_serving()
        await drive(runtime, args.participants, WARM_UP_SECONDS, 0.0, prefix=f"{args.name}w")
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
        figures = await drive(runtime, args.participants, args.seconds, args.rate, args.name)
        writer = getattr(runtime.store.writer, "pid", None)
        figures["rss_mib"] = peak_rss_mib() + (rss_mib(writer) if writer else 0.0)
    print(json.dumps(figures))


def run_workers(database: str, environ: dict, workers: int, args, rate: float) -> dict:
    start_at = time.time() + START_AFTER
    share = args.participants // workers
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "worker",
                f"--database={database}",
                f"--environ={json.dumps(environ)}",
                f"--participants={share}",
                f"--seconds={args.seconds}",
                f"--rate={rate / workers}",
                f"--start-at={start_at}",
                f"--name=k{n}-",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    figures = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    return {
        "turns_per_s": sum(f["turns_per_s"] for f in figures),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "rss_mib": max(f["rss_mib"] for f in figures),
        "cpu_us_per_turn": sum(f["cpu_us_per_turn"] for f in figures) / len(figures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode")
    child = modes.add_parser("worker")
    for option in ("--database", "--environ", "--name"):
        child.add_argument(option, required=True)
    child.add_argument("--start-at", type=float, required=True)
    for parser_ in (parser, child):
        parser_.add_argument("--participants", type=int, default=1_000)
        parser_.add_argument("--seconds", type=float, default=10.0)
    child.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: /tmp)")
    args = parser.parse_args()
    if args.mode == "worker":
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(worker(args))
        return
    print(f"{args.participants:,} participants, {args.seconds:g} s per setup")
    print(f"  calibration {calibration_seconds():.2f} s for 5M loop iterations")
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as folder,
        postgres_server(durable=True, settings=("synchronous_commit=on",)) as server,
    ):
        setups = [
            ("SQLite", 1, lambda: str(Path(folder) / "bench.db"), {"CIVICBOT_PSEUDONYM_KEY": "b"})
        ]
        setups += [("PostgreSQL", n, server.new_database, server.environ) for n in (1, 2, 3)]
        print("  backend      workers  turns/s   p50 ms  p99 ms (at half the peak)  RSS/worker MiB")
        for backend, workers, database, environ in setups:
            peak = run_workers(database(), environ, workers, args, 0.0)
            half = run_workers(database(), environ, workers, args, peak["turns_per_s"] / 2)
            print(
                f"  {backend:<12} {workers:>7}  {peak['turns_per_s']:>7,.0f}"
                f"   {half['p50_ms']:>6.2f}  {half['p99_ms']:>6.2f}"
                f"                      {peak['rss_mib']:>6.1f}"
            )
    print(f"  calibration {calibration_seconds():.2f} s after")


if __name__ == "__main__":
    main()
