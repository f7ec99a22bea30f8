"""The bot with its Matrix adapter in a process of its own, for the kill test.

python tests/matrix_child.py DATABASE SURVEYS HOMESERVER USER TOKEN DEVICE
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.matrix import MatrixAdapter
from adapters.matrix_device import MatrixLogin
from bot.app import running


async def main(
    database: Path, surveys: Path, homeserver: str, user: str, token: str, device: str
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    adapter = [
        lambda handler: MatrixAdapter(
            handler,
            homeserver=homeserver,
            login=MatrixLogin(user, device, access_token=token),
            state_folder=database.parent,
            sync_timeout_ms=1000,
        )
    ]
    async with running(
        database=database,
        survey_folder=surveys,
        adapters=adapter,
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
    ):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    database, surveys, homeserver, user, token, device = sys.argv[1:7]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(Path(database), Path(surveys), homeserver, user, token, device))
