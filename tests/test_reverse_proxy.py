"""The web chat and the staff page under a path prefix, behind the reverse-proxy
configurations in deploy/ (nginx and Caddy from Debian, on loopback), in Chromium."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import last_bot_message, type_answer
from homeserver import free_port
from playwright.async_api import Browser, expect

from adapters.web import WebAdapter
from bot.app import Runtime, running

ROOT = Path(__file__).resolve().parent.parent
STAFF_KEY = "proxy-test-staff-key"


def nginx(folder: Path, port: int, civicbot: int) -> list[str]:
    """deploy/nginx.conf inside a server block on `port`, as a whole nginx.conf."""
    locations = (ROOT / "deploy" / "nginx.conf").read_text().replace("8080", str(civicbot))
    for temporary in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / temporary).mkdir()
    (folder / "nginx.conf").write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {locations}
    }}
}}
"""
    )
    return ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]


def caddy(folder: Path, port: int, civicbot: int) -> list[str]:
    """deploy/Caddyfile at http://127.0.0.1:port, without Caddy's admin API or certificates."""
    site = (ROOT / "deploy" / "Caddyfile").read_text()
    site = site.replace("example.org {", f"http://127.0.0.1:{port} {{").replace(
        "8080", str(civicbot)
    )
    options = "{\n\tadmin off\n\tauto_https off\n\tgrace_period 1s\n}\n\n"
    (folder / "Caddyfile").write_text(options + site)
    return ["caddy", "run", "--adapter", "caddyfile", "--config", str(folder / "Caddyfile")]


@contextmanager
def proxy(name: str, folder: Path, port: int, civicbot: int) -> Iterator[None]:
    program = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if program is None:
        pytest.skip(f"{name} is not installed (Debian's {name} package; .ci/run installs it)")
    command = {"nginx": nginx, "caddy": caddy}[name](folder, port, civicbot)
    command[0] = program
    environment = {
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder),
        "XDG_CONFIG_HOME": str(folder),
    }
    with open(folder / "proxy.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=environment)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def listening(port: int) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)  # the proxy is still starting
                continue
            writer.close()
            return


@pytest.fixture(params=["nginx", "caddy"])
async def behind_a_proxy(
    request: pytest.FixtureRequest, tmp_path: Path, survey_folder: Path
) -> AsyncIterator[tuple[str, Runtime]]:
    port, civicbot = free_port(), free_port()
    public = f"http://127.0.0.1:{port}/feedback/"
    settings = {
        "port": civicbot,
        "public_url": public,
        "staff_key": STAFF_KEY,
        "trusted_proxies": [ipaddress.ip_network("127.0.0.1/32")],
    }
    folder = tmp_path / request.param
    folder.mkdir()
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, **settings)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "proxy-test"},
        coordinators=frozenset({"web:staff"}),  # the operator's key signs in as "staff"
    ) as runtime:
        with proxy(request.param, folder, port, civicbot):
            await listening(port)
            yield public, runtime


def stored_answers(tmp_path: Path) -> dict[str, object]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        rows = connection.execute("SELECT question_id, value FROM answers").fetchall()
    return {question: json.loads(value) for question, value in rows}


async def test_a_survey_is_answered_under_a_path_prefix_behind_the_proxy(
    browser: Browser, behind_a_proxy: tuple[str, Runtime], tmp_path: Path
) -> None:
    public, _ = behind_a_proxy
    page = await browser.new_page()
    await page.goto(public.rstrip("/"))  # without the slash: sent on to /feedback/
    assert page.url == public
    await expect(last_bot_message(page)).to_contain_text("These surveys are open to you.")
    await page.get_by_role("button", name="City library feedback").click()
    await page.get_by_role("button", name="1. Yes").click()
    await page.get_by_role("button", name="1. Every week").click()
    await expect(last_bot_message(page)).to_contain_text("Which services have you used")
    assert stored_answers(tmp_path) == {"visits": "weekly"}
    cookies = await page.context.cookies()
    assert {cookie["path"] for cookie in cookies} == {"/feedback/"}


async def test_the_staff_page_works_under_the_prefix_behind_the_proxy(
    browser: Browser, behind_a_proxy: tuple[str, Runtime]
) -> None:
    public, _ = behind_a_proxy
    page = await browser.new_page()
    await page.goto(f"{public}staff?key={STAFF_KEY}")
    assert page.url == f"{public}staff"  # the key left the address bar, the prefix stayed
    await type_answer(page, "survey list")
    await expect(last_bot_message(page)).to_contain_text("library-services")
