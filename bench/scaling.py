"""Scaling curves: durable turns/s, and p50/p99 at a paced rate, for 100 to 100,000
concurrent participants; the bot's RSS against open conversations up to 1,000,000.
Prints a table and draws both curves into a PNG.

    python bench/scaling.py --dir /work --png bench/scaling.png

Each size runs in a fresh database (the harness of bench/turns.py: the real core, the
group-commit writer process, SQLite with synchronous=FULL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import turns  # bench/turns.py: the same participants and figures; it puts ROOT on the path

from bot.app import running
from bot.gc_tuning import tune_for_serving

PARTICIPANTS = [100, 1_000, 10_000, 100_000]
CONVERSATIONS = [1_000, 10_000, 100_000, 1_000_000]
OPENED = (
    3  # turns of the script each participant takes before the timing: keyword, consent, one answer
)


async def one_size(folder: str | None, participants: int, seconds: float, rate: float) -> dict:
    with tempfile.TemporaryDirectory(dir=folder) as where:
        async with running(**turns.repeatable(Path(where))) as runtime:
            tune_for_serving()
            # every participant is in the survey (keyword, consent, a first answer) before
            # anything is timed, and goes on from there
            await turns.open_conversations(runtime, 0, participants)
            fastest = await turns.drive(runtime, participants, seconds, 0.0, "m", OPENED)
            step = (OPENED + fastest["turns"] // participants) % len(turns.SCRIPT)
            paced = await turns.drive(runtime, participants, seconds, rate, "m", step)
    return {
        "participants": participants,
        "turns_per_s": fastest["turns_per_s"],
        "cpu_us": fastest["cpu_us_per_turn"],
        "p50_ms": paced["p50_ms"],
        "p99_ms": paced["p99_ms"],
        "paced_turns_per_s": paced["turns_per_s"],
    }


async def memory_curve(folder: str | None, marks: list[int]) -> list[tuple[int, float, float]]:
    readings = []
    with tempfile.TemporaryDirectory(dir=folder) as where:
        async with running(**turns.repeatable(Path(where))) as runtime:
            tune_for_serving()
            done = 0
            for mark in marks:
                await turns.open_conversations(runtime, done, mark)
                done = mark
                readings.append((mark, turns.rss_mib(), turns.rss_mib(runtime.store.writer.pid)))
    return readings


def draw(sizes: list[dict], memory: list[tuple[int, float, float]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    counts = [size["participants"] for size in sizes]
    left.plot(counts, [size["turns_per_s"] for size in sizes], "o-", label="durable turns/s")
    left.set_xscale("log")
    left.set_xlabel("concurrent participants")
    left.set_ylabel("durable turns per second, as fast as possible")
    left.set_ylim(bottom=0)
    latency = left.twinx()
    latency.plot(counts, [s["p99_ms"] for s in sizes], "s--", color="C3", label="p99 (paced)")
    latency.plot(counts, [s["p50_ms"] for s in sizes], "^:", color="C2", label="p50 (paced)")
    latency.set_ylabel("turn latency at the paced rate, ms")
    latency.set_ylim(bottom=0)
    left.legend(loc="lower left")
    latency.legend(loc="lower right")
    left.set_title("Turns against participants")
    marks = [mark for mark, _, _ in memory]
    right.plot(marks, [bot for _, bot, _ in memory], "o-", label="bot process")
    right.plot(marks, [writer for _, _, writer in memory], "s--", label="writer process")
    right.set_xscale("log")
    right.set_xlabel("open conversations")
    right.set_ylabel("RSS, MiB")
    right.set_ylim(bottom=0)
    right.legend()
    right.set_title("Memory against open conversations")
    figure.savefig(png, dpi=110)


async def main(args: argparse.Namespace) -> None:
    print(f"calibration {turns.calibration_seconds():.2f} s; load {os.getloadavg()[0]:.2f}")
    # first, while the process holds nothing: the runs with many participants leave
    # memory behind that the allocator keeps, which would be read as the bot's
    memory = await memory_curve(args.dir, args.conversations)
    base = memory[0][1]
    for mark, bot, writer in memory:
        print(
            f"{mark:>9,} open conversations: bot {bot:.1f} MiB ({bot / base:.2f}×), "
            f"writer {writer:.1f} MiB",
            flush=True,
        )
    sizes = []
    for participants in args.participants:
        size = await one_size(args.dir, participants, args.seconds, args.rate)
        sizes.append(size)
        print(
            f"{participants:>9,} participants: {size['turns_per_s']:>7,.0f} turns/s "
            f"({size['cpu_us']:.0f} µs CPU each); at {args.rate:,.0f}/s offered "
            f"({size['paced_turns_per_s']:,.0f} done): p50 {size['p50_ms']:.2f} ms, "
            f"p99 {size['p99_ms']:.2f} ms",
            flush=True,
        )
    print(f"load at the end {os.getloadavg()[0]:.2f}")
    if args.png:
        draw(sizes, memory, args.png)
        print(f"drawn to {args.png}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: /tmp)")
    parser.add_argument("--participants", type=int, nargs="+", default=PARTICIPANTS)
    parser.add_argument("--conversations", type=int, nargs="+", default=CONVERSATIONS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=5_000.0, help="the paced rate, turns/s")
    parser.add_argument("--png", type=Path, default=None)
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(arguments))
