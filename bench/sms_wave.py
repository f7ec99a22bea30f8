"""An invitation wave by text message: `survey start home-care for` 10,000 numbers,
against the loopback stand-in of Twilio (tests/twilio_stub.py), and the same wave
with civicbot SIGKILLed while it stores the wave, and while it sends it, and started
again.

    python bench/sms_wave.py --people 10000

The wave runs in a child process (this file with `child`): civicbot with its SMS
adapter and the in-memory adapter the coordinator types in. The parent holds the
stand-in, so it sees every message created. It prints, for the wave without a kill:
how long queueing the wave took (the people's addresses and queue rows committed,
from which a restart goes on), storing every invitation's turn (the command's
answer; the first invitations are being sent meanwhile) and sending them all (the
last message at the stand-in), the rate of each, and the segments counted; for the
killed wave: when the kill came, and how many numbers got no invitation (lost) or
more than one (doubled) once the restarted child had gone on with the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from twilio_stub import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SERVICE_NUMBER, TwilioApi  # noqa: E402

from adapters.sms_text import segments  # noqa: E402

WAVE_WITHIN = 600  # seconds a wave may take before the bench gives up


def numbers(people: int) -> list[str]:
    """Valid Finnish mobile numbers, one per person."""
    return [f"+35840{1_000_000 + n:07d}" for n in range(people)]


async def child(database: Path, api_url: str, people: int, resume: bool) -> None:
    from adapters.memory import MemoryAdapter
    from adapters.sms import SmsAdapter, SmsSettings
    from bot.app import running
    from bot.invitations import Guardrails

    settings = SmsSettings(
        enabled=True, sender=SERVICE_NUMBER, public_url=PUBLIC_URL, port=0, api_url=api_url
    )

    def sms(handler):
        return SmsAdapter(
            handler, account_sid=ACCOUNT_SID, auth_tokens=[AUTH_TOKEN], settings=settings
        )

    roomy = Guardrails(approval_above=10**7, messages_per_hour=10**7)
    async with running(
        database=database,
        survey_folder=ROOT / "surveys",
        adapters=[MemoryAdapter, sms],
        environ={"CIVICBOT_PSEUDONYM_KEY": "bench"},
        coordinators=frozenset({"memory:coord"}),
        guardrails=roomy,
        backup_before_migrating=False,
    ) as runtime:
        chat = runtime.adapters[0]
        queued_at: list[float] = []  # when each chunk of the wave's queue was committed
        queue = runtime.store.queue_invitations

        async def timed_queue(*arguments, **options):
            queued = await queue(*arguments, **options)
            queued_at.append(time.perf_counter())
            return queued

        runtime.store.queue_invitations = timed_queue
        if not resume:
            started = time.perf_counter()
            text = "survey start home-care for " + " ".join(numbers(people))
            await chat.push("coord", text, command=True, is_direct=False, conversation="staff")
            done = time.perf_counter()
            print(f"stored {queued_at[-1] - started:.3f} {done - started:.3f}", flush=True)
        await runtime.outbox.caught_up()  # what a kill left in the outbox
        await runtime.coordination.invitations.resumed()  # and in the wave's queue
        await runtime.bot.settled()
        print("settled", flush=True)


async def wave(folder: Path, api: TwilioApi, people: int, kill_at: int | None) -> dict:
    """One wave in a child; with `kill_at`, SIGKILLed once that many were sent, and then
    started again to go on."""
    database = folder / "civicbot.db"
    log = (folder / "child.log").open("a")

    async def spawn(resume: bool) -> asyncio.subprocess.Process:
        arguments = [__file__, "child", str(database), api.url, str(people)]
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *arguments,
            *(["--resume"] if resume else []),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    began = time.perf_counter()
    process = await spawn(resume=False)
    figures: dict = {}
    if kill_at is None:
        line = (await process.stdout.readline()).decode()  # "stored QUEUED INVITED"
        figures["queued_seconds"], figures["stored_seconds"] = map(float, line.split()[1:])
        await asyncio.wait_for(process.wait(), WAVE_WITHIN)
        figures["sent_seconds"] = time.perf_counter() - began
    else:
        await api.until_sent(kill_at)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        figures["killed_after"] = len(api.sent)
        again = await spawn(resume=True)
        await asyncio.wait_for(again.wait(), WAVE_WITHIN)
    per_number = Counter(s.to for s in api.sent)
    expected = set(numbers(people))
    figures["lost"] = len(expected - set(per_number))
    figures["doubled"] = sum(n - 1 for n in per_number.values() if n > 1)
    figures["segments"] = sum(segments(s.body).count for s in api.sent)
    figures["messages"] = len(api.sent)
    return figures


async def main(people: int) -> None:
    load = os.getloadavg()[0]
    # no kill; a kill while the wave is still being stored; one while it is being sent
    for kill in (None, people // 20, people // 2):
        api = TwilioApi()
        await api.start()
        try:
            with tempfile.TemporaryDirectory() as folder:
                found = await wave(Path(folder), api, people, kill)
        finally:
            await api.stop()
        if kill:
            print(
                f"SIGKILL after {found['killed_after']:,} sent, then restarted: "
                f"{found['messages']:,} messages, lost {found['lost']}, "
                f"doubled {found['doubled']}"
            )
        else:
            queued, stored, sent = (
                found["queued_seconds"],
                found["stored_seconds"],
                found["sent_seconds"],
            )
            print(
                f"{people:,} invitations by SMS: queued (addresses and queue, durable) in "
                f"{queued:.2f} s ({people / queued:,.0f}/s), every invitation's turn stored "
                f"in {stored:.2f} s ({people / stored:,.0f}/s, sending meanwhile), all sent "
                f"{sent:.2f} s after the start "
                f"({people / sent:,.0f}/s); {found['segments']:,} segments "
                f"({found['segments'] / people:.1f} each); lost {found['lost']}, "
                f"doubled {found['doubled']}"
            )
    print(f"load average at the start: {load:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        database, api_url, count = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        asyncio.run(child(database, api_url, count, resume="--resume" in sys.argv))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--people", type=int, default=10_000)
        asyncio.run(main(parser.parse_args().people))
