"""Digest charts drawn in a process of their own.

In a thread, matplotlib's first import and its C rendering held the interpreter
lock for 0.5-0.8 s at a stretch, and every conversation waited that long. A
child process holds its own: the bot's event loop never waits for a chart. The
process starts with the first digest that wants a chart (so matplotlib's 50 MiB
are never loaded in a bot that draws none) and stays for the next ones.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING

from bot.digest import Digest

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


class ChartDrawer:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()  # two digests at once start one process

    async def warm(self) -> None:
        """Start the process and its imports now, while the digest's figures are read.
        Starting a process takes milliseconds of the interpreter: not on the loop."""
        await asyncio.to_thread(lambda: self._started().submit(_ready))

    async def draw(self, digest: Digest) -> tuple[bytes, str] | None:
        """The digest's chart as PNG with its alt text; None if it charts nothing."""
        return await asyncio.wrap_future(self._started().submit(_drawn, digest))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _started(self) -> ProcessPoolExecutor:
        with self._starting:
            if self._pool is None:
                # imported here: a bot that draws no chart does without their 2 MiB
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # spawned, not forked: the bot has threads (the writer's, the readers'),
                # and a fork copies their locks in whatever state they are
                spawn = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=spawn, initializer=_behind_the_bot
                )
            return self._pool


def _behind_the_bot() -> None:
    # on a small machine a chart competes with the bot for the cores: conversations first
    os.nice(10)


def _ready() -> None:
    import bot.charts  # noqa: F401 - matplotlib, imported once per process


def _drawn(digest: Digest) -> tuple[bytes, str] | None:
    from bot.charts import chart_description, chart_png

    png = chart_png(digest)
    return None if png is None else (png, chart_description(digest))
