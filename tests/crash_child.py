"""The bot core in a process of its own, for the crash test.

Reads one JSON message per line on stdin ({"user", "text", "event"}), handles
each concurrently, and writes every reply as one JSON line on stdout. A reply
takes a few milliseconds to "send", like a network call, so a kill lands
between commit and send.

    python tests/crash_child.py DATABASE SURVEY_FOLDER

DATABASE is a SQLite file or a PostgreSQL URL (its password in the environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.memory import MemoryAdapter
from bot.app import running
from bot.events import Outbound

SEND_DELAY = 0.02


async def write_reply(outbound: Outbound) -> None:
    await asyncio.sleep(SEND_DELAY)
    line = json.dumps(
        {
            "to": outbound.conversation_id,
            "outbox_id": outbound.outbox_id,
            "text": outbound.message.text,
        }
    )
    os.write(sys.stdout.fileno(), (line + "\n").encode())  # one write: atomic on a pipe


async def main(database: Path | str, surveys: Path) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    adapters = [lambda handler: MemoryAdapter(handler, on_send=write_reply)]
    environ = {**os.environ, "CIVICBOT_PSEUDONYM_KEY": "crash-test"}
    async with running(
        database=database, survey_folder=surveys, adapters=adapters, environ=environ
    ) as runtime:
        chat = runtime.adapters[0]
        os.write(sys.stdout.fileno(), b'{"ready": true}\n')
        handling = set()
        while line := await reader.readline():
            message = json.loads(line)
            task = asyncio.create_task(
                chat.push(message["user"], message["text"], event_id=message["event"])
            )
            handling.add(task)
            task.add_done_callback(handling.discard)
        await asyncio.gather(*handling)


if __name__ == "__main__":
    database = sys.argv[1] if "://" in sys.argv[1] else Path(sys.argv[1])
    asyncio.run(main(database, Path(sys.argv[2])))
