"""The web chat in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import TEST_SURVEYS, last_bot_message, type_answer
from homeserver import free_port
from playwright.async_api import Browser, expect

from adapters import web
from adapters.web import WebAdapter
from bot.app import Runtime, running
from conversations.outgoing import Message

THANKS = "Thank you! Library staff read every answer."
# what both full walks through the library survey store
WEEKLY_VISITOR = {
    "visits": "weekly",
    "services": ["loans", "events"],
    "satisfaction": 4,
    "improve": "Open on Sundays",
    "age_group": "18_39",
}


def web_chat(tmp_path: Path, survey_folder: Path, *, port: int = 0, **options: object):
    return running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=port, **options)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
    )


@pytest.fixture
async def site(tmp_path: Path, survey_folder: Path) -> AsyncIterator[Runtime]:
    async with web_chat(tmp_path, survey_folder) as runtime:
        yield runtime


def url(runtime: Runtime) -> str:
    return f"http://127.0.0.1:{runtime.adapters[0].port}/"


def stored_answers(tmp_path: Path) -> dict[str, object]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        rows = connection.execute("SELECT question_id, value FROM answers").fetchall()
    return {question: json.loads(value) for question, value in rows}


async def test_a_full_survey_by_clicking(browser: Browser, site: Runtime, tmp_path: Path) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    await page.get_by_role("button", name="City library feedback").click()
    await expect(last_bot_message(page)).to_contain_text("Do you want to take part?")
    await page.get_by_role("button", name="1. Yes").click()
    await page.get_by_role("button", name="1. Every week").click()
    await page.get_by_label("1. Borrowing books").check()
    await page.get_by_label("3. Events and courses").check()
    await page.get_by_role("button", name="Send my choices").click()
    await page.get_by_role("button", name="4", exact=True).click()
    await expect(last_bot_message(page)).to_contain_text("What is one thing we could do better?")
    await type_answer(page, "Open on Sundays")
    await page.get_by_role("button", name="2. 18 to 39").click()
    await expect(last_bot_message(page)).to_have_text(f"civicbot: {THANKS}")
    assert stored_answers(tmp_path) == WEEKLY_VISITOR


async def test_a_full_survey_by_typing_with_the_keyboard_only(
    browser: Browser, site: Runtime, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(page.locator("#message")).to_be_focused()
    await expect(last_bot_message(page)).to_contain_text("These surveys are open")
    for text, reply in [
        ("library", "Do you want to take part?"),
        ("yes", "How often do you visit the library?"),
        ("not", "What keeps you from using the library?"),
        ("1 2", "What is one thing we could do better?"),
        ("<b>Later</b> hours & a ramp", "Your age group"),
        ("skip", THANKS),
    ]:
        await page.keyboard.type(text)
        await page.keyboard.press("Enter")
        await expect(last_bot_message(page)).to_contain_text(reply)
    # what people type is shown as text, never as markup
    assert await page.locator("#log b").count() == 0
    await expect(page.locator("#log li.me").nth(4)).to_contain_text("<b>Later</b> hours & a ramp")
    assert stored_answers(tmp_path) == {
        "visits": "never",
        "barriers": ["hours", "distance"],
        "improve": "<b>Later</b> hours & a ramp",
        "age_group": None,
    }


async def test_a_reload_mid_survey_shows_both_halves_and_continues_where_it_was(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open")
    # each answer once its question is on the page, so that the two halves alternate
    for text, then in [
        ("library", "Do you want to take part?"),
        ("yes", "How often do you visit the library?"),
        ("2", "Which services have you used"),
    ]:
        await type_answer(page, text)
        await expect(last_bot_message(page)).to_contain_text(then)
    await page.reload()
    await expect(last_bot_message(page)).to_contain_text("Which services have you used")
    await expect(page.locator("#log li.bot")).to_have_count(4)  # the transcript, not a restart
    # both halves, in the order they were said
    lines = page.locator("#log li")
    await expect(lines).to_have_count(7)
    assert [await lines.nth(n).get_attribute("class") for n in range(7)] == [
        "bot",
        "me",
        "bot",
        "me",
        "bot",
        "me",
        "bot",
    ]
    await expect(lines.nth(1)).to_contain_text("library")
    await type_answer(page, "2")
    await expect(last_bot_message(page)).to_contain_text("how satisfied are you")


async def test_coming_back_after_a_server_restart_continues_where_it_was(
    browser: Browser, tmp_path: Path, survey_folder: Path
) -> None:
    context = await browser.new_context()  # one browser profile: the same session cookie
    page = await context.new_page()
    async with web_chat(tmp_path, survey_folder) as runtime:
        await page.goto(url(runtime))
        await expect(last_bot_message(page)).to_contain_text("These surveys are open")
        for text in ["homecare", "yes", "1"]:
            await type_answer(page, text)
        await expect(last_bot_message(page)).to_contain_text("How many home-care visits")
    async with web_chat(tmp_path, survey_folder) as runtime:
        page = await context.new_page()
        await page.goto(url(runtime))
        await expect(last_bot_message(page)).to_contain_text("How many home-care visits")
        await type_answer(page, "3")
        await expect(last_bot_message(page)).to_contain_text("keep to the agreed times")


async def test_the_page_works_on_a_phone_width_screen_at_200_percent(
    browser: Browser, site: Runtime
) -> None:
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2
    )
    page = await context.new_page()
    await page.goto(url(site))
    await page.evaluate("document.body.style.zoom = '200%'")
    await page.get_by_role("button", name="City library feedback").click()
    await page.get_by_role("button", name="1. Yes").click()
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    client_width = await page.evaluate("document.documentElement.clientWidth")
    assert scroll_width <= client_width  # nothing to scroll sideways for
    await expect(page.get_by_role("button", name="1. Every week")).to_be_visible()


async def test_im_done_leaves_nothing_for_the_next_person_at_the_computer(
    browser: Browser, site: Runtime
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url(site))
    await page.get_by_role("button", name="City library feedback").click()
    await expect(last_bot_message(page)).to_contain_text("Do you want to take part?")
    before = {c["name"]: c["value"] for c in await context.cookies()}[web.COOKIE]
    await page.get_by_role("button", name="I'm done").click()
    await expect(page.get_by_role("status")).to_contain_text("This chat is cleared")
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    await expect(page.locator("#log")).not_to_contain_text("Do you want to take part?")
    after = {c["name"]: c["value"] for c in await context.cookies()}[web.COOKIE]
    assert after != before  # the old session's key is gone from this browser


async def test_a_message_that_never_reached_the_server_is_marked_and_can_be_sent_again(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")

    async def unreachable(route) -> None:
        if route.request.method == "POST":
            await route.abort("connectionfailed")
        else:
            await route.continue_()

    await page.route("**/api/messages", unreachable)
    await type_answer(page, "library")
    mine = page.locator("#log li.me").last
    await expect(mine).to_have_class("me unsent", timeout=15_000)  # after its three tries
    await expect(mine).to_contain_text("Not sent.")
    await page.unroute("**/api/messages", unreachable)
    await mine.get_by_role("button", name="Retry").click()
    await expect(last_bot_message(page)).to_contain_text("Do you want to take part?")
    await expect(mine).to_have_class("me")


async def test_a_page_left_open_across_a_server_restart_goes_on_without_repeats(
    browser: Browser, tmp_path: Path, survey_folder: Path
) -> None:
    port = free_port()
    page = await browser.new_page()
    async with web_chat(tmp_path, survey_folder, port=port) as runtime:
        await page.goto(url(runtime))
        await expect(last_bot_message(page)).to_contain_text("These surveys are open")
        for text in ["homecare", "yes", "1"]:
            await type_answer(page, text)
        await expect(last_bot_message(page)).to_contain_text("How many home-care visits")
        replies = await page.locator("#log li.bot").count()
        seen = await page.evaluate("fetch('/api/messages?after=0&wait=0').then(r => r.json())")
    # As after a crash: the last reply was sent but still in the outbox, so it goes again.
    last = seen["messages"][-1]
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        [(to,)] = connection.execute("SELECT conversation_id FROM addresses").fetchall()
        connection.execute(
            "INSERT INTO outbox (id, platform, conversation_id, body, created_at)"
            " VALUES (?, 'web', ?, ?, 0)",
            (last["id"], to, Message(last["text"]).to_json()),
        )
    async with web_chat(tmp_path, survey_folder, port=port):
        await type_answer(page, "3")  # the same page, never reloaded
        await expect(last_bot_message(page)).to_contain_text("keep to the agreed times")
        await expect(page.locator("#log li.bot")).to_have_count(replies + 1)


async def test_a_finnish_browser_gets_the_page_and_the_bot_in_finnish(
    browser: Browser, site: Runtime
) -> None:
    context = await browser.new_context(locale="fi-FI")
    page = await context.new_page()
    await page.goto(url(site))
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    await expect(page.get_by_role("heading")).to_have_text("Palautekeskustelu")
    await expect(last_bot_message(page)).to_contain_text("Nämä kyselyt ovat avoinna sinulle")
    await page.get_by_role("button", name="Lähetä").click()  # nothing typed
    await expect(page.locator("#status")).to_have_text("Kirjoita ensin vastaus.")
    await page.get_by_label("Vastauksesi").fill("library")
    await page.get_by_role("button", name="Lähetä").click()
    await expect(last_bot_message(page)).to_contain_text("Kaupunginkirjaston palautekysely")


async def test_the_page_speaks_the_language_the_conversation_turns_to(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open")
    await type_answer(page, "library")
    await type_answer(page, "kieli fi")
    await expect(last_bot_message(page)).to_contain_text("Kieli: suomi.")
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    await expect(page.get_by_role("heading")).to_have_text("Palautekeskustelu")
    await expect(page.get_by_label("Vastauksesi")).to_be_visible()
    await expect(page.get_by_role("button", name="Olen valmis")).to_be_visible()
    await expect(page.get_by_role("group", name="Vaihtoehdot").last).to_be_visible()
    await type_answer(page, "kyllä")
    await expect(page.locator("#log li.me .sender").last).to_have_text("Sinä:")
    await page.reload()  # the transcript brings the language back with it
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    await expect(page.get_by_role("heading")).to_have_text("Palautekeskustelu")


async def test_a_page_opened_while_its_network_is_over_the_limit_waits_and_says_why(
    browser: Browser, tmp_path: Path, survey_folder: Path
) -> None:
    async with web_chat(tmp_path, survey_folder, address_limit=(3, 1.0)) as site:
        async with aiohttp.ClientSession() as flood:
            for number in range(10):  # made-up cookies: they all count against one address
                await flood.post(
                    f"{url(site)}api/messages",
                    json={"text": "hi", "id": f"flood-{number:04d}"},
                    cookies={web.COOKIE: f"made-up-{number}"},
                )
        page = await browser.new_page()
        await page.goto(url(site))
        await expect(page.locator("#status")).to_have_text(
            "Too many messages are coming from your network just now."
            " Please wait a moment and try again."
        )
        # it tries again when told; the bot greets it once the network's share refills
        greeting = "These surveys are open to you."
        await expect(last_bot_message(page)).to_contain_text(greeting)
        await expect(page.locator("#status")).to_have_text("")


async def test_answers_typed_faster_than_the_limit_are_stored_in_the_order_typed(
    browser: Browser, site: Runtime, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open")
    # with the page's own first message, ten: more than a session's burst of eight
    for text in ["library", "help", "help", "yes", "1", "1, 3", "4", "Open on Sundays", "2"]:
        await type_answer(page, text)
    await expect(last_bot_message(page)).to_have_text(f"civicbot: {THANKS}", timeout=15_000)
    assert stored_answers(tmp_path) == WEEKLY_VISITOR


async def test_a_date_question_is_answered_in_the_web_chat(
    browser: Browser, tmp_path: Path
) -> None:
    folder = tmp_path / "dated"
    folder.mkdir()
    survey = (TEST_SURVEYS / "visit-date.yaml").read_text(encoding="utf-8")
    (folder / "visit-date.yaml").write_text(
        f"keyword: visit\nopen: true\n{survey}", encoding="utf-8"
    )
    page = await browser.new_page()
    async with web_chat(tmp_path, folder) as runtime:
        await page.goto(url(runtime))
        await expect(last_bot_message(page)).to_contain_text("Choose one, or type its word: visit")
        for text, reply in [
            ("visit", "When did you visit us?"),
            ("tomorrow", "The date must be today or earlier."),
            ("2 June 2026", "When would suit you for a follow-up call?"),
            ("skip", "Thank you!"),
            ("my data", "When did you visit us? 2 June 2026"),
        ]:
            await type_answer(page, text)
            await expect(last_bot_message(page)).to_contain_text(reply)
    assert stored_answers(tmp_path) == {"visited": "2026-06-02", "follow_up": None}


ON_SCREEN = (
    "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight }"
)


@pytest.mark.parametrize(
    ("width", "height"),
    [(1280, 800), (360, 740), (640, 400)],  # a desktop, a phone, the desktop at 200 % zoom
)
async def test_the_current_question_its_buttons_and_the_answer_box_stay_on_screen(
    browser: Browser, site: Runtime, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open")
    for text, asked in [
        ("library", "Do you want to take part?"),
        ("yes", "How often do you visit the library?"),
        ("1", "Which services have you used this year?"),
    ]:
        await type_answer(page, text)
        question = last_bot_message(page)
        await expect(question).to_contain_text(asked)
        await expect(question.locator(".choices").last).to_be_visible()
        for part in (question.locator(".choices button").last, page.locator("#message")):
            assert await part.evaluate(ON_SCREEN), f"{text}: off screen at {width}×{height}"
        await expect(page.locator("#message")).to_be_focused()  # typing goes on there
    await last_bot_message(page).get_by_role("checkbox").first.click()
    await last_bot_message(page).get_by_role("button", name="Send my choices").click()
    await expect(last_bot_message(page)).to_contain_text("how satisfied are you")
    scale = last_bot_message(page).locator(".choices button")
    await expect(scale.first).to_be_focused()  # after a click: the next question's first control
    assert await scale.last.evaluate(ON_SCREEN)


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def branded(tmp_path: Path, name: str, privacy: str, accessibility: str) -> dict:
    """The web chat's options for a service's name, logo and notices, as [web] gives them."""
    from adapters.web_settings import WebSettings

    (tmp_path / "logo.png").write_bytes(PNG)
    section = WebSettings(
        service_name=name,
        logo=tmp_path / "logo.png",
        privacy_url=f"https://example.org/{privacy}",
        accessibility_url=f"https://example.org/{accessibility}",
    )
    return {"branding": section.branding(), "logo": section.logo}


async def test_the_service_shows_its_name_logo_and_notices_in_the_page_language(
    browser: Browser, tmp_path: Path, survey_folder: Path
) -> None:
    branding = branded(tmp_path, "Helsingin kaupunginkirjasto", "tietosuoja", "saavutettavuus")
    async with web_chat(tmp_path, survey_folder, **branding) as site:
        context = await browser.new_context(locale="fi-FI")
        page = await context.new_page()
        await page.goto(url(site))
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Helsingin kaupunginkirjasto"
        )
        assert await page.title() == "Helsingin kaupunginkirjasto"
        logo = page.locator("h1 img")
        await expect(logo).to_have_attribute("alt", "")  # the name beside it says it
        assert await logo.evaluate("image => image.complete && image.naturalWidth") == 1
        privacy = page.get_by_role("link", name="Tietosuojaseloste")
        await expect(privacy).to_have_attribute("href", "https://example.org/tietosuoja")
        statement = page.get_by_role("link", name="Saavutettavuusseloste")
        await expect(statement).to_have_attribute("href", "https://example.org/saavutettavuus")
        await context.close()


async def test_the_demo_shows_no_logo_and_no_links(browser: Browser, site: Runtime) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Feedback chat")
    assert await page.locator("h1 img, .notices a").count() == 0
