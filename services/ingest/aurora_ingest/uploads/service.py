"""Accepting uploads, showing their progress, cancelling, erasing and exporting them.

An upload is judged as far as is cheap before it is accepted, so the common
mistakes are answered in the request: an empty body, a single FIT file that
does not decode or is not an activity (422 with the decoder's reason), a zip
whose directory is unreadable, bombed or oversized. The import itself (every
file, every workout) is the job's (uploads/jobs.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.jobs.models import ProviderJob
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.uploads import repository, storage
from aurora_ingest.uploads.fitimport import FileRejectedError, workouts_in
from aurora_ingest.uploads.models import FINISHED_STATES, Upload, UploadFile
from aurora_ingest.uploads.schemas import ExportedUpload
from aurora_ingest.uploads.settings import UploadSettings, get_upload_settings
from aurora_ingest.uploads.storage import Received
from aurora_ingest.uploads.zipsafe import ZipRefusedError, open_archive
from aurora_shared.errors import NotFoundError, ProblemError

JOB_PROVIDER = "upload"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def container_of(received: Received) -> str:
    """What the bytes are, whatever the file is called: a zip by its magic, else FIT."""
    if received.size == 0:
        raise ProblemError(422, "the file is empty")
    return "zip" if received.head.startswith(ZIP_MAGICS) else "fit"


def _judge_fit(path: Path, sha256: str) -> None:
    workouts_in(path.read_bytes(), sha256)


def _count_zip(path: Path, max_entries: int) -> int:
    with path.open("rb") as file:
        archive, entries = open_archive(file, max_entries=max_entries)
        archive.close()
    return len(entries)


def _looks_like_xml(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


async def precheck(
    received: Received, settings: UploadSettings, kind: str = "fit"
) -> tuple[str, int]:
    """(container, files) of an acceptable upload, else the 422 saying why not."""
    container = container_of(received)
    path = storage.path_of(settings, received.stored_as)
    if kind == "apple_health":
        # One export, whatever the archive holds; the import reads it safely and
        # reports what is wrong with it in the upload's status.
        if container == "fit" and not _looks_like_xml(received.head):
            raise ProblemError(
                422, "not an Apple Health export (export.zip or export.xml)", file=received.filename
            )
        return ("zip" if container == "zip" else "xml"), 1
    if container == "fit":
        if received.size <= settings.upload_sync_max_bytes:
            try:
                await asyncio.to_thread(_judge_fit, path, received.sha256)
            except FileRejectedError as exc:
                raise ProblemError(422, exc.reason, file=received.filename) from None
        return container, 1
    try:
        files = await asyncio.to_thread(_count_zip, path, settings.upload_zip_max_entries)
    except ZipRefusedError as exc:
        raise ProblemError(422, exc.reason, file=received.filename) from None
    if files == 0:
        raise ProblemError(422, "the archive holds no file", file=received.filename)
    return container, files


async def accept(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: str,
    received: Received,
    settings: UploadSettings,
) -> Upload:
    """The upload row and its job, in the request's transaction (they commit together)."""
    container, files = await precheck(received, settings, kind)
    upload = Upload(
        id=uuid.uuid4(),
        user_id=user_id,
        kind=kind,
        container=container,
        filename=received.filename,
        stored_as=received.stored_as,
        sha256=received.sha256,
        status="queued",
        files_total=files,
        bytes_total=received.size,
    )
    session.add(upload)
    await session.flush()
    await enqueue(
        session,
        provider=JOB_PROVIDER,
        kind=kind,
        key=str(upload.id),
        user_id=user_id,
        connection_id=None,
        payload={"upload_id": str(upload.id)},
    )
    await session.refresh(upload)
    return upload


async def get(
    session: AsyncSession, *, user_id: uuid.UUID, upload_id: uuid.UUID
) -> tuple[Upload, Sequence[UploadFile]]:
    upload = await repository.owned(session, user_id=user_id, upload_id=upload_id)
    if upload is None:
        raise NotFoundError("upload")
    return upload, await repository.files_of(session, upload_id)


async def page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    limit: int,
    before: datetime | None,
    before_id: uuid.UUID | None,
) -> Sequence[Upload]:
    return await repository.page(
        session, user_id=user_id, limit=limit, before=before, before_id=before_id
    )


async def cancel(
    session: AsyncSession, *, user_id: uuid.UUID, upload_id: uuid.UUID, settings: UploadSettings
) -> Upload:
    """Stops between two files: what was imported stays (each file is all or nothing)."""
    upload = await repository.owned(session, user_id=user_id, upload_id=upload_id, for_update=True)
    if upload is None:
        raise NotFoundError("upload")
    if upload.status in FINISHED_STATES:
        raise ProblemError(409, f"the upload is already {upload.status}")
    now = datetime.now(UTC)
    upload.status = "cancelled"
    upload.error = "cancelled by the user"
    upload.updated_at = now
    upload.finished_at = now
    result = await session.execute(
        update(ProviderJob)
        .where(
            ProviderJob.provider == JOB_PROVIDER,
            ProviderJob.key == str(upload.id),
            ProviderJob.status == "pending",
        )
        .values(status="cancelled", last_error="upload cancelled", updated_at=now)
    )
    if int(result.rowcount):  # type: ignore[attr-defined]
        # No job will ever open the file; a running one deletes it when it stops.
        await asyncio.to_thread(storage.remove_stored, settings, upload.stored_as)
        upload.stored_as = None
    await session.flush()
    return upload


async def purge_user_uploads(
    session: AsyncSession, user_id: uuid.UUID, settings: UploadSettings | None = None
) -> dict[str, int]:
    """Erasure (user.purged): the rows, and every stored body in the user's directory."""
    erased = await repository.erase_user(session, user_id)
    await asyncio.to_thread(storage.purge_user_files, settings or get_upload_settings(), user_id)
    return erased


async def exported_uploads(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedUpload]:
    for upload in await repository.all_uploads(session, user_id):
        files = list(await repository.files_of(session, upload.id))
        detail = ExportedUpload.of_upload(upload, files)
        yield detail
