"""Text messages through Twilio: people answer by SMS, coordinators invite numbers,
and the carriers' rules (STOP, START, HELP) hold — against the loopback stand-in."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from conftest import command
from playwright.async_api import expect
from sms_harness import ANN, sms_running, texts
from twilio_stub import ACCOUNT_SID, AUTH_TOKEN, TwilioApi, signed_post, text_in

from adapters.web import WebAdapter
from bot.app import Runtime
from bot.invitations import Guardrails

BEN = "+358501112222"
STAFF_KEY = "sms-staff-key"


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute(sql).fetchall()


def everything_stored(tmp_path: Path) -> dict[str, str]:
    """Every table's rows as text, to look for what must not be kept there."""
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {t: repr(connection.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


async def answer_until_services(texting: Runtime, twilio: TwilioApi, session) -> None:
    for body in ["library", "yes", "2"]:
        await texts(texting, twilio, session, ANN, body)


async def test_a_person_answers_a_survey_by_text_with_one_text_back_for_each(
    texting, twilio, session, tmp_path
):
    for body in ["library", "yes", "2", "1 ja 3", "4", "More evening hours", "2"]:
        assert (await texts(texting, twilio, session, ANN, body)).status == 200
    bodies = twilio.bodies_to(ANN)
    assert len(bodies) == 7  # the opening (intro and consent) is one text, not two
    assert bodies[0].startswith("City library feedback")
    assert bodies[0].endswith("1. Yes\n2. No")
    assert "1. Borrowing books\n2. E-books and audiobooks" in bodies[2]
    assert bodies[-1] == "Thank you! Library staff read every answer."
    stored = dict(rows(tmp_path, "SELECT question_id, value FROM answers"))
    assert stored["services"] == '["loans", "events"]'
    assert stored["improve"] == '"More evening hours"'


async def test_a_text_twilio_posts_again_changes_nothing(texting, twilio, session):
    await texts(texting, twilio, session, ANN, "library", sid="SM" + "a" * 32)
    again = await texts(texting, twilio, session, ANN, "library", sid="SM" + "a" * 32)
    assert again.status == 200
    assert len(twilio.bodies_to(ANN)) == 1


@pytest.mark.parametrize(
    "forged",
    [
        {"token": "not-the-auth-token"},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
        {"signature": ""},
        {"account": "AC" + "9" * 32},
    ],
    ids=["another token", "made up", "missing", "another account"],
)
async def test_a_forged_text_is_refused_and_stores_nothing(
    texting, twilio, session, tmp_path, forged
):
    response = await text_in(session, twilio.service_url, ANN, "library", **forged)
    await texting.bot.settled()
    assert response.status == 403
    assert twilio.sent == []
    assert rows(tmp_path, "SELECT count(*) FROM participants") == [(0,)]
    assert rows(tmp_path, "SELECT count(*) FROM processed_events") == [(0,)]


async def test_a_text_signed_with_the_token_before_a_rotation_is_taken(
    tmp_path, survey_folder, twilio, session
):
    async with sms_running(tmp_path, survey_folder, twilio) as runtime:
        adapter = runtime.adapters[1]
        adapter._validators.append(type(adapter._validators[0])("the-old-token"))
        twilio.service_url = f"http://127.0.0.1:{adapter.port}"
        response = await text_in(session, twilio.service_url, ANN, "library", token="the-old-token")
        await runtime.bot.settled()
    assert response.status == 200
    assert len(twilio.bodies_to(ANN)) == 1


@pytest.mark.parametrize("word", ["STOP", "stop", "Lopeta", "STOPP."])
async def test_stop_in_the_middle_of_a_survey_ends_every_message_until_start(
    texting, twilio, session, tmp_path, word
):
    await answer_until_services(texting, twilio, session)
    await texts(texting, twilio, session, ANN, word)
    assert twilio.bodies_to(ANN)[-1].startswith("You will get no more text messages from us.")
    sent = len(twilio.bodies_to(ANN))
    await texts(texting, twilio, session, ANN, "2")  # an answer after STOP: no reply at all
    assert len(twilio.bodies_to(ANN)) == sent
    chat = texting.adapters[0]
    answer = await command(chat, f"survey start home-care for {ANN}")
    assert "1 opted out of invitations, not invited" in answer
    assert len(twilio.bodies_to(ANN)) == sent
    await texts(texting, twilio, session, ANN, "START")
    assert twilio.bodies_to(ANN)[-1] == "You can get text messages from us again."
    assert rows(tmp_path, "SELECT status FROM responses") == [("stopped",)]


async def test_help_in_the_middle_of_a_survey_says_how_texting_works_and_asks_again(
    texting, twilio, session
):
    await answer_until_services(texting, twilio, session)
    await texts(texting, twilio, session, ANN, "HELP")
    helped = twilio.bodies_to(ANN)[-1]
    assert helped.startswith("This number collects feedback by text message.")
    assert "STOP to get no more messages" in helped
    assert "Which services have you used this year?" in helped


async def test_a_picture_with_no_words_is_asked_for_in_words(texting, twilio, session, tmp_path):
    await answer_until_services(texting, twilio, session)
    await texts(texting, twilio, session, ANN, "", media=1)
    assert twilio.bodies_to(ANN)[-1].startswith("I can only read words and numbers")
    assert rows(tmp_path, "SELECT question_id FROM answers") == [("visits",)]


async def test_a_text_of_1600_characters_gets_a_clear_answer_and_keeps_what_was_stored(
    texting, twilio, session, tmp_path
):
    for body in ["library", "yes", "2", "1", "4"]:
        await texts(texting, twilio, session, ANN, body)
    await texts(texting, twilio, session, ANN, "Longer opening hours. " * 72 + "Thanks")
    assert "800 characters" in twilio.bodies_to(ANN)[-1]
    assert len(rows(tmp_path, "SELECT question_id FROM answers")) == 3


async def test_a_coordinator_invites_numbers_and_learns_the_cost_first(
    texting, twilio, session, tmp_path
):
    chat = texting.adapters[0]
    dry = await command(chat, f"survey start home-care for {ANN}, 050 111 2222 dry-run")
    assert "Would invite 2 of 2" in dry
    assert "text-message segments (GSM-7)" in dry
    assert "for 2 people, about" in dry
    assert twilio.sent == []
    started = await command(chat, f"survey start home-care for {ANN} 0501112222")
    assert "started for 2 phone numbers: invited 2" in started
    await texting.bot.settled()
    await texting.outbox.settle()  # a reply waiting to be sent holds its address until then
    assert len(twilio.bodies_to(ANN)) == len(twilio.bodies_to(BEN)) == 1
    stored = everything_stored(tmp_path)
    for table, content in stored.items():
        if table != "addresses":
            assert "401234567" not in content, table
            assert "501112222" not in content, table
    assert "for [number], [number] dry-run" in stored["command_audit"]
    assert "for [number] [number]" in stored["command_audit"]


async def test_a_number_that_cannot_be_read_is_named_and_nobody_is_invited(
    texting, twilio, tmp_path
):
    answer = await command(texting.adapters[0], f"survey start home-care for {ANN}, +12ab")
    assert answer == (
        "Not started: '+12ab' is not a phone number I can read (write it like +358401234567)."
    )
    assert twilio.sent == []
    assert rows(tmp_path, "SELECT count(*) FROM runs") == [(0,)]


async def test_twilio_busy_with_429_gets_the_message_once_it_is_calm(
    tmp_path, survey_folder, twilio, session
):
    twilio.fail = [(429, 20429, False)]
    async with sms_running(tmp_path, survey_folder, twilio, send_retry_delays=(0.05,)) as bot:
        twilio.service_url = f"http://127.0.0.1:{bot.adapters[1].port}"
        await texts(bot, twilio, session, ANN, "library")
        await bot.outbox.settle()
    assert len(twilio.bodies_to(ANN)) == 1


async def test_a_message_twilio_made_before_answering_500_is_not_sent_twice(
    tmp_path, survey_folder, twilio, session
):
    twilio.fail = [(500, 20500, True)]  # created, then the answer was an error
    async with sms_running(tmp_path, survey_folder, twilio, send_retry_delays=(0.05,)) as bot:
        twilio.service_url = f"http://127.0.0.1:{bot.adapters[1].port}"
        await texts(bot, twilio, session, ANN, "library")
        await bot.outbox.settle()
    assert len(twilio.bodies_to(ANN)) == 1
    assert twilio.lookups == 1
    assert rows(tmp_path, "SELECT count(*) FROM outbox") == [(0,)]


async def test_delivery_reports_are_kept_and_a_late_sent_does_not_undo_delivered(
    texting, twilio, session, tmp_path
):
    await texts(texting, twilio, session, ANN, "library")
    message = twilio.sent[0]
    assert (await twilio.report(session, message, "delivered")).status == 204
    assert (await twilio.report(session, message, "sent")).status == 204
    assert rows(tmp_path, "SELECT message_id, status, error_code FROM deliveries") == [
        (message.sid, "delivered", None)
    ]


async def test_survey_status_tells_how_many_invitation_texts_the_carrier_delivered(
    texting, twilio, session
):
    chat = texting.adapters[0]
    await command(chat, f"survey start home-care for {ANN} {BEN}")
    await texting.bot.settled()
    await texting.outbox.settle()
    to_ann, to_ben = twilio.sent
    await twilio.report(session, to_ann, "sent")
    await twilio.report(session, to_ann, "delivered")
    await twilio.report(session, to_ben, "undelivered", ErrorCode="30003")
    status = await command(chat, "survey status 1")
    assert (
        "Text messages since this run started, as the carriers reported them:"
        " 1 delivered, 1 undelivered."
    ) in status


async def test_survey_status_says_nothing_of_texts_where_none_were_reported(texting):
    chat = texting.adapters[0]
    await command(chat, f"survey start home-care for {ANN}")
    assert "Text messages" not in await command(chat, "survey status 1")


async def test_a_delivery_report_with_a_wrong_signature_is_refused(
    texting, twilio, session, tmp_path
):
    await texts(texting, twilio, session, ANN, "library")
    message = twilio.sent[0]
    form = {"AccountSid": ACCOUNT_SID, "MessageSid": message.sid, "MessageStatus": "delivered"}
    address = message.status_callback
    forged = await signed_post(session, twilio.service_url, address, form, token="wrong")
    assert forged.status == 403
    assert rows(tmp_path, "SELECT count(*) FROM deliveries") == [(0,)]


async def test_nothing_a_person_texts_nor_their_number_reaches_the_log(
    texting, twilio, session, caplog
):
    caplog.set_level(logging.DEBUG)
    for body in ["library", "yes", "My neighbour Pekka Virtanen"]:
        await texts(texting, twilio, session, ANN, body)
    await texts(texting, twilio, session, ANN, "library", token=AUTH_TOKEN + "x")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "401234567" not in logged
    assert "Pekka" not in logged
    assert "Your answers are used only" not in logged  # nor what civicbot texted


async def test_a_held_wave_of_numbers_keeps_them_only_as_addresses_until_approved(
    tmp_path, survey_folder, twilio
):
    guardrails = Guardrails(approval_above=1)
    coordinators = frozenset({"memory:coord", "memory:coord2"})
    async with sms_running(
        tmp_path, survey_folder, twilio, guardrails=guardrails, coordinators=coordinators
    ) as runtime:
        chat = runtime.adapters[0]
        held = await command(chat, f"survey start home-care for {ANN} {BEN}")
        assert held.startswith("Held, nothing sent: this would message 2 people")
        assert "401234567" not in held
        for table, content in everything_stored(tmp_path).items():
            if table != "addresses":
                assert "401234567" not in content, table
        approved = await command(chat, "survey approve 1", user="coord2")
        assert "started for 2 phone numbers: invited 2" in approved
        await runtime.bot.settled()
        assert len(twilio.bodies_to(ANN)) == len(twilio.bodies_to(BEN)) == 1
        assert await runtime.store.waiting_waves() == []
        assert rows(tmp_path, "SELECT count(*) FROM pending_invitations") == [(0,)]


async def staff_page_posts(runtime, twilio, csv_text: str) -> aiohttp.ClientResponse:
    """The staff page, signed in by its key, sends a file of numbers to invite."""
    page = runtime.adapters[0]
    twilio.service_url = f"http://127.0.0.1:{runtime.adapters[1].port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        base = f"http://127.0.0.1:{page.port}/"
        await browser.get(f"{base}staff?key={STAFF_KEY}")
        query = {"survey": "home-care", "id": "upload-0001"}
        upload = browser.post(f"{base}api/staff/numbers", params=query, data=csv_text.encode())
        async with upload as response:
            await response.read()
            return response


def staff_page(handler):
    return WebAdapter(handler, port=0, staff_key=STAFF_KEY)


async def test_a_csv_file_of_numbers_from_the_staff_page_invites_each_number(
    tmp_path, survey_folder, twilio
):
    coordinators = frozenset({"web:staff"})
    async with sms_running(
        tmp_path, survey_folder, twilio, beside=staff_page, coordinators=coordinators
    ) as runtime:
        csv_text = "name;phone;email\nAnn;+358401234567;ann@example.org\nBen;050 111 2222;\n"
        response = await staff_page_posts(runtime, twilio, csv_text)
        assert response.status == 202
        await runtime.bot.settled()
    assert len(twilio.bodies_to(ANN)) == len(twilio.bodies_to(BEN)) == 1


async def test_a_file_without_numbers_is_refused_with_what_to_send(tmp_path, survey_folder, twilio):
    async with sms_running(
        tmp_path, survey_folder, twilio, beside=staff_page, coordinators=frozenset({"web:staff"})
    ) as runtime:
        response = await staff_page_posts(runtime, twilio, "name\nAnn\nBen\n")
    assert response.status == 400
    assert twilio.sent == []


async def test_the_staff_page_sends_a_chosen_file_and_shows_the_dry_run(
    tmp_path, survey_folder, twilio, browser
):
    people = tmp_path / "people.csv"
    people.write_text(f"phone\n{ANN}\n{BEN}\n", encoding="utf-8")
    async with sms_running(
        tmp_path, survey_folder, twilio, beside=staff_page, coordinators=frozenset({"web:staff"})
    ) as runtime:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{runtime.adapters[0].port}/staff?key={STAFF_KEY}")
        await page.get_by_text("Invite phone numbers from a file").click()
        await page.get_by_label("Survey").fill("home-care")
        await page.get_by_label("File").set_input_files(people)
        await page.get_by_role("button", name="Invite").click()
        await expect(page.locator("#log")).to_contain_text("Would invite 2 of 2")
        await expect(page.locator("#log")).to_contain_text("text-message segments")
    assert twilio.sent == []
