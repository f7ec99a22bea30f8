"""The storage contract's part for coordinators' commands: digests and their schedules,
the audit, approvals, scheduled starts, references, findings and staff sign-ins. The
guarantees of `storage.contract` hold here too; `Storage` includes all of it."""

from __future__ import annotations

from typing import Protocol, TypeVar

from storage.records import (
    Approval,
    AuditEntry,
    RunScheduleRow,
    ScheduleRow,
    StaffAccount,
)

T = TypeVar("T")


class StaffStorage(Protocol):
    # -- digests, audit and schedules ---------------------------------------------------

    async def last_digest(self, run_id: int) -> float | None:
        """Until when the run's last digest counted, or None before the first."""
        ...

    async def post_digest(
        self,
        run_id: int,
        *,
        covered_until: float,
        now: float,
        platform: str,
        channel: str,
        body: str,
    ) -> int:
        """Move the run's digest watermark and queue the digest's message, atomically,
        so a digest is neither lost nor counted twice; the message's outbox id."""
        ...

    async def audit(
        self,
        *,
        now: float,
        platform: str,
        user_id: str,
        command: str,
        allowed: bool,
        outcome: str,
        run_id: int | None = None,
    ) -> None:
        """Record a staff command, allowed or refused, what came of it and the run it was
        about (or civicbot's own deletions, as `civicbot:retention`)."""
        ...

    async def audit_entries(
        self, *, run_id: int | None = None, since: float | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        """The newest `limit` audit entries, of one run and since a time if given, oldest
        first."""
        ...

    async def request_approval(
        self,
        *,
        now: float,
        platform: str,
        user_id: str,
        conversation_id: str,
        command: str,
        audience: int,
    ) -> int:
        """Hold a command for a second coordinator; the request's number."""
        ...

    async def approval(self, approval_id: int) -> Approval | None:
        """The request with that number, approved or not, or None."""
        ...

    async def approve(self, approval_id: int, *, by: str, now: float) -> bool:
        """Mark the request approved by `by`; False if it was approved already (of two
        coordinators approving at once, exactly one gets True)."""
        ...

    async def add_schedule(
        self,
        *,
        run_id: int,
        cron: str,
        timezone: str,
        now: float,
        made_by: str | None = None,
        made_in: str | None = None,
    ) -> ScheduleRow:
        """Store a cron schedule of the run's digest, with who made it where (to tell them
        when a digest cannot go out); the stored row."""
        ...

    async def schedules(self, run_id: int | None = None) -> list[ScheduleRow]:
        """The stored schedules (of one run, if given), by id."""
        ...

    async def remove_schedule(self, schedule_id: int) -> bool:
        """Delete a schedule; False if there was none with that id."""
        ...

    async def schedule_fired(self, schedule_id: int, *, at: float) -> None:
        """Note when the schedule last fired, so a restart catches up only what it missed."""
        ...

    async def add_run_schedule(
        self,
        *,
        command: str,
        platform: str,
        user_id: str,
        conversation_id: str,
        at: float | None,
        cron: str | None,
        timezone: str,
        until: float | None,
        created_at: float,
    ) -> RunScheduleRow:
        """Store a scheduled start of a run (once `at`, or by `cron`); the stored row."""
        ...

    async def run_schedules(self) -> list[RunScheduleRow]:
        """Every scheduled start, ended ones too, by id."""
        ...

    async def run_schedule_fired(
        self, schedule_id: int, *, at: float, run_id: int | None, ended: bool
    ) -> None:
        """Note a start: when, the run it made (None: none), and whether no more follow."""
        ...

    async def end_run_schedule(self, schedule_id: int) -> bool:
        """No more starts from it; False if it had ended or never was."""
        ...

    async def set_closing(self, run_id: int, *, at: float | None) -> None:
        """The open run closes by itself at `at` (None: only when a coordinator closes it)."""
        ...

    async def runs_to_close(self, *, now: float) -> list[int]:
        """Open runs whose closing time has come."""
        ...

    # -- staff sign-ins ---------------------------------------------------------------

    async def add_staff(self, *, name: str, role: str, key_hash: str, now: float) -> bool:
        """A staff account with the hash of its sign-in key; False if the name is taken."""
        ...

    async def revoke_staff(self, *, name: str) -> bool:
        """Delete the account and end its sessions at once; False if there was none."""
        ...

    async def staff_accounts(self) -> list[StaffAccount]:
        """Every staff account, by name."""
        ...

    async def staff_account(
        self, *, name: str | None = None, key_hash: str | None = None
    ) -> StaffAccount | None:
        """The account with that name, or whose key hashes to `key_hash`."""
        ...

    async def add_staff_session(
        self, *, token_hash: str, user_id: str, now: float, expires_at: float
    ) -> None:
        """A signed-in session, kept across restarts until it expires or is revoked."""
        ...

    async def staff_session(self, *, token_hash: str, now: float) -> str | None:
        """The user a live session belongs to, or None."""
        ...
