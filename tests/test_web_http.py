"""The web chat's HTTP rules: sessions, limits, and what it refuses."""

from __future__ import annotations

import asyncio
import html
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from adapters import web
from adapters.web import WebAdapter
from adapters.web_limits import ADDRESS_BURST, client_address
from adapters.web_texts import PAGE_TEXTS
from bot.app import Runtime, running
from bot.events import InboundHandler


@pytest.fixture
async def site(tmp_path: Path, survey_folder: Path) -> AsyncIterator[Runtime]:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=0)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
    ) as runtime:
        yield runtime


@pytest.fixture
async def client(site: Runtime) -> AsyncIterator[aiohttp.ClientSession]:
    base = f"http://127.0.0.1:{site.adapters[0].port}"
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await session.get("/")  # takes the session cookie
        yield session


def message(text: str = "library", event: str = "event-0001", **extra: object) -> dict:
    return {"text": text, "id": event, **extra}


async def test_the_session_cookie_is_http_only_and_strict(site: Runtime) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"http://127.0.0.1:{site.adapters[0].port}/")
    cookie = response.cookies[web.COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert len(cookie.value) >= 40


async def test_pages_carry_a_strict_content_security_policy(client: aiohttp.ClientSession) -> None:
    response = await client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_a_browser_without_javascript_is_told_what_to_do(
    client: aiohttp.ClientSession,
) -> None:
    page = await (await client.get("/")).text()
    noscript = page.split("<noscript>")[1].split("</noscript>")[0]
    assert "Turn it on in your browser's settings" in html.unescape(noscript)
    assert "by phone or text message" in html.unescape(noscript)


async def test_a_message_is_answered_through_the_poll(client: aiohttp.ClientSession) -> None:
    sent = await client.post("/api/messages", json=message())
    assert sent.status == 202
    polled = await (await client.get("/api/messages?after=0")).json()
    assert polled["messages"][0]["text"].startswith("City library feedback")
    assert polled["last"] == 1


async def test_the_same_message_sent_twice_is_answered_once(client: aiohttp.ClientSession) -> None:
    for _ in range(2):
        await client.post("/api/messages", json=message(event="retried-123"))
    polled = await (await client.get("/api/messages?after=0&wait=0")).json()
    assert len(polled["messages"]) == 1


async def test_no_cookie_is_told_to_reload(site: Runtime) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{site.adapters[0].port}/api/messages"
        response = await session.post(url, json=message())
        assert response.status == 401
        assert (await response.json())[
            "error"
        ] == "Your session has expired. Please reload the page."


async def test_another_sites_page_cannot_post(client: aiohttp.ClientSession) -> None:
    response = await client.post(
        "/api/messages", json=message(), headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403


async def test_a_refusal_speaks_the_browsers_language(client: aiohttp.ClientSession) -> None:
    finnish = await client.post(
        "/api/messages", json=message(text="x" * 100_000), headers={"Accept-Language": "fi-FI"}
    )
    assert (await finnish.json())["error"] == (
        "Viesti on liian suuri; enimmäiskoko on 65\u00a0536 tavua."
    )
    swedish = await client.post(
        "/api/messages",
        json=message(),
        headers={"Accept-Language": "sv-SE, en;q=0.5", "Origin": "https://evil.example"},
    )
    assert (await swedish.json())["error"] == (
        "Den här sidan kan inte användas från en annan webbplats."
    )


def test_every_page_text_is_in_every_language() -> None:
    english = PAGE_TEXTS["en"].keys()
    assert all(texts.keys() == english for texts in PAGE_TEXTS.values())


async def test_an_oversized_body_gets_a_clear_refusal(client: aiohttp.ClientSession) -> None:
    response = await client.post("/api/messages", json=message(text="x" * 100_000))
    assert response.status == 413
    assert "too large" in (await response.json())["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"text": 5, "id": "event-0001"}',
        b'{"text": "hi", "id": "<script>"}',
        b"[" * 30_000 + b"]" * 30_000,
        b'{"text": "hi \\ud800", "id": "event-0001"}',
        b'{"text": "", "action": "visits=\\udfff", "id": "event-0001"}',
    ],
    ids=[
        "not-json",
        "a-list",
        "text-not-a-string",
        "bad-id",
        "nested-30000-deep",
        "lone-surrogate-typed",
        "lone-surrogate-in-a-button",
    ],
)
async def test_malformed_messages_are_refused_and_store_nothing(
    client: aiohttp.ClientSession, body: bytes, tmp_path: Path
) -> None:
    response = await client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]
    polled = await (await client.get("/api/messages?after=0&wait=0")).json()
    assert polled["messages"] == []


async def test_a_flood_from_one_session_is_slowed_down(client: aiohttp.ClientSession) -> None:
    statuses = [
        (await client.post("/api/messages", json=message("hello", f"flood-{i:04d}"))).status
        for i in range(web.BURST + 3)
    ]
    assert statuses[: web.BURST] == [202] * web.BURST
    assert 429 in statuses[web.BURST :]


