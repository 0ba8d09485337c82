"""The upload job: import every file of an upload, one transaction per file.

Each file's raw copy, workouts (with their outbox events) and result row commit
together, so a file is imported entirely or not at all, and its result row is
the resume point: a job interrupted by a crash, a deploy or its own time slice
continues at the first file without a result. The upload row's counters move
in the same transactions, so progress is never ahead of what is stored.

Registered as HANDLERS["upload"] of the ingest tasks process (tasks.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from aurora_ingest.jobs.runner import JobHandler
from aurora_ingest.jobs.service import Job, JobCancelled, JobRescheduled
from aurora_ingest.raw.service import store_raw
from aurora_ingest.records.service import store_workout
from aurora_ingest.uploads import repository, storage
from aurora_ingest.uploads.closing import finish_upload, upload_id_of
from aurora_ingest.uploads.fitimport import (
    RAW_KIND,
    RAW_PROVIDER,
    SOURCE,
    FileRejectedError,
    sha256_of,
    workouts_in,
)
from aurora_ingest.uploads.jobstate import Outcome, Snapshot, UploadStopped
from aurora_ingest.uploads.models import FINISHED_STATES, UPLOAD_KINDS, Upload, UploadFile
from aurora_ingest.uploads.settings import UploadSettings, get_upload_settings
from aurora_ingest.uploads.zipsafe import ZipRefusedError, open_archive
from aurora_ingest.uploads.zipwalk import ZipWalk

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.uploads")

INTERNAL_REJECTION: Final = "the file could not be decoded (internal error)"


async def _start(kit: ProviderKit, upload_id: uuid.UUID, settings: UploadSettings) -> Snapshot:
    async with kit.sessions() as session, session.begin():
        upload = await repository.locked(session, upload_id)
        if upload is None:
            raise JobCancelled("the upload no longer exists")
        if upload.status in FINISHED_STATES:
            stored_as = upload.stored_as
            upload.stored_as = None
            snapshot = None
        else:
            upload.status = "processing"
            upload.updated_at = kit.clock()
            rows = (
                await session.execute(
                    select(UploadFile.position, UploadFile.size_bytes).where(
                        UploadFile.upload_id == upload_id
                    )
                )
            ).all()
            snapshot = Snapshot(
                id=upload.id,
                user_id=upload.user_id,
                container=upload.container,
                filename=upload.filename,
                stored_as=upload.stored_as,
                done=frozenset(r.position for r in rows),
                bytes_read=sum(r.size_bytes for r in rows),
                files_total=upload.files_total,
            )
    if snapshot is None:
        # Cancelled while queued or running: nothing more to import, the body can go.
        await asyncio.to_thread(storage.remove_stored, settings, stored_as)
        raise UploadStopped
    return snapshot


async def _judge(kit: ProviderKit, user_id: uuid.UUID, data: bytes) -> Outcome:
    sha = sha256_of(data)
    async with kit.sessions() as session:
        if await repository.already_imported(session, user_id=user_id, sha256=sha):
            return Outcome("duplicate", "already imported", sha)
    try:
        workouts = await asyncio.to_thread(workouts_in, data, sha)
    except FileRejectedError as exc:
        return Outcome("rejected", exc.reason, sha)
    except Exception:  # a decoder bug must cost one file, not the whole export
        log.exception("FIT import failed unexpectedly", extra={"sha256": sha})
        return Outcome("rejected", INTERNAL_REJECTION, sha)
    return Outcome("imported", None, sha, workouts)


async def _record(
    kit: ProviderKit,
    snap: Snapshot,
    *,
    position: int,
    name: str,
    size: int,
    progress_bytes: int,
    outcome: Outcome,
    data: bytes | None,
    files_total_delta: int = 0,
) -> None:
    """One file, all or nothing: raw copy, workouts, result row and progress together
    (`files_total_delta`: the files of a nested archive, counted with its first one)."""
    async with kit.sessions() as session, session.begin():
        upload = await repository.locked(session, snap.id)
        if upload is None or upload.status != "processing":
            raise UploadStopped
        record_ids: list[str] = []
        if outcome.workouts and data is not None:
            parent = outcome.workouts[0].fields.details.get("parent_activity")
            raw_id = await store_raw(
                session,
                user_id=snap.user_id,
                provider=RAW_PROVIDER,
                kind=RAW_KIND,
                external_id=parent if isinstance(parent, str) else None,
                body=data,
            )
            for workout in outcome.workouts:
                record_id = await store_workout(
                    session,
                    user_id=snap.user_id,
                    source=SOURCE,
                    external_id=workout.external_id,
                    fields=workout.fields,
                    raw_id=raw_id,
                )
                record_ids.append(str(record_id))
        await repository.add_result(
            session,
            {
                "upload_id": snap.id,
                "position": position,
                "user_id": snap.user_id,
                "name": name[:1024],
                "size_bytes": size,
                "sha256": outcome.sha256,
                "result": outcome.result,
                "reason": outcome.reason,
                "record_ids": record_ids,
            },
        )
        upload.files_total += files_total_delta
        upload.files_done += 1
        upload.bytes_done = min(upload.bytes_done + progress_bytes, upload.bytes_total)
        upload.workouts += len(record_ids)
        upload.updated_at = kit.clock()


async def _import_single(kit: ProviderKit, snap: Snapshot, settings: UploadSettings) -> None:
    if 0 in snap.done or snap.stored_as is None:
        return
    data = await asyncio.to_thread(storage.path_of(settings, snap.stored_as).read_bytes)
    outcome = await _judge(kit, snap.user_id, data)
    await _record(
        kit,
        snap,
        position=0,
        name=snap.filename,
        size=len(data),
        progress_bytes=len(data),
        outcome=outcome,
        data=data,
    )


async def _import_zip(
    kit: ProviderKit, snap: Snapshot, settings: UploadSettings, deadline: float
) -> None:
    if snap.stored_as is None:
        raise ZipRefusedError("the uploaded file is no longer stored")
    file = await asyncio.to_thread(storage.path_of(settings, snap.stored_as).open, "rb")
    try:
        archive, entries = await asyncio.to_thread(
            open_archive, file, max_entries=settings.upload_zip_max_entries
        )
        try:
            # The steps are looked up here, at run time, so tests can wrap them.
            walk = ZipWalk(kit, snap, settings, deadline, judge=_judge, record=_record)
            await walk.run(archive, entries)
        finally:
            archive.close()
    finally:
        file.close()


async def _finish(
    kit: ProviderKit, upload_id: uuid.UUID, settings: UploadSettings, error: str | None
) -> None:
    """Done (or failed with `error`); a single file's rejection fails its upload."""
    if error is None:
        async with kit.sessions() as session:
            error = await session.scalar(
                select(UploadFile.reason)
                .join(Upload, Upload.id == UploadFile.upload_id)
                .where(
                    UploadFile.upload_id == upload_id,
                    UploadFile.result == "rejected",
                    Upload.container == "fit",
                )
            )
    status = "failed" if error else "done"
    await finish_upload(kit, upload_id, settings, status=status, error=error)


