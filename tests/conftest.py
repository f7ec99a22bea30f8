from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright

from adapters.memory import MemoryAdapter
from adapters.web import WebAdapter
from bot.app import Runtime, running

# Fixtures that more than one module of tests uses: Matrix's homeserver, accounts and
# people; Slack's stand-in and civicbot running against it; a PostgreSQL server.
pytest_plugins = ["matrix_harness", "postgres_harness", "slack_harness", "sms_harness"]

ROOT = Path(__file__).resolve().parent.parent
TEST_SURVEYS = Path(__file__).resolve().parent / "surveys"


class Clock:
    """A clock the test moves by hand; what sleeps on it wakes when it is moved past."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, woken in list(self._sleepers):
            if deadline <= self.now or woken.done():
                self._sleepers.remove((deadline, woken))
                if not woken.done():
                    woken.set_result(None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def survey_folder(tmp_path: Path) -> Path:
    """The example surveys plus the test surveys, in one folder."""
    folder = tmp_path / "surveys"
    folder.mkdir()
    for source in [*(ROOT / "surveys").glob("*.yaml"), *TEST_SURVEYS.glob("*.yaml")]:
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


STAFF_ROOM = "staff-room"


def coordinated(tmp_path: Path, survey_folder: Path, clock: Clock, **options: object):
    """civicbot with the in-memory adapter and `memory:coord` as its coordinator."""
    channels = options.pop("channels", None)
    return running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: MemoryAdapter(handler, channels=channels)],
        clock=clock,
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        **({"coordinators": frozenset({"memory:coord"})} | options),
    )


@asynccontextmanager
async def staff_site(tmp_path: Path, survey_folder: Path, key: str) -> AsyncIterator[Runtime]:
    """civicbot with the web chat and its staff page, opened by the operator's `key`."""
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=0, staff_key=key)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        coordinators=frozenset({"web:staff"}),
    ) as runtime:
        yield runtime


@pytest.fixture
async def settled(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    """`coordinated()` civicbot once the upkeep it runs at start is over, so that a test
    that moves the clock sees only the jobs it made due."""
    async with coordinated(tmp_path, survey_folder, clock) as started:
        await started.scheduler.settled()
        yield started


async def at_once(chat: MemoryAdapter, text: str, *users: str) -> None:
    """The same command from several people at the same moment, in the staff room."""
    await asyncio.gather(
        *(
            chat.push(user, text, command=True, is_direct=False, conversation=STAFF_ROOM)
            for user in users
        )
    )


async def command(chat: MemoryAdapter, text: str, *, user: str = "coord") -> str:
    """Run a command in the staff room and return the bot's answer to it."""
    await chat.push(user, text, command=True, is_direct=False, conversation=STAFF_ROOM)
    return chat.to(STAFF_ROOM)[-1].message.text


@pytest.fixture
def one_person_digests(survey_folder: Path) -> None:
    """The library survey shows figures and quotes from its first respondent on, for tests
    of what a digest shows (small-cell suppression has tests of its own)."""
    library = survey_folder / "library-services.yaml"
    library.write_text("min_group_size: 1\n" + library.read_text(encoding="utf-8"), "utf-8")


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[MemoryAdapter],
        clock=clock,
        environ={"CIVICBOT_PSEUDONYM_KEY": "test-key"},
    ) as started:
        yield started


@pytest.fixture
def chat(runtime: Runtime) -> MemoryAdapter:
    adapter = runtime.adapters[0]
    assert isinstance(adapter, MemoryAdapter)
    return adapter


CHROMIUM = "/usr/bin/chromium"  # Debian's; the tests never download a browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def says(chat: MemoryAdapter, user: str, *texts: str) -> str:
    """Send each text as `user`; the bot's last answer to them."""
    for text in texts:
        await chat.push(user, text)
    return chat.to(f"dm-{user}")[-1].message.text


def last_bot_message(page: Page) -> Locator:
    return page.locator("#log li.bot").last


async def type_answer(page: Page, text: str) -> None:
    await page.locator("#message").fill(text)
    await page.keyboard.press("Enter")