def made_up_cookie() -> dict[str, str]:
    """A session cookie nobody was given, as a flood can send with every message."""
    return {web.COOKIE: secrets.token_urlsafe(32)}


FLOOD = ADDRESS_BURST + 40  # more than the burst and what refills meanwhile
# Each accepted message waits for its reply, so a flood takes seconds on a busy host:
# where the test is about who is counted, the address refills too slowly to matter.
BARELY_REFILLING = 0.001


async def test_a_flood_with_a_new_cookie_each_time_is_slowed_down_by_address(
    tmp_path: Path, survey_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limit = (ADDRESS_BURST, BARELY_REFILLING)
    responses = []
    async with (
        running(
            database=tmp_path / "civicbot.db",
            survey_folder=survey_folder,
            adapters=[lambda handler: WebAdapter(handler, port=0, address_limit=limit)],
            environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
        ) as site,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{site.adapters[0].port}/api/messages"
        for i in range(ADDRESS_BURST + 1):
            forged = {"X-Forwarded-For": f"203.0.113.{i % 250}"}  # ignored: not from a proxy
            response = await session.post(
                url, json=message("hi", f"flood-{i:04d}"), cookies=made_up_cookie(), headers=forged
            )
            responses.append((response.status, await response.json(), response.headers))
    assert [status for status, _, _ in responses[:ADDRESS_BURST]] == [202] * ADDRESS_BURST
    status, body, headers = responses[-1]
    assert status == 429
    assert body["error"].startswith("Too many messages are coming from your network")
    assert int(headers["Retry-After"]) >= 1
    assert "not in web.trusted_proxies" in caplog.text


async def test_polls_with_made_up_cookies_cannot_push_real_sessions_out(site: Runtime) -> None:
    url = f"http://127.0.0.1:{site.adapters[0].port}/api/messages?after=0&wait=0"
    async with aiohttp.ClientSession() as session:
        statuses = [(await session.get(url, cookies=made_up_cookie())).status for _ in range(FLOOD)]
    assert statuses[:ADDRESS_BURST] == [200] * ADDRESS_BURST
    assert statuses[-1] == 429


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    tmp_path: Path, survey_folder: Path
) -> None:
    proxy = [ipaddress.ip_network("127.0.0.1/32")]
    burst = 5

    def behind_proxy(handler: InboundHandler) -> WebAdapter:
        return WebAdapter(
            handler, port=0, trusted_proxies=proxy, address_limit=(burst, BARELY_REFILLING)
        )

    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[behind_proxy],
        environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
    ) as site:
        url = f"http://127.0.0.1:{site.adapters[0].port}/api/messages"

        async def post(number: int, forwarded_for: str) -> int:
            response = await session.post(
                url,
                json=message("hi", f"event-{number:04d}"),
                cookies=made_up_cookie(),
                headers={"X-Forwarded-For": forwarded_for},
            )
            return response.status

        async with aiohttp.ClientSession() as session:
            flood = [await post(i, "203.0.113.5") for i in range(burst + 1)]
            # a made-up entry left of what the proxy added changes nothing
            spoofed = await post(burst + 1, "198.51.100.9, 203.0.113.5")
            neighbour = await post(burst + 2, "203.0.113.6")
    assert flood[-1] == 429
    assert spoofed == 429
    assert neighbour == 202


LOOPBACK = ipaddress.ip_network("127.0.0.1/32")
INNER_PROXIES = ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "counted"),
    [
        ("198.51.100.7", "", [], "198.51.100.7"),
        ("198.51.100.7", "203.0.113.5", [], "198.51.100.7"),
        ("127.0.0.1", "203.0.113.5", [LOOPBACK], "203.0.113.5"),
        ("127.0.0.1", "1.2.3.4, 203.0.113.5", [LOOPBACK], "203.0.113.5"),
        ("127.0.0.1", "203.0.113.5, 10.1.2.3", [LOOPBACK, INNER_PROXIES], "203.0.113.5"),
        ("127.0.0.1", "", [LOOPBACK], "127.0.0.1"),
        ("127.0.0.1", "not-an-address", [LOOPBACK], "not-an-address"),
        ("2001:db8:1:2::1", "", [], "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "", [], "2001:db8:1:2::/64"),
    ],
    ids=[
        "direct",
        "header-from-a-stranger-ignored",
        "through-a-trusted-proxy",
        "made-up-entry-on-the-left-ignored",
        "two-trusted-proxies",
        "the-proxy-itself",
        "garbage-from-the-proxy-counts-as-itself",
        "ipv6-by-its-64",
        "same-64-same-count",
    ],
)
def test_which_address_a_request_counts_against(
    peer: str, forwarded_for: str, trusted: list, counted: str
) -> None:
    assert client_address(peer, forwarded_for, trusted) == counted