async def process_upload(kit: ProviderKit, job: Job, settings: UploadSettings) -> None:
    upload_id = upload_id_of(job)
    try:
        snap = await _start(kit, upload_id, settings)
        deadline = time.monotonic() + settings.upload_job_slice_s
        if snap.container == "zip":
            await _import_zip(kit, snap, settings, deadline)
        else:
            await _import_single(kit, snap, settings)
    except UploadStopped:
        log.info("upload stopped before its end", extra={"upload_id": str(upload_id)})
        await _finish(kit, upload_id, settings, None)
        return
    except ZipRefusedError as exc:
        await _finish(kit, upload_id, settings, exc.reason)
        return
    except (JobRescheduled, JobCancelled):
        raise
    except Exception as exc:
        if job.attempts + 1 >= kit.settings.jobs_max_attempts:
            await _finish(kit, upload_id, settings, f"import failed: {type(exc).__name__}")
        raise
    await _finish(kit, upload_id, settings, None)


def handlers(settings: UploadSettings | None = None) -> dict[str, JobHandler]:
    """The job handlers per upload kind; settings from the environment unless given."""

    async def run(kit: ProviderKit, job: Job) -> None:
        await process_upload(kit, job, settings or get_upload_settings())

    return dict.fromkeys(UPLOAD_KINDS, run)


HANDLERS: dict[str, JobHandler] = handlers()
