"""Making the database writer process fail at a chosen moment, for tests of what is
acknowledged and stored when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.writer import GroupCommitWriter


def stall(connection: sqlite3.Connection, *, entered: str | None = None) -> None:
    """A write that holds the writer process, so the writes behind it wait in its pipe;
    it says it has begun into the FIFO `entered`, if given."""
    if entered is not None:
        Path(entered).write_text("in the write")
    time.sleep(60)


@asynccontextmanager
async def killed_holding(writer: GroupCommitWriter, writes: int) -> AsyncIterator[None]:
    """Stall the writer process; once the block has handed it `writes` more writes,
    SIGKILL it, so that every one of them fails."""
    stalled = asyncio.ensure_future(writer.write(stall))
    yield
    async with asyncio.timeout(20):  # the writes are in the writer's hands
        while writer.holding < writes + 1:  # noqa: ASYNC110 - another process's progress
            await asyncio.sleep(0.01)
    os.kill(writer.pid, signal.SIGKILL)
    await asyncio.gather(stalled, return_exceptions=True)
