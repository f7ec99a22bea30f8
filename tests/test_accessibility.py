"""The web chat and the staff page checked with axe-core against WCAG 2.2 A and AA, on a
desktop and a phone screen, at the start, mid-survey and with a service's branding."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from conftest import last_bot_message, staff_site, type_answer
from playwright.async_api import Browser, Page, expect
from test_web_chat import branded, url, web_chat

from bot.app import Runtime

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(
    os.environ.get(
        "CIVICBOT_AXE", ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
    )
)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
SCREENS = {"desktop": (1280, 800), "phone": (360, 740)}


@functools.cache
def axe_source() -> str:
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (.ci/run installs it from npm)")
    return AXE.read_text(encoding="utf-8")


async def violations(page: Page) -> list[str]:
    """What axe-core finds against WCAG A and AA: each rule with the elements it names."""
    await page.evaluate(axe_source())  # evaluated, not a <script>: the CSP allows it
    found = await page.evaluate(
        "async tags => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)",
        WCAG,
    )
    return found


@pytest.fixture(params=list(SCREENS))
async def screen(request: pytest.FixtureRequest, browser: Browser):
    width, height = SCREENS[request.param]
    context = await browser.new_context(viewport={"width": width, "height": height})
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def site(tmp_path: Path, survey_folder: Path):
    async with staff_site(tmp_path, survey_folder, "axe-staff-key") as runtime:
        yield runtime


async def test_the_chat_at_its_start_has_no_wcag_violation(screen: Page, site: Runtime) -> None:
    await screen.goto(url(site))
    await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
    assert await violations(screen) == []


async def test_a_multiple_choice_question_has_no_wcag_violation(
    screen: Page, site: Runtime
) -> None:
    await screen.goto(url(site))
    for text in ["library", "yes", "1"]:
        await type_answer(screen, text)
    await expect(last_bot_message(screen)).to_contain_text("Which services have you used")
    assert await violations(screen) == []


async def test_a_message_marked_not_sent_has_no_wcag_violation(screen: Page, site: Runtime) -> None:
    await screen.goto(url(site))
    await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
    await screen.route("**/api/messages", lambda route: route.abort("connectionfailed"))
    await type_answer(screen, "library")
    await expect(screen.get_by_role("button", name="Retry")).to_be_visible(timeout=15_000)
    assert await violations(screen) == []


async def test_the_staff_page_has_no_wcag_violation(screen: Page, site: Runtime) -> None:
    await screen.goto(f"{url(site)}staff?key=axe-staff-key")
    await type_answer(screen, "survey list")
    await expect(last_bot_message(screen)).to_contain_text("library-services")
    assert await violations(screen) == []


async def test_a_branded_chat_has_no_wcag_violation(
    screen: Page, tmp_path: Path, survey_folder: Path
) -> None:
    options = branded(tmp_path, "City Library", "privacy", "accessibility")
    async with web_chat(tmp_path, survey_folder, **options) as runtime:
        await screen.goto(url(runtime))
        await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
        assert await violations(screen) == []


async def test_the_staff_page_s_table_of_findings_has_no_wcag_violation(
    screen: Page, site: Runtime
) -> None:
    await screen.goto(f"{url(site)}staff?key=axe-staff-key")
    await type_answer(screen, "survey start library for everyone")
    await expect(last_bot_message(screen)).to_contain_text("Run 1")
    await site.store.number_findings(run_id=1, findings=[("k", "Opening hours", 7)], now=0.0)
    await type_answer(screen, "survey outcomes 1")
    await expect(screen.get_by_role("table")).to_contain_text("Opening hours")
    assert await violations(screen) == []


async def test_every_question_type_and_an_error_have_no_wcag_violation(
    screen: Page, site: Runtime
) -> None:
    """The library survey: consent, single choice, multiple choice, a scale, free text;
    a refused answer's explanation; the thank-you."""
    await screen.goto(url(site))
    await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
    found: dict[str, list[str]] = {}
    steps = [
        ("library", "Do you want to take part?"),
        ("yes", "How often do you visit the library?"),
        ("7", "That is not one of the options."),  # an error, then the question again
        ("2", "Which services have you used"),
        ("1, 3", "how satisfied are you"),
        ("4", "What is one thing we could do better?"),
        ("Longer hours", "Your age group"),
        ("2", "Thank you!"),
    ]
    for text, shown in steps:
        await type_answer(screen, text)
        await expect(screen.locator("#log")).to_contain_text(shown)
        found[shown] = await violations(screen)
    assert found == {shown: [] for _, shown in steps}


async def test_the_chat_in_finnish_has_no_wcag_violation(screen: Page, site: Runtime) -> None:
    await screen.goto(url(site))
    await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
    await type_answer(screen, "library")
    await type_answer(screen, "kieli fi")
    await expect(screen.locator("html")).to_have_attribute("lang", "fi")
    assert await violations(screen) == []


async def test_the_staff_page_with_a_digest_has_no_wcag_violation(
    screen: Page, site: Runtime
) -> None:
    await screen.goto(f"{url(site)}staff?key=axe-staff-key")
    await type_answer(screen, "survey start library for everyone")
    await expect(last_bot_message(screen)).to_contain_text("Run 1")
    await type_answer(screen, "survey digest 1")
    await expect(screen.locator("#log")).to_contain_text("Digest of run 1 posted")
    assert await violations(screen) == []


async def test_the_simpler_chat_and_its_read_back_have_no_wcag_violation(
    screen: Page, site: Runtime
) -> None:
    await screen.goto(url(site))
    await expect(last_bot_message(screen)).to_contain_text("These surveys are open")
    await screen.get_by_label("Simpler chat").check()
    for text in ["library", "yes", "2"]:
        await type_answer(screen, text)
    await expect(last_bot_message(screen)).to_contain_text("You chose 2, Every month.")
    assert await violations(screen) == []
