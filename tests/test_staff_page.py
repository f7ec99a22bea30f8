"""The web staff page: coordinators without Slack or Matrix run commands and read digests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import last_bot_message, staff_site, type_answer
from playwright.async_api import Browser, expect

from adapters.web_settings import WebSettings, staff_key
from bot.app import Runtime

pytestmark = pytest.mark.usefixtures("one_person_digests")

KEY = "staff-key-for-tests"


@pytest.fixture
async def site(tmp_path: Path, survey_folder: Path) -> AsyncIterator[Runtime]:
    async with staff_site(tmp_path, survey_folder, KEY) as runtime:
        yield runtime


def base(runtime: Runtime) -> str:
    return f"http://127.0.0.1:{runtime.adapters[0].port}"


async def test_a_coordinator_starts_a_survey_and_reads_its_digest(
    browser: Browser, site: Runtime
) -> None:
    staff = await (await browser.new_context()).new_page()
    await staff.goto(f"{base(site)}/staff?key={KEY}")
    assert staff.url == f"{base(site)}/staff"  # the key does not stay in the address bar
    await expect(staff.get_by_role("heading")).to_have_text("Staff: surveys and digests")
    await type_answer(staff, "survey start library for everyone")
    await expect(last_bot_message(staff)).to_contain_text("Run 1 of 'City library feedback'")

    citizen = await (await browser.new_context()).new_page()
    await citizen.goto(f"{base(site)}/")
    await expect(last_bot_message(citizen)).to_contain_text("These surveys are open")
    for text in ["library", "yes", "1", "1", "5", "<script>alert(1)</script> more books", "skip"]:
        await type_answer(citizen, text)
    await expect(last_bot_message(citizen)).to_contain_text("Thank you!")

    await type_answer(staff, "survey digest 1")
    digest = staff.locator("#log li.bot").filter(has_text="Digest: City library feedback")
    await expect(digest).to_contain_text("Responses: 1 (1 new), completed 1 (100%)")
    await expect(digest).to_contain_text("“<script>alert(1)</script> more books”")
    fold = digest.locator("details")  # the full figures, folded under the headline
    await expect(fold.locator("summary")).to_have_text("Full figures of run 1")
    assert not await fold.evaluate("details => details.open")
    assert await staff.locator("#log script").count() == 0
    chart = staff.get_by_role("img", name="Bar charts of run 1 of City library feedback")
    await expect(chart).to_be_visible()
    loaded_width = "image => image.decode().then(() => image.naturalWidth)"
    assert await chart.evaluate(loaded_width) == 880  # the PNG itself, 8 inches at 110 dpi
    figures = staff.get_by_role("link", name="Download library-services-run-1-figures.csv")
    await expect(figures).to_be_visible()  # the digest's figures as a table
    await type_answer(staff, "survey export 1")
    export_link = staff.get_by_role("link", name="Download library-services-run-1.csv")
    async with staff.expect_download() as download:
        await export_link.click()
    assert (await download.value).suggested_filename == "library-services-run-1.csv"
    saved = (await (await download.value).path()).read_bytes().decode("utf-8-sig")
    assert saved.startswith("response,status,complete,completed_at,language,channel,given_by")


async def test_the_staff_page_needs_the_key(site: Runtime) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        plain = await session.get(f"{base(site)}/staff")
        assert plain.status == 403
        wrong = await session.get(f"{base(site)}/staff?key=guess")
        assert wrong.status == 403
        command = await session.post(
            f"{base(site)}/api/staff/messages", json={"text": "survey list", "id": "cmd-00001"}
        )
        assert command.status == 401


async def test_a_citizen_session_cannot_run_commands(site: Runtime) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await session.get(f"{base(site)}/")  # a citizen cookie
        command = await session.post(
            f"{base(site)}/api/staff/messages", json={"text": "survey list", "id": "cmd-00001"}
        )
        assert command.status == 401
        await session.post(
            f"{base(site)}/api/messages", json={"text": "survey list", "id": "cmd-00002"}
        )
        reply = await (await session.get(f"{base(site)}/api/messages?after=0&wait=0")).json()
        assert reply["messages"][0]["text"].startswith("These surveys are open to you.")


def test_the_staff_key_comes_from_the_environment_or_only_on_loopback() -> None:
    loopback = WebSettings()
    public = WebSettings(host="0.0.0.0")
    assert staff_key(public, {"CIVICBOT_STAFF_KEY": "set-by-operator"}) == "set-by-operator"
    assert staff_key(public, {}) is None
    generated = staff_key(loopback, {})
    assert generated is not None
    assert len(generated) >= 30


async def test_a_coordinator_reads_what_was_done_about_the_findings_as_a_table(
    browser: Browser, site: Runtime
) -> None:
    staff = await (await browser.new_context()).new_page()
    await staff.goto(f"{base(site)}/staff?key={KEY}")
    await type_answer(staff, "survey start library for everyone")
    citizen = await (await browser.new_context()).new_page()
    await citizen.goto(f"{base(site)}/")
    for text in ["library", "yes", "1", "1", "5", "More books in Finnish", "skip"]:
        await type_answer(citizen, text)
    await expect(last_bot_message(citizen)).to_contain_text("Thank you!")
    await type_answer(staff, "survey digest 1")
    await type_answer(staff, 'survey act 1 F1 planned "Weekly visits from March"')
    await expect(last_bot_message(staff)).to_contain_text("F1 of run 1 is planned")
    await type_answer(staff, "survey outcomes 1")
    table = staff.get_by_role("table", name="Findings of run 1, and what was done about them:")
    headers = table.get_by_role("columnheader")
    await expect(headers).to_have_text(["Finding", "People", "What it says", "Status", "Note"])
    first = table.locator("tbody tr").first
    await expect(first.locator("td")).to_have_text(
        ["F1", "1", re.compile(".+"), "planned", "Weekly visits from March"]
    )