def test_civicbot_run_serves_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    """The README's run command, as a newcomer would start it (on a free port here)."""
    config = tmp_path / "civicbot.toml"
    config.write_text('[web]\nport = 0\n[storage]\ndatabase = "demo.db"\n', encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "CIVICBOT_PSEUDONYM_KEY": "demo"},
    )
    try:
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("open http"):
                address = line.split()[1]
        assert address, "civicbot run did not say where to open the chat"
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(address).read().decode()
        assert "<title>Feedback chat</title>" in page
        request = urllib.request.Request(
            address + "api/messages",
            data=b'{"text": "homecare", "id": "first-message"}',
            headers={"Content-Type": "application/json"},
        )
        assert opener.open(request).status == 202
        reply = opener.open(address + "api/messages?after=0&wait=0").read().decode()
        assert "Home care feedback" in reply
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0
    assert "civicbot stopped" in output
    assert (tmp_path / "demo.db").exists()


def run_refused(tmp_path: Path, config_text: str) -> subprocess.CompletedProcess[str]:
    """`civicbot run` with this configuration, expected to stop before serving."""
    config = tmp_path / "civicbot.toml"
    config.write_text(config_text, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MATRIX_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env=environment,
        cwd=tmp_path,
    )


def test_a_wrong_setting_stops_civicbot_run_with_its_name(tmp_path: Path) -> None:
    done = run_refused(tmp_path, "[web]\nport = 99999\ncolour = 'red'\n")
    assert done.returncode == 2
    assert "web.port: Input should be less than or equal to 65535" in done.stderr
    assert "web.colour: unknown setting" in done.stderr


def test_slack_without_its_token_stops_civicbot_run_naming_the_variable(tmp_path: Path) -> None:
    done = run_refused(tmp_path, "[slack]\nenabled = true\n[web]\nport = 0\n")
    assert done.returncode == 2
    assert "slack.bot_token_env: the environment variable SLACK_BOT_TOKEN is not set" in done.stderr


def test_matrix_without_a_token_or_password_stops_civicbot_run_naming_both(
    tmp_path: Path,
) -> None:
    done = run_refused(tmp_path, "[matrix]\nenabled = true\n[web]\nport = 0\n")
    assert done.returncode == 2
    assert "MATRIX_ACCESS_TOKEN (an access token) or MATRIX_PASSWORD" in done.stderr


async def test_clients_that_send_too_slowly_are_cut_off_and_others_still_answered(
    tmp_path: Path, survey_folder: Path
) -> None:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=0, request_within=1.0)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
    ) as runtime:
        port = runtime.adapters[0].port
        half_headers = b"GET / HTTP/1.1\r\nHost: civic\r\n"
        half_body = (
            b"POST /api/messages HTTP/1.1\r\nHost: civic\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"text": '
        )
        slow = []
        for start in [b"", half_headers, half_body] * 100:  # 300 connections held open
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(start)
            slow.append((reader, writer))
        async with aiohttp.ClientSession() as session:
            page = await session.get(f"http://127.0.0.1:{port}/")
            assert page.status == 200
        async with asyncio.timeout(10):  # each is closed after about a second
            answers = await asyncio.gather(*(reader.read() for reader, _ in slow))
        for _, writer in slow:
            writer.close()
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408") for answer in answers)
    assert sum(answer.startswith(b"HTTP/1.1 408") for answer in answers) == 100


async def test_im_done_from_another_site_is_refused_and_keeps_the_session(
    client: aiohttp.ClientSession,
) -> None:
    await client.post("/api/messages", json=message())
    refused = await client.post("/api/done", headers={"Origin": "https://evil.example"})
    assert refused.status == 403
    polled = await (await client.get("/api/messages?after=0&wait=0")).json()
    assert polled["messages"][0]["text"].startswith("City library feedback")


async def test_im_done_ends_the_session_and_its_transcript(client: aiohttp.ClientSession) -> None:
    await client.post("/api/messages", json=message())
    done = await client.post("/api/done")
    assert done.status == 200
    assert (await client.get("/api/messages?after=0&wait=0")).status == 401  # no cookie now
    assert (await client.post("/api/done")).status == 401


async def test_a_chat_on_public_computers_gives_sessions_a_short_life(
    tmp_path: Path, survey_folder: Path
) -> None:
    eight_hours = [lambda handler: WebAdapter(handler, port=0, session_lifetime=timedelta(hours=8))]
    async with (
        running(
            database=tmp_path / "civicbot.db",
            survey_folder=survey_folder,
            adapters=eight_hours,
            environ={"CIVICBOT_PSEUDONYM_KEY": "web-test"},
        ) as runtime,
        aiohttp.ClientSession() as session,
    ):
        response = await session.get(f"http://127.0.0.1:{runtime.adapters[0].port}/")
    assert response.cookies[web.COOKIE]["max-age"] == str(8 * 3600)
