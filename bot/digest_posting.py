"""Posting a run's digest: built from one snapshot of its answers off the event loop,
small cells protected, queued with its watermark in one write, then sent to the run's
staff channel (headline, figures below the fold) with its chart and CSV where the
platform takes files."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot import digest
from bot.chart_drawer import ChartDrawer
from bot.digest_files import digest_files
from bot.digest_text import findings, render_details, render_headline
from bot.digest_words import moment, word
from bot.events import Adapter, Inbound, Outbound
from bot.metrics import Metrics
from bot.outbox import OutboxSender
from bot.references import with_references
from bot.scheduler import Clock
from bot.small_cells import protect
from bot.survey_files import SurveyCatalogue
from conversations.outgoing import Message
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import RunFigures, RunRow

log = logging.getLogger(__name__)


class DigestNotPosted(Exception):
    """Why a digest did not reach its channel, in words for the coordinator. `kept`: it is
    in the outbox and goes out once the channel takes it."""

    def __init__(self, reason: str, *, kept: bool = False) -> None:
        super().__init__(reason)
        self.kept = kept


class DigestPosting:
    def __init__(
        self,
        *,
        store: Storage,
        surveys: SurveyCatalogue,
        adapters: dict[str, Adapter],
        outbox: OutboxSender,
        clock: Clock,
        timezone: str = "UTC",
        staff_language: str = "en",
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._store = store
        self._surveys = surveys
        self._adapters = adapters
        self._outbox = outbox
        self._clock = clock
        self._zone = ZoneInfo(timezone)
        self._staff_language = staff_language
        self._charts = ChartDrawer()

    def close(self) -> None:
        self._charts.close()

    async def scheduled(self, run_id: int) -> str:
        """A digest schedule's time has come: post the run's digest. DigestNotPosted says
        why it could not be."""
        run = await self._store.run(run_id)
        survey = self._surveys.surveys.get(run.survey_id) if run else None
        if run is None or survey is None:
            raise DigestNotPosted(f"run {run_id} or its survey is gone")
        if not run.staff_channel:  # scheduled before runs without one were refused
            raise DigestNotPosted(f"run {run_id} has no staff channel to post it to")
        return await self.post(run, survey, scheduled=True)

    async def post(
        self,
        run: RunRow,
        survey: Survey,
        *,
        fallback: Inbound | None = None,
        scheduled: bool = False,
    ) -> str:
        """Post the run's digest to its staff channel and move its watermark."""
        with self._metrics.digest_seconds.time():
            return await self._post(run, survey, fallback=fallback, scheduled=scheduled)

    async def _post(
        self, run: RunRow, survey: Survey, *, fallback: Inbound | None, scheduled: bool
    ) -> str:
        now = self._clock()
        if run.staff_channel:
            platform, channel = run.staff_channel.split(":", 1)
        else:
            platform, channel = fallback.platform, fallback.conversation_id
        uploads = self._adapters[platform].capabilities.file_upload
        if uploads and survey.digest.chart:
            await self._charts.warm()  # the chart's process starts while figures are read
        figures = await self._store.run_figures(run.id, until=now, **digest.asked_of(survey))
        lang = survey.digest.language or self._staff_language
        built = await asyncio.to_thread(self.built, survey, run.id, figures, now, lang)
        built = await with_references(self._store, built, now=now)
        built = await self._numbered(built, now)
        if scheduled and figures.last_digest is not None and not built.new_completed:
            if survey.digest.when_empty == "skip":
                return f"Nothing new in run {run.id}: no digest posted, as the survey asks."
            since = moment(figures.last_digest, self._zone, lang)
            message = Message(
                word(lang, "nothing_new", title=built.survey_title, run=run.id, since=since)
            )
        else:
            message = Message(render_headline(built, self._zone), details=render_details(built))
        outbox_id = await self._store.post_digest(
            run_id=run.id,
            covered_until=now,
            now=now,
            platform=platform,
            channel=channel,
            body=message.to_json(),
        )
        sent = await self._outbox.send([Outbound(platform, channel, message, outbox_id=outbox_id)])
        if not sent:
            raise DigestNotPosted(
                f"The digest of run {run.id} could not be posted to its channel yet (is it "
                "archived, or is civicbot not in it?). It is kept and will be sent again.",
                kept=True,
            )
        told = f"Digest of run {run.id} posted: {built.new_completed} new completed responses."
        drawn = uploads and message.details  # a "nothing new" line has no figures to draw
        try:
            files = await digest_files(survey, built, self._charts) if drawn else []
        except Exception:
            log.exception("drawing the files of run %d's digest failed", run.id)
            return told + " Its chart and table could not be made; the log says why."
        for caption, attachment in files:
            try:
                await self._adapters[platform].send(
                    Outbound(platform, channel, Message(caption), attachment=attachment)
                )
            except Exception:
                log.exception("uploading %s for run %d failed", attachment.filename, run.id)
                told += f" {attachment.filename} could not be uploaded; try again later."
        return told

    async def _numbered(self, built: digest.Digest, now: float) -> digest.Digest:
        """The digest with its findings' numbers in the run and what staff did about them."""
        shown = findings(built)
        numbers = await self._store.number_findings(
            run_id=built.run_id,
            findings=[(f.key, f.line, f.people) for f in shown],
            now=now,
        )
        outcomes = {
            row.key: (row.status, row.note)
            for row in await self._store.findings(built.run_id)
            if row.status
        }
        return replace(built, numbers=numbers, outcomes=outcomes)

    @staticmethod
    def built(
        survey: Survey, run_id: int, figures: RunFigures, now: float, lang: str
    ) -> digest.Digest:
        """The digest as staff may see it: a CPU-bound build, run off the event loop."""
        built = digest.build(
            survey=survey, run_id=run_id, figures=figures, until=now, language=lang
        )
        return protect(built, survey.min_group_size)
