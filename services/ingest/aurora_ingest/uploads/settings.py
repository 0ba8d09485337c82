"""Upload limits and storage (env prefix AURORA_INGEST_, like the rest of ingest's settings).

Kept apart from IngestSettings so the upload code can be configured and tested on
its own; the names are those IngestSettings would use, so moving them there later
changes no deployment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
# 32,767 archive entries x 65,536 nested entries fit a signed 32-bit position.
MAX_ENTRIES_LIMIT = 32_767


class UploadSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AURORA_INGEST_", extra="ignore", env_ignore_empty=True
    )

    # Where accepted bodies wait for the tasks process; the API and the tasks process
    # must see the same directory (one volume in compose). Files are deleted once imported.
    upload_dir: Path = Path(".aurora/uploads")
    # The whole request body (multipart framing included): 413 beyond it, checked on
    # Content-Length first, then on the bytes actually received.
    # Apple Health exports of several GB are normal; the gateway allows 10 GB too.
    upload_max_bytes: int = Field(10 * 1024 * MIB, ge=1024)
    # A single .fit up to this size is decoded in the request, so a broken or
    # non-activity file is answered with its 422 at once; larger ones are judged
    # by the job and reported in the upload's results.
    upload_sync_max_bytes: int = Field(16 * MIB, ge=0)
    # Zip archives: never trusted, whatever their directory declares. The entry cap
    # holds per archive (outer or nested) and for the files of the whole upload once
    # its nested archives are opened; at most MAX_ENTRIES_LIMIT, so a nested file's
    # position (uploads/zipwalk.py) fits the result table's integer column.
    upload_zip_max_entries: int = Field(20_000, ge=1, le=MAX_ENTRIES_LIMIT)
    upload_zip_max_entry_bytes: int = Field(64 * MIB, ge=1024)
    # Bytes actually read, outer entries, nested archives and their entries together.
    upload_zip_max_total_bytes: int = Field(8 * 1024 * MIB, ge=1024)
    upload_zip_max_ratio: int = Field(100, ge=2)
    # A .zip inside the upload's zip (Garmin Connect puts the activities in
    # DI-Connect-Uploaded-Files/UploadedFiles_*_Part*.zip) is opened one level deep.
    # Its own bytes are capped here; beyond the memory size it is spooled to an
    # unnamed temporary file in the user's upload directory.
    upload_zip_max_nested_bytes: int = Field(2 * 1024 * MIB, ge=1024)
    upload_zip_nested_memory_bytes: int = Field(8 * MIB, ge=0)
    # One run of the job stops after this long and re-queues itself, so a bulk export
    # never holds its job past the queue's lease (IngestSettings.jobs_lease_s).
    upload_job_slice_s: float = Field(60.0, gt=0, le=3600)


@lru_cache
def get_upload_settings() -> UploadSettings:
    return UploadSettings()


def upload_settings(request: Request) -> UploadSettings:
    """The app's upload settings (`app.state.upload_settings` when set, else the env's)."""
    configured = getattr(request.app.state, "upload_settings", None)
    if isinstance(configured, UploadSettings):
        return configured
    return get_upload_settings()
