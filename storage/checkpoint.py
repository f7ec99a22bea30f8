"""WAL checkpoints away from the commit path.

SQLite's automatic checkpoint runs inside whichever COMMIT crosses the threshold,
so one turn in every few hundred would wait for a thousand pages to be copied and
the database file to be synced. The writer's connection turns that off, and this
checkpointer copies the WAL into the database on its own connection and thread
(PASSIVE: it never blocks the writer or readers), whenever the WAL has grown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

WAL_PAGES_BEFORE_CHECKPOINT = 1_000
INTERVAL_SECONDS = 0.5


class Checkpointer:
    def __init__(self, connection: sqlite3.Connection, *, interval: float = INTERVAL_SECONDS):
        self._connection = connection
        self._interval = interval
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="wal-checkpoint")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._checkpoint, "TRUNCATE")
        self._thread.shutdown(wait=True)
        self._connection.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval)
            try:
                await loop.run_in_executor(self._thread, self._checkpoint, "PASSIVE")
            except sqlite3.Error:
                log.exception("WAL checkpoint failed; the next one will retry")

    def _checkpoint(self, mode: str) -> None:
        _busy, wal_pages, _copied = self._connection.execute(
            f"PRAGMA wal_checkpoint({mode})"
        ).fetchone()
        if wal_pages > 10 * WAL_PAGES_BEFORE_CHECKPOINT:
            log.warning("the WAL holds %d pages; checkpoints are falling behind", wal_pages)
