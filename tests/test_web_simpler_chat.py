"""The web chat's "Simpler chat" setting: the accessible profile switched by a tick, and
the tick following the profile when the person types simple or simple off."""

from __future__ import annotations

from pathlib import Path

from conftest import last_bot_message, type_answer
from playwright.async_api import Browser, expect
from test_web_chat import site, stored_answers, url

from bot.app import Runtime

__all__ = ["site"]  # the fixture, shared with the other web chat tests


async def test_ticking_simpler_chat_reads_each_answer_back_before_it_is_stored(
    browser: Browser, site: Runtime, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    await page.get_by_label("Simpler chat").check()
    await expect(last_bot_message(page)).to_contain_text("The simpler chat is on.")
    await last_bot_message(page).get_by_role("button", name="City library feedback").click()
    await expect(last_bot_message(page)).to_contain_text("We do not show your name.")
    await last_bot_message(page).get_by_role("button", name="Yes").click()
    await expect(last_bot_message(page)).to_contain_text("1 = Every week")
    await last_bot_message(page).get_by_role("button", name="Every week").click()
    await expect(last_bot_message(page)).to_contain_text("You chose 1, Every week. Is that right?")
    assert stored_answers(tmp_path) == {}
    await last_bot_message(page).get_by_role("button", name="Yes").click()
    await expect(last_bot_message(page)).to_contain_text("Which services have you used")
    assert stored_answers(tmp_path) == {"visits": "weekly"}


async def test_typing_simple_ticks_the_setting_and_a_reload_keeps_it_ticked(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    setting = page.get_by_label("Simpler chat")
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    await type_answer(page, "simple")
    await expect(setting).to_be_checked()
    await page.reload()
    await expect(last_bot_message(page)).to_contain_text("The simpler chat is on.")
    await expect(setting).to_be_checked()
    await type_answer(page, "simple off")
    await expect(last_bot_message(page)).to_contain_text("The simpler chat is off.")
    await expect(setting).not_to_be_checked()


async def test_unticking_simpler_chat_mid_survey_asks_the_question_the_usual_way(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    setting = page.get_by_label("Simpler chat")
    await setting.check()
    await type_answer(page, "library")
    await type_answer(page, "yes")
    await expect(last_bot_message(page)).to_contain_text("1 = Every week")
    await setting.uncheck()
    await expect(last_bot_message(page)).to_contain_text("How often do you visit the library?")
    await expect(page.get_by_role("button", name="1. Every week")).to_be_enabled()


async def test_the_setting_is_named_in_the_language_the_chat_turns_to(
    browser: Browser, site: Runtime
) -> None:
    page = await browser.new_page()
    await page.goto(url(site))
    await type_answer(page, "library")
    await type_answer(page, "kieli fi")
    await expect(page.get_by_label("Selkeämpi keskustelu")).not_to_be_checked()
