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
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import postgres_server  # noqa: E402

from adapters.memory import MemoryAdapter  # noqa: E402
from bench.turns import (  # noqa: E402
    calibration_seconds,
    drive,
    peak_rss_mib,
    quiet,
    rss_mib,
    stat_fields,
)
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


def cpu_of_tree(pid: int) -> float:
    """CPU seconds of a process, its children that ended (waited for) and those alive."""
    total = sum(int(n) for n in stat_fields(pid)[11:15])
    for other in os.listdir("/proc"):
        if other.isdigit():
            try:
                mine = stat_fields(other)
            except OSError:  # ended meanwhile
                continue
            if int(mine[1]) == pid:
                total += int(mine[11]) + int(mine[12])
    return total / os.sysconf("SC_CLK_TCK")


CPU_CGROUPS = Path("/sys/fs/cgroup/cpu")  # cgroup v1's CPU controller, as on this machine
CGROUP_PERIOD_US = 100_000


@contextmanager
def cpu_limited(cores: float | None, name: str) -> Iterator[Callable[[], None] | None]:
    """A cgroup that holds a process and its children to `cores` (None: no limit): a
    worker as if on a small host of its own. Yields what a child runs before its program."""
    if cores is None:
        yield None
        return
    group = CPU_CGROUPS / name
    group.mkdir()
    try:
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * CGROUP_PERIOD_US)))
        procs = str(group / "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as joined:
                joined.write(str(os.getpid()))

        yield join
    finally:
        group.rmdir()


def run_workers(
    database: str, environ: dict, workers: int, args, rate: float, server: int | None
) -> dict:
    start_at = time.time() + START_AFTER
    share = args.participants // workers
    with ExitStack() as groups:
        children = [
            _start_worker(database, environ, args, share, rate / workers, start_at, n, groups)
            for n in range(workers)
        ]
        server_cpu = 0.0
        if server is not None:
            time.sleep(max(0.0, start_at - time.time()))
            before = cpu_of_tree(server)
            time.sleep(args.seconds)
            server_cpu = cpu_of_tree(server) - before
        outputs = [child.communicate()[0] for child in children]
    figures = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    turns = sum(f["turns"] for f in figures)
    return {
        "server_us_per_turn": server_cpu / max(turns, 1) * 1e6,
        "turns_per_s": sum(f["turns_per_s"] for f in figures),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "rss_mib": max(f["rss_mib"] for f in figures),
        "cpu_us_per_turn": sum(f["cpu_us_per_turn"] * f["turns"] for f in figures) / max(turns, 1),
    }


def _start_worker(
    database: str,
    environ: dict,
    args: argparse.Namespace,
    share: int,
    rate: float,
    start_at: float,
    n: int,
    groups: ExitStack,
) -> subprocess.Popen:
    join = groups.enter_context(cpu_limited(args.worker_cores, f"civicbot-bench-{os.getpid()}-{n}"))
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "worker",
            f"--database={database}",
            f"--environ={json.dumps(environ)}",
            f"--participants={share}",
            f"--seconds={args.seconds}",
            f"--rate={rate}",
            f"--start-at={start_at}",
            f"--name=k{n}-",
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=join,
    )


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
    parser.add_argument(
        "--workers", default="1,2,3", help="PostgreSQL setups to run, by workers (default 1,2,3)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="leave out the SQLite setup")
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting beside synchronous_commit=on (again for more)",
    )
    parser.add_argument(
        "--worker-cores",
        type=float,
        default=None,
        help="hold each worker (bot and writer process) to this many cores, as on a host of"
        " its own, the server taking the rest (a cgroup v1 CPU quota; as root)",
    )
    parser.add_argument(
        "--peak-only", action="store_true", help="leave out the runs at half the peak (latency)"
    )
    args = parser.parse_args()
    if args.mode == "worker":
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(worker(args))
        return
    print(f"{args.participants:,} participants, {args.seconds:g} s per setup")
    print(f"  calibration {calibration_seconds():.2f} s for 5M loop iterations")
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as folder,
        postgres_server(
            durable=True, settings=("synchronous_commit=on", *args.server_setting)
        ) as server,
    ):
        sqlite = str(Path(folder) / "bench.db")
        setups = (
            []
            if args.no_sqlite
            else [("SQLite", 1, lambda: sqlite, {"CIVICBOT_PSEUDONYM_KEY": "b"}, None)]
        )
        setups += [
            ("PostgreSQL", int(n), server.new_database, server.environ, server.pid)
            for n in args.workers.split(",")
        ]
        print(
            "  backend      workers  turns/s   p50 ms  p99 ms (at half the peak)  RSS/worker MiB"
            "  CPU µs/turn: workers, server"
        )
        for backend, workers, database, environ, postmaster in setups:
            peak = run_workers(database(), environ, workers, args, 0.0, postmaster)
            half = {"p50_ms": float("nan"), "p99_ms": float("nan")}
            if not args.peak_only:
                rate = peak["turns_per_s"] / 2
                half = run_workers(database(), environ, workers, args, rate, None)
            server_cpu = f"{peak['server_us_per_turn']:>4.0f}" if postmaster else "   -"
            print(
                f"  {backend:<12} {workers:>7}  {peak['turns_per_s']:>7,.0f}"
                f"   {half['p50_ms']:>6.2f}  {half['p99_ms']:>6.2f}"
                f"                      {peak['rss_mib']:>6.1f}"
                f"          {peak['cpu_us_per_turn']:>4.0f}, {server_cpu}"
            )
    print(f"  calibration {calibration_seconds():.2f} s after")


if __name__ == "__main__":
    main()
