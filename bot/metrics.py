"""What an operations team watches: counters and timings in Prometheus' text format,
served as `/metrics` beside `/healthz` (bot/health.py), on its own address.

One registry per running civicbot, made by the wiring and handed to the parts that
count; nothing here names a participant, an address or what anyone wrote.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


# Counted on the event loop as plain numbers and handed to the library when /metrics is
# read (a custom collector): its own counters check their arguments and take a lock at
# every call, and each turn counts three times. Only the loop's thread counts.


class LoopCounter:
    """A counter with labels: `inc(*label values)`."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = list(labels)
        # one without labels is shown from the start, at 0, as the library's are
        self._counts: dict[tuple[str, ...], int] = {} if labels else {(): 0}
        registry.register(self)

    def inc(self, *values: str) -> None:
        self._counts[values] = self._counts.get(values, 0) + 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for values, count in list(self._counts.items()):
            family.add_metric(list(values), count)
        yield family


class LoopHistogram:
    """Observations in buckets, Prometheus' way: each bucket counts those up to its bound."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = tuple(buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last: above every bound
        self._sum = 0.0
        registry.register(self)

    def observe(self, amount: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, amount)] += 1
        self._sum += amount

    def collect(self) -> Iterator[Metric]:
        cumulative, running = [], 0
        for bound, count in zip((*map(str, self._bounds), "+Inf"), self._counts, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(
            self._name, self._documentation, buckets=cumulative, sum_value=self._sum
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = LoopCounter(
            "civicbot_turns",
            "Participants' messages handled, by platform and outcome (stored, redelivered,"
            " not_stored)",
            ["platform", "outcome"],
            self.registry,
        )
        self.turn_seconds = LoopHistogram(
            "civicbot_turn_seconds",
            "From an event's arrival to its turn stored (when its platform may be told)",
            TURN_BUCKETS,
            self.registry,
        )
        self.turn_conflicts = LoopCounter(
            "civicbot_turn_conflicts",
            "Turns run again because another worker stored one of the same person first",
            [],
            self.registry,
        )
        self.sends = LoopCounter(
            "civicbot_sends",
            "Outbox messages handed to a platform, by platform and outcome (sent, failed, dead)",
            ["platform", "outcome"],
            self.registry,
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
        self.invitations = LoopCounter(
            "civicbot_invitations",
            "People invited to a run, by outcome (invited, already, busy, opted_out)",
            ["outcome"],
            self.registry,
        )
        self.delivery_reports = LoopCounter(
            "civicbot_delivery_reports",
            "What platforms reported of messages they took, by platform and status"
            " (SMS: sent, delivered, undelivered, failed)",
            ["platform", "status"],
            self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
