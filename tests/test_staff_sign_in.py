"""One sign-in per staff person on the web staff page: personal links, roles, sessions
that survive a restart, and revocation that takes effect at once."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from click.testing import CliRunner
from conftest import staff_site

from bot.app import Runtime
from bot.cli import main
from bot.staff_door import add_account

OPERATOR_KEY = "operator-key-for-tests"


def site(tmp_path: Path, survey_folder: Path):
    return staff_site(tmp_path, survey_folder, OPERATOR_KEY)


def base(runtime: Runtime) -> str:
    return f"http://127.0.0.1:{runtime.adapters[0].port}"


def browser_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def signed_in(session: aiohttp.ClientSession, runtime: Runtime, key: str) -> int:
    """Open the sign-in link; the status of the page it ends on."""
    return (await session.get(f"{base(runtime)}/staff?key={key}")).status


async def typed(session: aiohttp.ClientSession, runtime: Runtime, text: str, n: int) -> str:
    """A command typed on the staff page; the bot's answer."""
    url = f"{base(runtime)}/api/staff/messages"
    assert (await session.post(url, json={"text": text, "id": f"cmd-{n:05d}"})).status == 202
    transcript = await (await session.get(f"{url}?after=0&wait=0")).json()
    return transcript["messages"][-1]["text"]


async def test_a_personal_link_signs_in_as_that_person_with_their_role(
    tmp_path: Path, survey_folder: Path
) -> None:
    async with site(tmp_path, survey_folder) as runtime, browser_session() as browser:
        key = await add_account(runtime.store, name="ana", role="analyst", now=time.time())
        assert await signed_in(browser, runtime, key) == 200
        assert (await typed(browser, runtime, "survey list", 1)).startswith("Surveys:")
        assert await typed(browser, runtime, "survey start library for everyone", 2) == (
            "Sorry, 'survey start' needs the coordinator role; you have: analyst."
        )
        entries = await runtime.store.audit_entries()
    assert [(e.user_id, e.allowed) for e in entries] == [("ana", True), ("ana", False)]


async def test_a_session_survives_a_restart(tmp_path: Path, survey_folder: Path) -> None:
    async with browser_session() as browser:
        async with site(tmp_path, survey_folder) as runtime:
            key = await add_account(runtime.store, name="cole", role="coordinator", now=time.time())
            await signed_in(browser, runtime, key)
        async with site(tmp_path, survey_folder) as runtime:
            reply = await typed(browser, runtime, "survey start library for everyone", 1)
    assert reply.startswith("Run 1 of 'City library feedback' started for everyone")


async def test_a_revoked_account_is_signed_out_at_once(tmp_path: Path, survey_folder: Path) -> None:
    async with site(tmp_path, survey_folder) as runtime, browser_session() as browser:
        key = await add_account(runtime.store, name="ana", role="analyst", now=time.time())
        await signed_in(browser, runtime, key)
        await runtime.store.revoke_staff(name="ana")
        poll = await browser.get(f"{base(runtime)}/api/staff/messages?after=0&wait=0")
        assert poll.status == 401
        async with browser_session() as again:
            assert await signed_in(again, runtime, key) == 403


async def test_a_guessed_key_opens_nothing(tmp_path: Path, survey_folder: Path) -> None:
    async with site(tmp_path, survey_folder) as runtime, browser_session() as browser:
        await add_account(runtime.store, name="ana", role="analyst", now=time.time())
        assert await signed_in(browser, runtime, "x" * 43) == 403
        assert (await browser.get(f"{base(runtime)}/api/staff/messages?after=0")).status == 401


async def test_guessing_sign_in_keys_is_slowed_down_and_logged_without_the_key(
    tmp_path: Path, survey_folder: Path, caplog
) -> None:
    async with site(tmp_path, survey_folder) as runtime, browser_session() as browser:
        statuses = [await signed_in(browser, runtime, f"wrongkey{n:036d}") for n in range(12)]
        assert statuses == [403] * 10 + [429] * 2
        assert await signed_in(browser, runtime, OPERATOR_KEY) == 429  # even the right one, now
    warnings = [r.getMessage() for r in caplog.records if "wrong staff sign-in" in r.getMessage()]
    assert warnings[-1] == "web: a wrong staff sign-in key was tried (10 so far)"
    assert not any("wrongkey" in r.getMessage() for r in caplog.records)


def staff_cli(config: Path, *args: str):
    """`civicbot staff …` with the configuration at `config`."""
    return CliRunner().invoke(
        main, ["staff", *args, "--config", str(config)], env={"CIVICBOT_PSEUDONYM_KEY": "k"}
    )


def test_civicbot_staff_add_prints_a_link_once_and_refuses_a_taken_name(tmp_path: Path) -> None:
    config = tmp_path / "civicbot.toml"
    config.write_text('[web]\npublic_url = "https://feedback.example.org/"\n', encoding="utf-8")
    added = staff_cli(config, "add", "ana", "analyst")
    assert added.exit_code == 0, added.output
    assert "https://feedback.example.org/staff?key=" in added.output
    again = staff_cli(config, "add", "ana", "analyst")
    assert again.exit_code == 1
    assert "there is a staff account 'ana' already" in again.output
    assert staff_cli(config, "list").output == "ana: analyst\n"
    assert staff_cli(config, "revoke", "ana").output == (
        "ana can no longer sign in; their sessions have ended.\n"
    )


def test_civicbot_staff_add_names_a_bad_role_or_name(tmp_path: Path) -> None:
    config = tmp_path / "civicbot.toml"
    config.write_text("", encoding="utf-8")
    bad_role = staff_cli(config, "add", "ana", "boss")
    assert "there is no role 'boss'; roles: coordinator, analyst" in bad_role.output
    bad_name = staff_cli(config, "add", "Ann Smith", "analyst")
    assert "'Ann Smith' cannot be a staff name" in bad_name.output
