"""Platforms are built from civicbot.toml by their own modules, the way `civicbot run` does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from slack_stub import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackWebApi, message_event

from bot import platforms
from bot.config import ConfigError, load_settings
from bot.run import configured_platforms, serve

SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "MATRIX_ACCESS_TOKEN": "syt-test",
    "CIVICBOT_STAFF_KEY": "staff",
    "CIVICBOT_PSEUDONYM_KEY": "k",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-test",
}
# What a platform cannot do without, beside its secrets.
REQUIRED = {"sms": 'sender = "+358451234000"\npublic_url = "https://example.org/sms/"\n'}


def configuration(tmp_path: Path, text: str, survey_folder: Path | None = None) -> Path:
    folder = f'[surveys]\nfolder = "{survey_folder}"\n' if survey_folder else ""
    path = tmp_path / "civicbot.toml"
    path.write_text(f"{folder}{text}", encoding="utf-8")
    return path


async def test_civicbot_run_with_both_slack_tokens_connects_over_socket_mode(
    tmp_path: Path, survey_folder: Path
) -> None:
    api = SlackWebApi()
    await api.start()
    settings = load_settings(
        configuration(
            tmp_path,
            f'[web]\nenabled = false\n[slack]\nenabled = true\napi_url = "{api.url}"\n',
            survey_folder,
        )
    )
    environ = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, **SECRETS}
    del environ["SLACK_SIGNING_SECRET"]  # Socket Mode needs none
    announced: list[str] = []
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve(settings, announce=announced.append, environ=environ, stop=stop)
    )
    try:
        await asyncio.wait_for(api.connected.wait(), 20)
        event = json.loads(message_event("UANN", "library", "Ev1"))
        await api.send_envelope("events_api", event, "env-1")
        await api.acknowledged("env-1")
    finally:
        stop.set()
        await asyncio.wait_for(serving, 20)
        await api.stop()
    assert any("Slack: connected in Socket Mode" in line for line in announced)
    assert api.made("chat.postMessage")[0]["text"].startswith("City library feedback")


async def test_every_platform_is_built_from_its_settings(tmp_path: Path) -> None:
    sections = "".join(
        f"[{name}]\nenabled = true\n{REQUIRED.get(name, '')}" for name in platforms.PLATFORMS
    )
    settings = load_settings(configuration(tmp_path, sections))
    built = [c.build(_ignore) for c in configured_platforms(settings, SECRETS)]
    assert [adapter.platform for adapter in built] == list(platforms.PLATFORMS)
    assert all(adapter.describe() for adapter in built)


def test_a_platform_section_is_read_only_when_the_file_has_it(tmp_path: Path) -> None:
    settings = load_settings(configuration(tmp_path, 'timezone = "UTC"\n'))
    assert list(settings.platforms) == ["web"]  # the demo's web chat, nothing more loaded


def test_an_unknown_setting_in_a_platform_section_is_named(tmp_path: Path) -> None:
    path = configuration(tmp_path, "[slack]\nenabled = true\nbot_tokn_env = 'X'\n")
    with pytest.raises(ConfigError, match=r"slack\.bot_tokn_env: unknown setting"):
        load_settings(path)


def test_http_mode_without_the_signing_secret_names_its_variable(tmp_path: Path) -> None:
    settings = load_settings(configuration(tmp_path, "[slack]\nenabled = true\n"))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        configured_platforms(settings, {"SLACK_BOT_TOKEN": BOT_TOKEN})


async def _ignore(inbound: object) -> None:
    return None


def test_an_sms_section_without_its_sender_names_what_is_missing(tmp_path: Path) -> None:
    path = configuration(tmp_path, "[sms]\nenabled = true\n")
    with pytest.raises(ConfigError, match=r"sms\.sender: Field required"):
        load_settings(path)


def test_sms_without_its_auth_token_names_its_variable(tmp_path: Path) -> None:
    settings = load_settings(configuration(tmp_path, f"[sms]\nenabled = true\n{REQUIRED['sms']}"))
    with pytest.raises(ConfigError, match=r"sms\.auth_token_env: .*TWILIO_AUTH_TOKEN"):
        configured_platforms(settings, {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32})
