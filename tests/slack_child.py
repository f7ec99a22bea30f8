"""The bot with its Slack adapter (HTTP mode) in a process of its own, for the kill tests.

python tests/slack_child.py DATABASE SURVEYS SLACK_API_URL [PORT]

DATABASE is a SQLite file or a PostgreSQL URL (its password in the environment).
SLACK_CHILD_COORDINATORS (names such as `slack:U0COORD`, comma-separated) may run
survey commands, SLACK_CHILD_APPROVAL_ABOVE sets the guardrail on large sends, and
SLACK_CHILD_WEB_PORT serves the web chat beside Slack on that port.

Prints "ready PORT" once Slack's events can be posted to 127.0.0.1:PORT/slack/events
(a free port unless PORT is given).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_stub import BOT_TOKEN, SIGNING_SECRET

from adapters.slack import SlackAdapter
from adapters.web import WebAdapter
from bot.app import running
from bot.invitations import Guardrails


async def main(database: Path | str, surveys: Path, api_url: str, port: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    adapter = [
        lambda handler: SlackAdapter(
            handler, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=api_url, port=port
        )
    ]
    if web_port := os.environ.get("SLACK_CHILD_WEB_PORT"):
        # behind a load balancer on loopback, which names each page's address
        balancer = [ipaddress.ip_network("127.0.0.1/32")]
        adapter.append(
            lambda handler: WebAdapter(handler, port=int(web_port), trusted_proxies=balancer)
        )
    async with running(
        database=database,
        survey_folder=surveys,
        adapters=adapter,
        environ={**os.environ, "CIVICBOT_PSEUDONYM_KEY": "k"},
        coordinators=frozenset(
            filter(None, os.environ.get("SLACK_CHILD_COORDINATORS", "").split(","))
        ),
        guardrails=Guardrails(
            approval_above=int(os.environ.get("SLACK_CHILD_APPROVAL_ABOVE", "500"))
        ),
    ) as runtime:
        print(f"ready {runtime.adapters[0].port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    database, surveys, api_url = sys.argv[1:4]
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(
        main(database if "://" in database else Path(database), Path(surveys), api_url, port)
    )
