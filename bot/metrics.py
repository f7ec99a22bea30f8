"""What an operations team watches: counters and timings in Prometheus' text format,
served as `/metrics` beside `/healthz` (bot/health.py), on its own address.

One registry per running civicbot, made by the wiring and handed to the parts that
count; nothing here names a participant, an address or what anyone wrote.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as LibraryCounter

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Counter(LibraryCounter):
    """A counter whose `labels()` finds each set of values once: the library's checks its
    arguments and takes a lock at every call, and each turn counts at least twice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: dict[tuple[str, ...], LibraryCounter] = {}

    def labels(self, *values: str) -> LibraryCounter:  # type: ignore[override]
        child = self._known.get(values)
        if child is None:
            child = self._known[values] = super().labels(*values)
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "civicbot_turns",
            "Participants' messages handled, by platform and outcome (stored, redelivered,"
            " not_stored)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "civicbot_turn_seconds",
            "From an event's arrival to its turn stored (when its platform may be told)",
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.turn_conflicts = Counter(
            "civicbot_turn_conflicts",
            "Turns run again because another worker stored one of the same person first",
            registry=self.registry,
        )
        self.sends = Counter(
            "civicbot_sends",
            "Outbox messages handed to a platform, by platform and outcome (sent, failed, dead)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "civicbot_outbox_depth", "Messages waiting in the outbox", registry=self.registry
        )
        self.outbox_stuck = Gauge(
            "civicbot_outbox_stuck",
            "Messages waiting in the outbox for longer than a sweep",
            registry=self.registry,
        )
        self.outbox_oldest_seconds = Gauge(
            "civicbot_outbox_oldest_seconds",
            "How long the oldest message waiting in the outbox has waited (0: none waits)",
            registry=self.registry,
        )
        self.writer_restarts = Gauge(
            "civicbot_writer_restarts",
            "Times the database writer had to be started again since civicbot started",
            registry=self.registry,
        )
        self.digest_seconds = Histogram(
            "civicbot_digest_seconds",
            "Time to build and post a digest",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=self.registry,
        )
        self.invitations = Counter(
            "civicbot_invitations",
            "People invited to a run, by outcome (invited, already, busy, opted_out)",
            ["outcome"],
            registry=self.registry,
        )
        self.delivery_reports = Counter(
            "civicbot_delivery_reports",
            "What platforms reported of messages they took, by platform and status"
            " (SMS: sent, delivered, undelivered, failed)",
            ["platform", "status"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
