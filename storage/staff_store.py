"""The storage contract's part for coordinators' commands (storage/staff_contract.py):
digests, the audit, approvals, schedules and staff sign-ins. A part of `SqlStore`,
whose writer, reads and scans it uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from storage import runs, schedules, staff
from storage.dialect import Connection
from storage.records import Approval, AuditEntry, RunScheduleRow, ScheduleRow, StaffAccount
from storage.writer import GroupCommitWriter


class StaffStore:
    # The backend's: its writer (group commit), a point read, and a read that may scan
    # a lot (digests, exports) off the event loop, each of a function of the connection.
    writer: GroupCommitWriter
    _read: Callable[..., Awaitable[Any]]
    _scan: Callable[[Callable[[Connection], Any]], Awaitable[Any]]

    # -- digests, audit and schedules ---------------------------------------------------

    async def last_digest(self, run_id: int) -> float | None:
        return await self._scan(partial(runs.last_digest, run_id=run_id))

    async def post_digest(self, run_id: int, **digest: Any) -> int:
        return await self.writer.write(partial(runs.post_digest, run_id=run_id, **digest))

    async def audit(self, **entry: Any) -> None:
        await self.writer.write(partial(runs.audit, **entry))

    async def audit_entries(
        self, *, run_id: int | None = None, since: float | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        return await self._scan(
            partial(runs.audit_entries, run_id=run_id, since=since, limit=limit)
        )

    async def request_approval(self, **request: Any) -> int:
        return await self.writer.write(partial(schedules.request_approval, **request))

    async def approval(self, approval_id: int) -> Approval | None:
        return await self._scan(partial(schedules.approval, approval_id=approval_id))

    async def approve(self, approval_id: int, *, by: str, now: float) -> bool:
        return await self.writer.write(
            partial(schedules.approve, approval_id=approval_id, by=by, now=now)
        )

    async def add_schedule(self, **schedule: Any) -> ScheduleRow:
        return await self.writer.write(partial(schedules.add_schedule, **schedule))

    async def schedules(self, run_id: int | None = None) -> list[ScheduleRow]:
        return await self._scan(partial(schedules.list_schedules, run_id=run_id))

    async def remove_schedule(self, schedule_id: int) -> bool:
        return await self.writer.write(partial(schedules.remove_schedule, schedule_id=schedule_id))

    async def schedule_fired(self, schedule_id: int, *, at: float) -> None:
        await self.writer.write(partial(schedules.schedule_fired, schedule_id=schedule_id, at=at))

    async def add_run_schedule(self, **schedule: Any) -> RunScheduleRow:
        return await self.writer.write(partial(schedules.add_run_schedule, **schedule))

    async def run_schedules(self) -> list[RunScheduleRow]:
        return await self._scan(schedules.list_run_schedules)

    async def run_schedule_fired(self, schedule_id: int, **fired: Any) -> None:
        await self.writer.write(
            partial(schedules.run_schedule_fired, schedule_id=schedule_id, **fired)
        )

    async def end_run_schedule(self, schedule_id: int) -> bool:
        return await self.writer.write(partial(schedules.end_run_schedule, schedule_id=schedule_id))

    async def set_closing(self, run_id: int, *, at: float | None) -> None:
        await self.writer.write(partial(schedules.set_closing, run_id=run_id, at=at))

    async def runs_to_close(self, *, now: float) -> list[int]:
        return await self._read(schedules.runs_to_close, now=now)

    # -- staff sign-ins -----------------------------------------------------------------

    async def add_staff(self, **account: Any) -> bool:
        return await self.writer.write(partial(staff.add_staff, **account))

    async def revoke_staff(self, *, name: str) -> bool:
        return await self.writer.write(partial(staff.revoke_staff, name=name))

    async def staff_accounts(self) -> list[StaffAccount]:
        return await self._read(staff.staff_accounts)

    async def staff_account(self, **which: Any) -> StaffAccount | None:
        return await self._read(staff.staff_account, **which)

    async def add_staff_session(self, **session: Any) -> None:
        await self.writer.write(partial(staff.add_staff_session, **session))

    async def staff_session(self, *, token_hash: str, now: float) -> str | None:
        return await self._read(staff.staff_session, token_hash=token_hash, now=now)
