"""The upload job of kind "apple_health": the upload API stores the file, this imports it.

Job shape (uploads/): provider "upload", kind "apple_health", key = the upload id;
the upload row names the stored file (`stored_as`) and carries status and progress
(`bytes_done` / `bytes_total`), which are written in their own short transactions
while the import's single transaction runs. A cancelled upload (status set by the
API) stops the import at its next checkpoint, and the import rolls back whole.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aurora_ingest.apple.errors import ExportError, ImportCancelled
from aurora_ingest.apple.service import Progress, import_export
from aurora_ingest.jobs.runner import JobHandler
from aurora_ingest.jobs.service import Job, JobCancelled
from aurora_ingest.uploads import repository, storage
from aurora_ingest.uploads.closing import finish_upload, upload_id_of
from aurora_ingest.uploads.models import FINISHED_STATES
from aurora_ingest.uploads.settings import UploadSettings, get_upload_settings

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.apple")
KIND = "apple_health"


async def import_upload(kit: ProviderKit, job: Job, settings: UploadSettings) -> None:
    upload_id = upload_id_of(job)
    async with kit.sessions() as session, session.begin():
        upload = await repository.locked(session, upload_id)
        if upload is None:
            raise JobCancelled("the upload no longer exists")
        if upload.status in FINISHED_STATES or upload.stored_as is None:
            raise JobCancelled(f"the upload is {upload.status}")
        upload.status = "processing"
        upload.updated_at = kit.clock()
        user_id, path = upload.user_id, storage.path_of(settings, upload.stored_as)

    async def progress(step: Progress) -> None:
        async with kit.sessions() as session, session.begin():
            row = await repository.locked(session, upload_id)
            if row is not None and row.status == "processing":
                row.bytes_total = max(step.bytes_total, step.bytes_parsed)
                row.bytes_done = step.bytes_parsed
                row.records = dict(step.records)
                row.workouts = step.workouts
                row.updated_at = kit.clock()

    async def cancelled() -> bool:
        async with kit.sessions() as session:
            row = await repository.owned(session, user_id=user_id, upload_id=upload_id)
            return row is None or row.status != "processing"

    try:
        summary = await import_export(
            kit.sessions,
            user_id=user_id,
            path=path,
            progress=progress,
            cancelled=cancelled,
            upload_id=upload_id,
        )
    except ImportCancelled:
        await finish_upload(kit, upload_id, settings, status="cancelled", error=None)
        return
    except ExportError as exc:
        await finish_upload(kit, upload_id, settings, status="failed", error=exc.detail)
        return
    log.info("apple health export imported", extra={"upload_id": str(upload_id), **summary.records})
    await finish_upload(kit, upload_id, settings, status="done", error=None)


def handlers(settings: UploadSettings | None = None) -> dict[str, JobHandler]:
    async def run(kit: ProviderKit, job: Job) -> None:
        await import_upload(kit, job, settings or get_upload_settings())

    return {KIND: run}


# Merged by the lead into the "upload" provider's handlers (jobs.runner.Handlers).
HANDLERS: dict[str, JobHandler] = handlers()
