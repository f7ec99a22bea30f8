"""Posting a run's digest: built from one snapshot of its answers, small cells
protected, queued with its watermark in one write, then sent to the run's staff
channel with its chart and CSV where the platform takes files."""

from __future__ import annotations

import logging

from bot import digest
from bot.digest_files import digest_files
from bot.events import Adapter, Inbound, Outbound
from bot.outbox import OutboxSender
from bot.scheduler import Clock
from bot.small_cells import protect
from bot.survey_files import SurveyCatalogue
from conversations.outgoing import Message
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import RunRow

log = logging.getLogger(__name__)


class DigestPosting:
    def __init__(
        self,
        *,
        store: Storage,
        surveys: SurveyCatalogue,
        adapters: dict[str, Adapter],
        outbox: OutboxSender,
        clock: Clock,
    ) -> None:
        self._store = store
        self._surveys = surveys
        self._adapters = adapters
        self._outbox = outbox
        self._clock = clock

    async def scheduled(self, run_id: int) -> str:
        """A digest schedule's time has come: post the run's digest, if it can go anywhere."""
        run = await self._store.run(run_id)
        survey = self._surveys.surveys.get(run.survey_id) if run else None
        if run is None or survey is None:
            return f"run {run_id} or its survey is gone"
        if not run.staff_channel:  # scheduled before runs without one were refused
            log.warning("the scheduled digest of run %d has no staff channel to go to", run_id)
            return f"run {run_id} has no staff channel"
        return await self.post(run, survey)

    async def post(self, run: RunRow, survey: Survey, *, fallback: Inbound | None = None) -> str:
        """Post the run's digest to its staff channel and move its watermark."""
        now = self._clock()
        rows = await self._store.run_rows(run.id)
        built = protect(
            digest.build(
                survey=survey,
                run_id=run.id,
                responses=[digest.ResponseRow(*r) for r in rows.responses],
                answers=[digest.AnswerRow(*a) for a in rows.answers],
                since=rows.last_digest,
                until=now,
            ),
            survey.min_group_size,
        )
        text = digest.render_text(built)
        if run.staff_channel:
            platform, channel = run.staff_channel.split(":", 1)
        else:
            platform, channel = fallback.platform, fallback.conversation_id
        outbox_id = await self._store.post_digest(
            run_id=run.id,
            covered_until=now,
            now=now,
            platform=platform,
            channel=channel,
            body=Message(text).to_json(),
        )
        sent = await self._outbox.send(
            [Outbound(platform, channel, Message(text), outbox_id=outbox_id)]
        )
        if not sent:
            return (
                f"The digest of run {run.id} could not be posted to its channel yet (is it "
                "archived, or is civicbot not in it?). It is kept and will be sent again."
            )
        told = f"Digest of run {run.id} posted: {built.new_completed} new completed responses."
        uploads = self._adapters[platform].capabilities.file_upload
        files = await digest_files(survey, built, rows) if uploads else []
        for caption, attachment in files:
            try:
                await self._adapters[platform].send(
                    Outbound(platform, channel, Message(caption), attachment=attachment)
                )
            except Exception:
                log.exception("uploading %s for run %d failed", attachment.filename, run.id)
                told += f" {attachment.filename} could not be uploaded; try again later."
        return told
