"""The chat platforms civicbot can run on, by name, and how the configured ones are built.

Each name maps to the module that adapts that platform. The module owns its
`civicbot.toml` section and how an adapter is made from it:

    SETTINGS          a pydantic model of the section, with an `enabled` field
    from_settings     (section, context) -> Configured, raising ConfigError for a
                      missing secret

and its adapter has `describe()`, the line `civicbot run` prints about it. A
module is imported only when its section is in the file (or, for the platforms
on by default, always), so an unused platform's libraries are never loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.events import AdapterFactory

PLATFORMS = {
    "web": "adapters.web_settings",
    "slack": "adapters.slack",
    "matrix": "adapters.matrix",
    "sms": "adapters.sms",
}
ON_BY_DEFAULT = frozenset({"web"})  # the demo: the web chat with no file at all


@dataclass(frozen=True)
class PlatformContext:
    """What building an adapter may need besides its own section."""

    environ: Mapping[str, str]  # secrets come from here, by the names the section gives
    state_folder: Path  # beside the database: files a platform keeps (Matrix's keys)


@dataclass(frozen=True)
class Configured:
    """A platform ready to be built, the users it vouches for as coordinators itself
    (`platform:user`), as the web staff page does for whoever holds its key, and the
    staff conversation it offers for digests that have no other place to go."""

    build: AdapterFactory
    coordinators: frozenset[str] = field(default_factory=frozenset)
    staff_channel: str | None = None


def module_of(name: str) -> ModuleType:
    return importlib.import_module(PLATFORMS[name])


def sections_to_read(raw: Mapping[str, Any]) -> list[str]:
    """The platforms whose sections a configuration file sets, or that are on anyway."""
    return [name for name in PLATFORMS if name in raw or name in ON_BY_DEFAULT]
