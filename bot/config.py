"""civicbot.toml: read, validated, and every problem named by its setting.

With no file at all, the defaults are the demo: the web chat on 127.0.0.1:8080,
the example surveys and ./civicbot.db.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot import platforms
from bot.reminders import QUIET_HOURS, QuietHours
from bot.survey_files import EXAMPLE_SURVEYS
from conversations.survey import Duration, StaffChannel, StaffName, StaffRole


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the setting."""


class Section(BaseModel):
    """A section of civicbot.toml: an unknown setting in it is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformSection(Section):
    """A chat platform's section; each adapter module extends it with its own settings."""

    enabled: bool = False


class StorageSettings(Section):
    database: Path = Path("civicbot.db")
    # PostgreSQL instead, for several workers: "postgresql://user@host:port/name", the
    # password in CIVICBOT_DATABASE_PASSWORD (docs/scaling.md). `database` then only
    # says where the other files of state go (the Matrix crypto store, the checkpoint).
    url: str | None = None
    # Addresses of people not seen for this long are deleted (they are reached again
    # when they next write).
    keep_addresses: Duration = timedelta(days=90)
    # Before migrations change a database that holds data, a backup beside it (and a
    # line in the log naming it): the way back from an upgrade.
    backup_before_migrating: bool = True

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "not a PostgreSQL URL: write postgresql://user@host:port/database (leave the"
                " setting out for SQLite, in storage.database)"
            )
        return value


class SurveySettings(Section):
    folder: Path = EXAMPLE_SURVEYS
    # Where digests of open surveys go when their file names no staff_channel:
    # "platform:conversation". Unset: the web staff page, when there is one.
    staff_channel: StaffChannel | None = None
    # The language of digests and their figures' words, unless a survey's digest says.
    staff_language: Literal["en", "fi", "sv"] = "en"


class GuardrailSettings(Section):
    """Limits on commands that message people (bot/invitations.py)."""

    approval_above: int = Field(default=500, ge=1)  # recipients; more need a second coordinator
    approval_within: Duration = timedelta(hours=1)
    messages_per_hour: int = Field(default=10_000, ge=1)  # invitations and reminders


class HealthSettings(Section):
    """`/healthz` and `/readyz` (bot/health.py) on an address of their own."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)


class Settings(Section):
    timezone: str = "UTC"  # for cron times, and for "today" in date answers
    # DEBUG also shows the libraries' details and exception messages, which may quote
    # people: for diagnosing only (bot/logs.py).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object a line
    # No reminder or other unasked message goes out between these times of day.
    quiet_hours: str = QUIET_HOURS
    coordinators: list[StaffName] = []
    # Other staff roles (bot/roles.py): role -> names, e.g. analyst = ["slack:U024BE7LH"].
    roles: dict[StaffRole, list[StaffName]] = Field(default_factory=dict)
    storage: StorageSettings = StorageSettings()
    surveys: SurveySettings = SurveySettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    health: HealthSettings = HealthSettings()
    # platform name -> its section, as its adapter module reads it (bot.platforms)
    platforms: dict[str, PlatformSection] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}', e.g. 'Europe/Helsinki'") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _time_span(cls, value: str) -> str:
        QuietHours.parse(value, "UTC")  # raises ValueError naming the problem
        return value


def load_settings(path: Path | None) -> Settings:
    """The settings in `path`, relative paths taken from the file's folder; defaults if None."""
    if path is None:
        return settings_of({}, source="the defaults")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    settings = settings_of(raw, source=str(path))
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


def settings_of(raw: dict[str, Any], *, source: str) -> Settings:
    """Validate a configuration's contents; every problem is named, by its setting."""
    sections = {name: raw.pop(name, {}) for name in platforms.sections_to_read(raw)}
    problems = ["  platforms: unknown setting"] if "platforms" in raw else []
    raw = {key: value for key, value in raw.items() if key != "platforms"}
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        problems += _described(error, ())
    read: dict[str, PlatformSection] = {}
    for name, section in sections.items():
        try:
            read[name] = platforms.module_of(name).SETTINGS.model_validate(section)
        except ValidationError as error:
            problems += _described(error, (name,))
    if problems:
        listed = "\n".join(problems)
        raise ConfigError(f"{source}: settings that cannot be used:\n{listed}")
    return settings.model_copy(update={"platforms": read})


def _described(error: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    return [
        f"  {'.'.join(str(p) for p in (*prefix, *e['loc']))}: {_explain(e)}" for e in error.errors()
    ]


def with_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment, plus the secrets systemd hands over as credentials (files named
    after the variables, in $CREDENTIALS_DIRECTORY: `LoadCredential=SLACK_BOT_TOKEN:…`).
    A variable that is set wins over a credential of the same name."""
    found = dict(environ)
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if folder and Path(folder).is_dir():
        for credential in Path(folder).iterdir():
            if credential.is_file() and credential.name not in found:
                found[credential.name] = credential.read_text(encoding="utf-8").strip()
    return found


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
