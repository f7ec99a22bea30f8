"""Where the wiring sends what platforms report later of messages they took (an SMS
delivered or undelivered): kept in storage for a while and counted in /metrics."""

from __future__ import annotations

from collections.abc import Callable

from bot.events import DeliveryReport
from bot.metrics import Metrics
from storage.contract import Storage


class DeliveryReports:
    def __init__(self, store: Storage, metrics: Metrics, clock: Callable[[], float]) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock

    async def record(self, report: DeliveryReport) -> None:
        await self._store.record_delivery(
            platform=report.platform,
            message_id=report.message_id,
            status=report.status,
            error_code=report.error_code,
            now=self._clock(),
        )
        self._metrics.delivery_reports.inc(report.platform, report.status)
