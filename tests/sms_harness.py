"""What the SMS tests share: the Twilio stand-in, civicbot running against it beside
the in-memory adapter its coordinator types commands in, and texts in and out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from twilio_stub import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SERVICE_NUMBER, TwilioApi, text_in

from adapters.memory import MemoryAdapter
from adapters.sms import SmsAdapter, SmsSettings
from bot.app import Runtime, running

ANN = "+358401234567"


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioApi]:
    api = TwilioApi()
    await api.start()
    yield api
    await api.stop()


def sms_running(
    tmp_path: Path, survey_folder: Path, twilio: TwilioApi, beside=MemoryAdapter, **options: object
):
    """civicbot texting through the stand-in, `beside` the adapter staff type commands in."""
    settings = SmsSettings(
        enabled=True,
        sender=SERVICE_NUMBER,
        public_url=PUBLIC_URL,
        port=0,
        api_url=twilio.url,
        price_per_segment=Decimal("0.08"),
    )

    def sms(handler):
        return SmsAdapter(
            handler, account_sid=ACCOUNT_SID, auth_tokens=[AUTH_TOKEN], settings=settings
        )

    return running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[beside, sms],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        **({"coordinators": frozenset({"memory:coord"}), "send_retry_delays": ()} | options),
    )


@pytest.fixture
async def texting(tmp_path: Path, survey_folder: Path, twilio: TwilioApi) -> AsyncIterator[Runtime]:
    async with sms_running(tmp_path, survey_folder, twilio) as runtime:
        twilio.service_url = f"http://127.0.0.1:{runtime.adapters[1].port}"
        yield runtime


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def texts(runtime: Runtime, twilio: TwilioApi, session, number: str, body: str, **extra):
    """`number` texts `body`; Twilio's answer to the webhook, once the replies went."""
    response = await text_in(session, twilio.service_url, number, body, **extra)
    await runtime.bot.settled()
    return response
