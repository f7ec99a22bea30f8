""" "You said, we did" to a large run on Slack, killed halfway through its delivery: the
delivery rate under Slack's limits, and that nobody's follow-up is lost or doubled.

    python bench/tell_slack.py --people 2000 --workspace-rate 100

Run 1 of the library survey gets `--people` participants on Slack and a finding marked
done, straight in a fresh SQLite file (bench/tell.py's fixture). civicbot runs in its
HTTP Slack mode in a child process (tests/slack_child.py) against the loopback stand-in
of Slack's Web API (tests/slack_stub.py), which keeps chat.postMessage to one post a
second per channel after a burst of four, and to `--workspace-rate` posts a second in
all (Slack names no figure for that one), answering 429 with Retry-After: 1 beyond
either. A coordinator types `/survey tell 1 send`; once half the follow-ups are posted
the child is killed with SIGKILL and started again, twice over `--kills`; the second
`send` after the last restart must find everyone told. Then each person's channel is
read: lost (no follow-up) and doubled (more than one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
from slack_stub import SlackWebApi, post  # noqa: E402

from bench.crash_slack import Bot  # noqa: E402
from bench.digest import civicbot, survey_folder  # noqa: E402
from bench.tell import address, seed  # noqa: E402
from bench.turns import calibration_seconds  # noqa: E402

COORDINATOR = "U0COORD"
FOLLOW_UP = "You said, and we did:"


def follow_ups(api: SlackWebApi, people: int) -> list[int]:
    """How many follow-ups each person's channel holds."""
    return [
        sum(FOLLOW_UP in (m["text"] or "") for m in api.top_level(address("slack", n)[1]))
        for n in range(people)
    ]


async def tell(session: aiohttp.ClientSession, bot: Bot, api: SlackWebApi) -> str:
    """`/survey tell 1 send` from the coordinator; what civicbot answers at its response_url."""
    answered = len(api.made("response_url"))
    body = api.slash_command(COORDINATOR, "C0STAFF", "tell 1 send")
    response = await post(session, bot.url, body, form=True)
    assert response.status == 200, response.status
    await api.until(lambda: len(api.made("response_url")) > answered, seconds=120)
    return api.made("response_url")[-1]["text"]


async def main(args: argparse.Namespace) -> None:
    print(f"calibration {calibration_seconds():.2f} s")
    api = SlackWebApi(posts_per_second=1.0, workspace_posts_per_second=args.workspace_rate)
    await api.start()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        surveys = survey_folder(Path(folder), text_only=True)
        async with civicbot(Path(folder) / "civicbot.db", surveys):
            pass  # creates and migrates the file
        seed(Path(folder) / "civicbot.db", args.people, platform="slack")
        bot = Bot(
            Path(folder),
            api,
            environ={
                "SLACK_CHILD_COORDINATORS": f"slack:{COORDINATOR}",
                "SLACK_CHILD_APPROVAL_ABOVE": str(args.people),
            },
        )
        await bot.start()
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            answer = await tell(session, bot, api)
            queued = time.perf_counter() - started
            print(f"tell 1 send answered in {queued:.2f} s: {answer.splitlines()[0]!r}")
            for kill in range(args.kills):
                share = (kill + 1) / (args.kills + 1)
                await api.until(lambda share=share: api.posted >= share * args.people, 3600)
                bot.kill()
                await bot.wait()
                print(f"killed with {api.posted:,} follow-ups posted")
                restarted = time.perf_counter()
                await bot.start()
                print(
                    f"ready again after {time.perf_counter() - restarted:.1f} s,"
                    f" {api.posted:,} posted"
                )
            await api.until(lambda: api.posted >= args.people, seconds=3600)
            await api.until(lambda: min(follow_ups(api, args.people)) > 0, seconds=60)
            delivered = time.perf_counter() - started
            again = await tell(session, bot, api)
        await bot.stop()
    await api.stop()
    counts = follow_ups(api, args.people)
    print(f"second send: {again.splitlines()[0]!r}")
    print(
        f"{args.people:,} people, {args.kills} kills: all delivered in {delivered:.1f} s"
        f" ({args.people / delivered:.0f} a second; the stand-in allows {args.workspace_rate:g});"
        f" {api.limited:,} posts answered 429;"
        f" lost {sum(c == 0 for c in counts)}, doubled {sum(c - 1 for c in counts if c > 1)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--kills", type=int, default=1)
    parser.add_argument(
        "--workspace-rate", type=float, default=100.0, help="posts a second Slack takes in all"
    )
    parser.add_argument("--dir", default=None, help="where the database goes (default /tmp)")
    asyncio.run(main(parser.parse_args()))
