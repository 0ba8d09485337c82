"""`import_export`: one Apple Health export into samples, records and events.

The parse runs in a worker thread (expat and the mapping are CPU work; a
multi-GB file must not block the event loop) and hands batches over a bounded
queue, so at most a few batches are in memory; the event loop COPYs them and
stores workouts while the thread parses the next ones.

The whole import is one transaction: a malformed element at the last byte, a
cancellation or a crash leaves nothing behind, and a re-import of the same
export finds every record unchanged (stable external ids) and emits nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_ingest.apple import loader
from aurora_ingest.apple.archive import ArchiveLimits, Export, open_export
from aurora_ingest.apple.errors import ImportCancelled
from aurora_ingest.apple.mapping import Normaliser, WorkoutDraft
from aurora_ingest.apple.models import AppleImport
from aurora_ingest.apple.parser import Limits, read_items

SKIP = frozenset({"HeartRateVariabilityMetadataList"})
BATCH_ROWS = 50_000
QUEUE_BATCHES = 4
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Progress:
    bytes_parsed: int
    bytes_total: int
    records: dict[str, int]


@dataclass(frozen=True)
class ImportSummary:
    import_id: uuid.UUID
    bytes_parsed: int
    records: dict[str, int]
    skipped: dict[str, int]
    samples: int
    workouts: int
    health_records: int
    seconds: float


@dataclass
class _Batch:
    bytes_parsed: int
    rows: bytes
    samples: int
    workouts: list[WorkoutDraft]
    records: dict[str, int]


@dataclass
class _Done:
    normaliser: Normaliser
    bytes_parsed: int


@dataclass
class _Failed:
    error: BaseException


_Message = _Batch | _Done | _Failed


@dataclass
class _Parse:
    """The worker thread's side: parse, normalise, ship batches, stop when told."""

    export: Export
    normaliser: Normaliser
    limits: Limits
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[_Message]
    stop: threading.Event = field(default_factory=threading.Event)

    def _send(self, message: _Message) -> None:
        if not self.stop.is_set():
            asyncio.run_coroutine_threadsafe(self.queue.put(message), self.loop).result()

    def _ship(self, bytes_parsed: int) -> None:
        norm = self.normaliser
        rows, norm.rows = norm.rows, []
        workouts, norm.workouts = norm.workouts, []
        self._send(
            _Batch(bytes_parsed, "".join(rows).encode(), len(rows), workouts, dict(norm.counts))
        )

    def run(self) -> None:
        try:
            parsed = 0
            norm = self.normaliser
            for parsed, items in read_items(self.export.xml, skip=SKIP, limits=self.limits):
                if self.stop.is_set():
                    return
                norm.feed(items)
                if len(norm.rows) >= BATCH_ROWS or norm.workouts:
                    self._ship(parsed)
            self._ship(parsed)
            self._send(_Done(norm, parsed))
        except BaseException as exc:  # handed to the event loop, which re-raises it
            self._send(_Failed(exc))


async def _consume(
    session: AsyncSession,
    parse: _Parse,
    *,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    progress: Callable[[Progress], Awaitable[None]],
    cancelled: Callable[[], Awaitable[bool]],
) -> tuple[_Done, int, int]:
    samples = workouts = 0
    last_report = 0.0
    while True:
        message = await parse.queue.get()
        if isinstance(message, _Failed):
            raise message.error
        if isinstance(message, _Done):
            return message, samples, workouts
        await loader.copy_samples(session, message.rows)
        samples += message.samples
        if message.workouts:
            workouts += await loader.store_workouts(
                session,
                user_id=user_id,
                import_id=import_id,
                drafts=message.workouts,
                route_bytes=parse.export.route,
            )
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_S:
            last_report = now
            if await cancelled():
                raise ImportCancelled
            await progress(
                Progress(message.bytes_parsed, parse.export.total_bytes, message.records)
            )


async def import_export(
    sessions: async_sessionmaker[AsyncSession],
    *,
    user_id: uuid.UUID,
    path: Path,
    progress: Callable[[Progress], Awaitable[None]],
    cancelled: Callable[[], Awaitable[bool]],
    upload_id: uuid.UUID | None = None,
    archive_limits: ArchiveLimits | None = None,
    xml_limits: Limits | None = None,
) -> ImportSummary:
    """Import export.zip or export.xml at `path` for `user_id`, all or nothing.

    Raises ExportError (422/413 problem) for a file that is unsafe or malformed,
    ImportCancelled when `cancelled()` said so; in both cases nothing is stored.
    """
    started = time.monotonic()
    import_id = uuid.uuid4()
    loop = asyncio.get_running_loop()
    with open_export(path, archive_limits) as export:
        parse = _Parse(
            export,
            Normaliser(user_id, import_id),
            xml_limits or Limits(),
            loop,
            asyncio.Queue(QUEUE_BATCHES),
        )
        worker = threading.Thread(target=parse.run, name="apple-health-parse", daemon=True)
        async with sessions() as session, session.begin():
            session.add(AppleImport(id=import_id, user_id=user_id, upload_id=upload_id))
            await session.flush()
            worker.start()
            try:
                done, samples, workouts = await _consume(
                    session,
                    parse,
                    user_id=user_id,
                    import_id=import_id,
                    progress=progress,
                    cancelled=cancelled,
                )
            finally:
                parse.stop.set()
                while not parse.queue.empty():  # unblock a thread waiting to put
                    parse.queue.get_nowait()
                await asyncio.to_thread(worker.join)
            health = done.normaliser.health.records()
            health_count = await loader.store_health_records(
                session, user_id=user_id, records=health
            )
            if await cancelled():
                raise ImportCancelled
            norm = done.normaliser
            summary = ImportSummary(
                import_id=import_id,
                bytes_parsed=done.bytes_parsed,
                records=dict(sorted(norm.counts.items())),
                skipped=dict(sorted(norm.skipped.items())),
                samples=samples,
                workouts=workouts,
                health_records=health_count,
                seconds=round(time.monotonic() - started, 3),
            )
            await loader.publish(
                session,
                user_id=user_id,
                import_id=import_id,
                bytes_parsed=done.bytes_parsed,
                summary=_as_json(summary),
            )
    await progress(Progress(summary.bytes_parsed, export.total_bytes, summary.records))
    return summary


def _as_json(summary: ImportSummary) -> dict[str, Any]:
    return {
        "bytes_parsed": summary.bytes_parsed,
        "records": summary.records,
        "skipped": summary.skipped,
        "samples": summary.samples,
        "workouts": summary.workouts,
        "health_records": summary.health_records,
    }
