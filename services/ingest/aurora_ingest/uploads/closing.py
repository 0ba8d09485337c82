"""The two ends every upload job shares, whatever the kind it imports (FIT, Apple Health).

The upload row is the job's state: the job finds it from its key, and on its way
out records the final status and deletes the stored body, whichever importer ran.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from aurora_ingest.jobs.service import Job, JobCancelled
from aurora_ingest.uploads import repository, storage
from aurora_ingest.uploads.models import FINISHED_STATES
from aurora_ingest.uploads.settings import UploadSettings

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit


def upload_id_of(job: Job) -> uuid.UUID:
    try:
        return uuid.UUID(job.key)
    except ValueError:
        raise JobCancelled(f"upload job {job.key!r} names no upload") from None


async def finish_upload(
    kit: ProviderKit,
    upload_id: uuid.UUID,
    settings: UploadSettings,
    *,
    status: str,
    error: str | None,
) -> None:
    """Final status (unless the API already ended it: a cancel), then the body is gone."""
    async with kit.sessions() as session, session.begin():
        upload = await repository.locked(session, upload_id)
        if upload is None:
            return
        stored_as, upload.stored_as = upload.stored_as, None
        if upload.status not in FINISHED_STATES:
            upload.status = status
            upload.error = error
            if status == "done":
                upload.bytes_done = upload.bytes_total
            upload.updated_at = upload.finished_at = kit.clock()
    await asyncio.to_thread(storage.remove_stored, settings, stored_as)
