"""`/healthz`, `/readyz` and `/metrics`, for a container's HEALTHCHECK, a load balancer,
systemd and Prometheus.

`/healthz` says the process answers. `/readyz` says whether it can do its job now: the
database takes a write, every platform is connected, and the outbox is not backing up
(replies waiting longer than a sweep); it also counts the replies given up as
undeliverable, which do not make civicbot unready. Both answer JSON; `/readyz` is 503 when not
ready, with the reasons. Served on their own address (`[health]` in civicbot.toml),
127.0.0.1 unless configured: they say nothing personal, but nothing a citizen needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from adapters.http_timeouts import runner
from bot.events import Adapter
from bot.metrics import CONTENT_TYPE, Metrics
from bot.outbox import SWEEP_SECONDS
from bot.scheduler import Clock
from storage.contract import Storage

log = logging.getLogger(__name__)

WRITE_CHECK_SECONDS = 5.0  # a database that takes longer than this to commit is not ready
STUCK_LIMIT = 100  # replies waiting longer than a sweep, at most, for ready


class HealthServer:
    def __init__(
        self,
        *,
        store: Storage,
        adapters: list[Adapter],
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 8081,
        metrics: Metrics | None = None,
        standing_by: Callable[[Adapter], bool] = lambda adapter: False,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._standing_by = standing_by  # runs in the leading worker, not here
        self._store = store
        self._adapters = adapters
        self._clock = clock
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._alive)
        app.router.add_get("/readyz", self._ready)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = runner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics_page(self, request: web.Request) -> web.Response:
        now = self._clock()
        depth = await self._store.outbox_depth(queued_before=now - SWEEP_SECONDS)
        self._metrics.outbox_depth.set(depth.waiting)
        self._metrics.outbox_stuck.set(depth.waiting_long)
        oldest = now if depth.oldest is None else depth.oldest
        self._metrics.outbox_oldest_seconds.set(max(0.0, now - oldest))
        self._metrics.writer_restarts.set(self._store.restarts())
        return web.Response(body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def _alive(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _ready(self, request: web.Request) -> web.Response:
        checks = {"database": await self._database()}
        leader_only = [a.platform for a in self._adapters if self._standing_by(a)]
        for adapter in self._adapters:
            if adapter.platform not in leader_only:
                checks[adapter.platform] = await adapter.unready() or "ok"
        # read, never claimed: a load balancer's checks must not take other workers' replies
        depth = await self._store.outbox_depth(queued_before=self._clock() - SWEEP_SECONDS)
        checks["outbox"] = (
            "ok"
            if depth.waiting_long <= STUCK_LIMIT
            else f"{depth.waiting_long} replies waiting longer than {SWEEP_SECONDS:g} s"
        )
        ready = all(state == "ok" for state in checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
        if leader_only:  # another worker leads and runs them: this one is ready all the same
            body["leader_only"] = leader_only
        if dead := await self._store.undeliverable():  # for whoever watches, not a reason
            body["undeliverable"] = {f"{d.platform}: {d.failure}": d.count for d in dead}
        return web.json_response(body, status=200 if ready else 503)

    async def _database(self) -> str:
        try:
            await asyncio.wait_for(self._store.flushed(), WRITE_CHECK_SECONDS)
        except TimeoutError:
            return f"a write took longer than {WRITE_CHECK_SECONDS:g} s"
        except Exception as error:
            log.warning("readiness: the database takes no write (%s)", type(error).__name__)
            return f"takes no write ({type(error).__name__})"
        return "ok"
