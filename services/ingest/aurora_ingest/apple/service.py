"""`import_export`: one Apple Health export into samples, records and events.

A child process (parse_process) opens, parses and normalises the export and
hands batches over a pipe; this side COPYs them and stores workouts while the
child parses the next ones, so the two halves run on two cores instead of
taking turns on one GIL (bench/results/apple_health.md).

The whole import is one transaction: a malformed element at the last byte, a
cancellation or a crash leaves nothing behind, and a re-import of the same
export finds every record unchanged (stable external ids) and emits nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_ingest.apple import loader
from aurora_ingest.apple.archive import ArchiveLimits
from aurora_ingest.apple.errors import ImportCancelled
from aurora_ingest.apple.models import AppleImport
from aurora_ingest.apple.parse_process import (
    SKIP,
    Batch,
    Done,
    Opened,
    ParseJob,
    ParseProcess,
)
from aurora_ingest.apple.parser import Limits

__all__ = ["SKIP", "ImportSummary", "Progress", "import_export"]
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Progress:
    bytes_parsed: int
    bytes_total: int
    records: dict[str, int]
    workouts: int = 0


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
    # The parser child's own peak: the import's memory is this plus the caller's.
    parser_peak_rss_mb: float = 0.0


async def _consume(
    session: AsyncSession,
    parse: ParseProcess,
    *,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    progress: Callable[[Progress], Awaitable[None]],
    cancelled: Callable[[], Awaitable[bool]],
) -> tuple[Done, int, int, int]:
    """(the child's last message, total bytes, samples, workouts), batch after batch."""
    samples = workouts = total_bytes = 0
    last_report = 0.0
    while True:
        message = await parse.receive()
        if isinstance(message, Opened):
            total_bytes = message.total_bytes
            continue
        if isinstance(message, Done):
            return message, total_bytes, samples, workouts
        assert isinstance(message, Batch)
        await loader.copy_samples(session, message.rows)
        samples += message.samples
        if message.workouts:
            workouts += await loader.store_workouts(
                session, user_id=user_id, import_id=import_id, drafts=message.workouts
            )
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_S:
            last_report = now
            if await cancelled():
                raise ImportCancelled
            await progress(Progress(message.bytes_parsed, total_bytes, message.records, workouts))


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
    async with sessions() as session, session.begin():
        session.add(AppleImport(id=import_id, user_id=user_id, upload_id=upload_id))
        await session.flush()
        job = ParseJob(
            path, user_id, import_id, archive_limits or ArchiveLimits(), xml_limits or Limits()
        )
        parse = ParseProcess(job)
        try:
            done, total_bytes, samples, workouts = await _consume(
                session,
                parse,
                user_id=user_id,
                import_id=import_id,
                progress=progress,
                cancelled=cancelled,
            )
        finally:
            await parse.stop()
        health_count = await loader.store_health_records(
            session, user_id=user_id, records=done.health
        )
        if await cancelled():
            raise ImportCancelled
        summary = ImportSummary(
            import_id=import_id,
            bytes_parsed=done.bytes_parsed,
            records=dict(sorted(done.records.items())),
            skipped=dict(sorted(done.skipped.items())),
            samples=samples,
            workouts=workouts,
            health_records=health_count,
            seconds=round(time.monotonic() - started, 3),
            parser_peak_rss_mb=done.peak_rss_mb,
        )
        await loader.publish(
            session,
            user_id=user_id,
            import_id=import_id,
            bytes_parsed=done.bytes_parsed,
            summary=_as_json(summary),
        )
    await progress(Progress(summary.bytes_parsed, total_bytes, summary.records, summary.workouts))
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
