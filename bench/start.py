"""`civicbot run` as the README's demo starts it (the web chat and the example surveys,
nothing else configured): how long until it answers HTTP, what it imported, and what
both its processes hold once idle.

    python bench/start.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WATCHED = ("numpy", "matplotlib", "nio", "slack_sdk", "slack_bolt", "twilio", "psycopg", "PIL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mib(pid: int) -> tuple[float, float]:
    """RSS, and PSS: the pages shared with other processes (the interpreter's, OpenSSL's)
    counted as a share each, so that two processes' figures add up to what they use."""
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        rollup[name] = int(value) / 1024
    return rollup["Rss:"], rollup["Pss:"]


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def one_start(
    folder: Path, idle: float
) -> tuple[float, tuple[float, float], tuple[float, float], set[str]]:
    """Seconds until HTTP answers, the bot's and its writer's RSS and PSS after `idle`
    seconds, and which of WATCHED it imported."""
    port = free_port()
    config = folder / "civicbot.toml"
    config.write_text(
        f'[storage]\ndatabase = "{folder / "civicbot.db"}"\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    environ = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    began = time.perf_counter()
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=folder,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except OSError:
                if bot.poll() is not None:
                    raise SystemExit(f"civicbot run ended: {bot.stderr.read()[-2000:]}") from None
                time.sleep(0.005)
        answered = time.perf_counter() - began
        time.sleep(idle)
        (writer,) = (resident_mib(child) for child in children(bot.pid))
        own = resident_mib(bot.pid)
    finally:
        bot.send_signal(signal.SIGINT)
        _, errors = bot.communicate(timeout=30)
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in errors.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return answered, own, writer, imported & set(WATCHED)


def main(runs: int, idle: float) -> None:
    # An installed civicbot has its modules compiled (pip compiles what it installs); a
    # checkout where PYTHONDONTWRITEBYTECODE is set would compile them at every start.
    packages = [str(ROOT / name) for name in ("adapters", "bot", "conversations", "storage")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    times, bots, writers = [], [], []
    imported: set[str] = set()
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            answered, own, writer, watched = one_start(Path(folder), idle)
        times.append(answered)
        bots.append(own)
        writers.append(writer)
        imported |= watched
    print(
        f"HTTP answered after {min(times):.2f} / {statistics.median(times):.2f} / "
        f"{max(times):.2f} s (min / median / max of {runs})"
    )
    for kind, index in (("RSS", 0), ("PSS", 1)):
        bot = statistics.median(memory[index] for memory in bots)
        writer = statistics.median(memory[index] for memory in writers)
        print(
            f"idle {kind} after {idle:g} s: bot {bot:.1f} MiB, writer {writer:.1f} MiB, "
            f"together {bot + writer:.1f} MiB"
        )
    print(f"imported of {', '.join(WATCHED)}: {', '.join(sorted(imported)) or 'none'}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds before RSS is read")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.idle)
