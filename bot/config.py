"""civicbot.toml: read, validated, and every problem named by its setting.

With no file at all, the defaults are the demo: the web chat on 127.0.0.1:8080,
the example surveys and ./civicbot.db.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
)

from bot.survey_files import EXAMPLE_SURVEYS


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the setting."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Section):
    database: Path = Path("civicbot.db")


class SurveySettings(_Section):
    folder: Path = EXAMPLE_SURVEYS


class WebSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Where people reach the chat; an https address makes the session cookie Secure.
    public_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    # The environment variable holding the key to the staff page.
    staff_key_env: str = "CIVICBOT_STAFF_KEY"
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client,
    # so that rate limits apply per client rather than to everyone behind the proxy.
    trusted_proxies: list[IPvAnyNetwork] = []
    # Messages and new sessions per client address: a burst, then so many a second.
    address_burst: Annotated[int, Field(ge=1)] = 100
    address_per_second: Annotated[float, Field(gt=0)] = 5.0


class SlackSettings(_Section):
    enabled: bool = False
    # Secrets are never in the file: these name the environment variables holding them.
    bot_token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    # When this variable holds an app-level token (xapp-…), Socket Mode is used.
    app_token_env: str = "SLACK_APP_TOKEN"
    host: str = "127.0.0.1"  # behind a TLS-terminating proxy that Slack can reach
    port: Annotated[int, Field(ge=0, le=65535)] = 3000
    path: str = "/slack/events"


class MatrixSettings(_Section):
    enabled: bool = False
    homeserver: Annotated[str, Field(pattern=r"^https?://")] = "http://127.0.0.1:8008"
    user_id: Annotated[str, Field(pattern=r"^@[^:]+:.+$")] = "@civicbot:localhost"
    device_id: str = "CIVICBOT"  # the same device at every start
    # The bot logs in with an access token, or else with a password, from these variables.
    access_token_env: str = "MATRIX_ACCESS_TOKEN"
    password_env: str = "MATRIX_PASSWORD"
    # Optional: the key that encrypts the crypto store (matrix-crypto/ beside the database).
    store_key_env: str = "MATRIX_STORE_KEY"


class Settings(_Section):
    timezone: str = "UTC"  # for digest schedules' cron times
    coordinators: list[Annotated[str, Field(pattern=r"^[a-z]+:.+$")]] = []
    storage: StorageSettings = StorageSettings()
    surveys: SurveySettings = SurveySettings()
    web: WebSettings = WebSettings()
    slack: SlackSettings = SlackSettings()
    matrix: MatrixSettings = MatrixSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}', e.g. 'Europe/Helsinki'") from None
        return value


def load_settings(path: Path | None) -> Settings:
    """The settings in `path`, relative paths taken from the file's folder; defaults if None."""
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in e['loc'])}: {_explain(e)}" for e in error.errors()
        )
        raise ConfigError(f"{path}: settings that cannot be used:\n{problems}") from None
    base = path.parent
    return settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={"database": base / settings.storage.database}
            ),
            "surveys": settings.surveys.model_copy(
                update={"folder": base / settings.surveys.folder}
            ),
        }
    )


def secret(environ: Mapping[str, str], setting: str, variable: str) -> str:
    """The value of a secret's environment variable, or a ConfigError naming both."""
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"{setting}: the environment variable {variable} is not set")
    return value


def _explain(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    return error["msg"]
