"""`survey start home-care for #everyone` to a channel of 10,000 people on the
in-memory adapter: how long the wave takes to store and hand to the adapter.

    python bench/wave.py --people 10000

To compare with an earlier commit, run the same file from a worktree of it
(`git worktree add /tmp/old COMMIT && python bench/wave.py --root /tmp/old`).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path


async def main(people: int, root: Path) -> None:
    sys.path.insert(0, str(root))
    from adapters.memory import MemoryAdapter
    from bot.app import running
    from bot.invitations import Guardrails

    everyone = [f"U{n}" for n in range(people)]
    invitations = 0

    def count_invitation(outbound) -> None:  # counted, not kept: the bot's memory is measured
        nonlocal invitations
        invitations += outbound.conversation_id.startswith("dm-")

    roomy = Guardrails(approval_above=10**7, messages_per_hour=10**7)
    with tempfile.TemporaryDirectory() as folder:
        async with running(
            database=Path(folder) / "civicbot.db",
            survey_folder=root / "surveys",
            adapters=[
                lambda handler: MemoryAdapter(
                    handler, on_send=count_invitation, channels={"#everyone": everyone}
                )
            ],
            environ={"CIVICBOT_PSEUDONYM_KEY": "bench"},
            coordinators=frozenset({"memory:coord"}),
            guardrails=roomy,
            backup_before_migrating=False,
        ) as runtime:
            chat = runtime.adapters[0]
            began = time.perf_counter()
            text = "survey start home-care for #everyone"
            await chat.push("coord", text, command=True, is_direct=False, conversation="staff")
            stored = time.perf_counter() - began
            await runtime.bot.settled()
            handed = time.perf_counter() - began
    bot = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    writer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{people:,} people: the command answered after {stored:.2f} s "
        f"({people / stored:,.0f} invitations/s), {invitations:,} handed to the adapter after "
        f"{handed:.2f} s; peak RSS: bot {bot:.0f} MiB, writer {writer:.0f} MiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.people, arguments.root))
