"""PostgreSQL's notifications, heard on a connection of their own in a thread.

psycopg's `notifies` blocks, so a thread waits on it and hands each notice to the
event loop. A lost connection is made again a second later; what was notified in
between is found by the next poll, which reads the database anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

AGAIN_AFTER = 1.0  # seconds before listening again after the connection was lost


async def listen(
    connect: Callable[[], psycopg.Connection], channel: str, heard: Callable[[str], None]
) -> None:
    """Call `heard(payload)` on the loop for each notice on `channel`, until cancelled."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                with connect() as connection:
                    connection.execute(f"LISTEN {channel}")
                    while not stop.is_set():
                        for notice in connection.notifies(timeout=AGAIN_AFTER):
                            loop.call_soon_threadsafe(heard, notice.payload)
            except psycopg.Error as error:
                log.warning("listening to %s failed (%s); again in a second", channel, error)
                stop.wait(AGAIN_AFTER)

    thread = threading.Thread(target=run, name=f"postgres-{channel}", daemon=True)
    thread.start()
    try:
        await asyncio.Event().wait()
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
