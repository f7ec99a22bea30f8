"""Who may do what: staff roles, from civicbot.toml and, for one survey, its file.

- coordinator: every command
- analyst: reads — list, status, digest, export (not `export raw`)
- intermediary: answers on someone's behalf (assist)
- moderator: reviews held answers (review)
- replier: answers participants back (reply)

Staff are named `platform:user` or `platform:team/user` (the user only from that team,
for a Slack app installed in several workspaces); never by channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import get_args

from bot.commands import Command
from bot.events import Inbound
from conversations.survey import StaffRole as Role

ROLES: tuple[Role, ...] = get_args(Role)
# The commands an analyst may run besides a coordinator; everything else is a coordinator's.
READING = frozenset({"help", "list", "status", "digest", "export", "outcomes"})
ANY_STAFF = frozenset({"help"})


def names_of(inbound: Inbound) -> frozenset[str]:
    """The names the sender of a command may be listed under."""
    names = {f"{inbound.platform}:{inbound.user_id}"}
    if inbound.workspace:
        names.add(f"{inbound.platform}:{inbound.workspace}/{inbound.user_id}")
    return frozenset(names)


@dataclass(frozen=True)
class Staff:
    everywhere: Mapping[str, frozenset[Role]] = field(default_factory=dict)  # name -> roles
    per_survey: Mapping[str, Mapping[str, frozenset[Role]]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        roles: Mapping[Role, Iterable[str]],
        per_survey: Mapping[str, Mapping[Role, Iterable[str]]] | None = None,
    ) -> Staff:
        return cls(_by_name(roles), {s: _by_name(r) for s, r in (per_survey or {}).items()})

    def roles_of(self, names: frozenset[str], survey_id: str | None = None) -> frozenset[Role]:
        """The roles held under any of `names`: everywhere, and for `survey_id` if given."""
        held: set[Role] = set()
        for name in names:
            held |= self.everywhere.get(name, frozenset())
            if survey_id is not None:
                held |= self.per_survey.get(survey_id, {}).get(name, frozenset())
        return frozenset(held)

    def is_staff(self, names: frozenset[str]) -> bool:
        """Whether they hold any role anywhere (everyone else is refused outright)."""
        if self.roles_of(names):
            return True
        return any(names & set(by_name) for by_name in self.per_survey.values())


def needed(command: Command) -> Role | None:
    """The role a command needs, beyond being staff at all (None)."""
    if command.name in ANY_STAFF:
        return None
    if command.name in READING and not command.raw:
        return "analyst"
    if command.name == "review":
        return "moderator"
    if command.name == "reply":
        return "replier"
    if command.name == "assist":
        return "intermediary"
    return "coordinator"


def may(command: Command, roles: frozenset[Role]) -> bool:
    role = needed(command)
    return role is None or "coordinator" in roles or role in roles


def _by_name(roles: Mapping[Role, Iterable[str]]) -> dict[str, frozenset[Role]]:
    by_name: dict[str, set[Role]] = {}
    for role, names in roles.items():
        for name in names:
            by_name.setdefault(name, set()).add(role)
    return {name: frozenset(held) for name, held in by_name.items()}
