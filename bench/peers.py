"""civicbot's durable turns beside opsdroid's in-memory dispatch, interleaved in one
window, and the paced tail: the figures issue 18 asks for.

    python bench/peers.py --dir /work --rounds 5 --paced 20

Each round runs bench/turns.py's throughput (1,000 participants; `--repeatable`: every
turn an answer) and then opsdroid 0.31 with a regex reply skill on 20,000 messages
(../shared/peers/bench_opsdroid.py, in a virtual environment of its own, made on first
use). Then `--paced` runs at 5,000 turns/s offered. Beside every run: the load average
and the share of its time some task waited for a CPU (/proc/pressure/cpu).

`--busy N` makes the host busy for all of it, the same for both: N processes that spin
in pure Python, as another tenant of the machine would, ended with this script.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / "shared" / "peers"
TURNS = ROOT / "bench" / "turns.py"
PEER_OPTIONS = ("--variant", "regex-serial", "--n", "20000", "--runs", "1")


def cpu_stall_us() -> int:
    """Microseconds, since boot, during which some runnable task waited for a CPU."""
    with open("/proc/pressure/cpu") as pressure:
        some = pressure.readline().split()
    return int(some[-1].removeprefix("total="))


def measured(command: list[str]) -> tuple[dict, dict]:
    """The last JSON line the command prints, and the host's state while it ran."""
    stall_before, started = cpu_stall_us(), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    stalled = (cpu_stall_us() - stall_before) / 1e6 / wall
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{command[1]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1]), {"load": os.getloadavg()[0], "stalled": stalled}


def opsdroid_python(folder: Path) -> Path:
    """The peer's interpreter, its environment made first if it is not there yet."""
    python = folder / "bin" / "python"
    if python.exists():
        return python
    requirements = PEERS / "requirements-opsdroid.txt"
    if not requirements.exists():
        sys.exit(f"the peers' harnesses are not there: {requirements} is missing")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    return python


# Spins until the script that started it is gone, so that none outlives a killed run.
SPIN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    sum(range(100_000))"


@contextlib.contextmanager
def busy_host(spinners: int) -> Iterator[None]:
    started = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(spinners)]
    try:
        yield
    finally:
        for spinner in started:
            spinner.kill()
            spinner.wait()


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def host(state: dict) -> str:
    return f"load {state['load']:.2f}, CPU waited {state['stalled']:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: /tmp)")
    parser.add_argument("--rounds", type=int, default=5, help="civicbot and opsdroid, in turn")
    parser.add_argument("--paced", type=int, default=20, help="runs at 5,000 turns/s offered")
    parser.add_argument("--seconds", type=float, default=10.0, help="of each civicbot run")
    parser.add_argument("--repeatable", action="store_true", help="every turn an answer")
    parser.add_argument("--opsdroid-env", type=Path, default=Path("/tmp/opsdroid"))
    parser.add_argument("--busy", type=int, default=0, help="processes spinning meanwhile")
    args = parser.parse_args()
    with busy_host(args.busy):
        compare(args)


def compare(args: argparse.Namespace) -> None:
    peer = opsdroid_python(args.opsdroid_env)
    where = ["--dir", args.dir] if args.dir else []
    turns_run = [sys.executable, str(TURNS), *where]
    options = ["--seconds", str(args.seconds), "--json"] + (["--repeatable"] * args.repeatable)

    ours: list[float] = []
    theirs: list[float] = []
    for round_number in range(1, args.rounds + 1):
        bot, bot_host = measured([*turns_run, "throughput", *options])
        peer_figures, peer_host = measured(
            [str(peer), str(PEERS / "bench_opsdroid.py"), *PEER_OPTIONS]
        )
        ours.append(bot["turns_per_s"])
        theirs.append(peer_figures["msgs_per_s_median"])
        print(
            f"round {round_number}: civicbot {bot['turns_per_s']:,.0f} durable turns/s"
            f" ({bot['cpu_us_per_turn']:.0f} µs CPU a turn, the writer's"
            f" {bot['writer_cpu_us_per_turn']:.0f}, calibration"
            f" {bot['calibration_s']:.2f} s; {host(bot_host)}); opsdroid"
            f" {theirs[-1]:,.0f} messages/s ({peer_figures['cpu_us_per_msg_median']:.1f} µs;"
            f" {host(peer_host)}): {ours[-1] / theirs[-1]:.2f}×",
            flush=True,
        )
    if args.rounds:
        print(f"civicbot turns/s min / median / max  {spread(ours)}")
        print(f"opsdroid msgs/s  min / median / max  {spread(theirs)}")
        print(
            "ratio of medians                   "
            f" {statistics.median(ours) / statistics.median(theirs):.2f}×"
        )

    tails: list[float] = []
    for run in range(1, args.paced + 1):
        paced, paced_host = measured([*turns_run, "latency", "--rate", "5000", *options])
        tails.append(paced["p99_ms"])
        print(
            f"paced {run}: p50 {paced['p50_ms']:.2f} ms, p99 {paced['p99_ms']:.2f} ms,"
            f" {paced['turns_per_s']:,.0f} turns/s; {host(paced_host)}",
            flush=True,
        )
    if args.paced:
        under = sum(tail < 20 for tail in tails)
        print(
            f"p99 under 20 ms in {under} of {args.paced} runs"
            f" (median {statistics.median(tails):.1f} ms)"
        )


if __name__ == "__main__":
    main()
