"""What the upload endpoints answer: progress and per-file results, never file contents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict

from aurora_ingest.uploads.models import Upload, UploadFile


class UploadFileOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int
    name: str
    size_bytes: int
    sha256: str | None
    # imported | duplicate (this user already imported these exact bytes) |
    # rejected (with the precise reason) | skipped (not a file of this upload's kind)
    result: str
    reason: str | None
    workouts: int
    record_ids: list[uuid.UUID]

    @classmethod
    def of(cls, row: UploadFile) -> UploadFileOut:
        ids = [uuid.UUID(str(i)) for i in row.record_ids]
        return cls(
            position=row.position,
            name=row.name,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            result=row.result,
            reason=row.reason,
            workouts=len(ids),
            record_ids=ids,
        )


class UploadOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    kind: str
    container: str
    filename: str
    sha256: str
    status: str
    error: str | None
    files_total: int
    files_done: int
    bytes_total: int
    bytes_done: int
    workouts: int
    # Apple Health: elements read so far, by type (progress while processing, totals after).
    records: dict[str, int]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, upload: Upload) -> UploadOut:
        return cls(
            id=upload.id,
            kind=upload.kind,
            container=upload.container,
            filename=upload.filename,
            sha256=upload.sha256,
            status=upload.status,
            error=upload.error,
            files_total=upload.files_total,
            files_done=upload.files_done,
            bytes_total=upload.bytes_total,
            bytes_done=upload.bytes_done,
            workouts=upload.workouts,
            records=dict(upload.records or {}),
            created_at=upload.created_at,
            updated_at=upload.updated_at,
            finished_at=upload.finished_at,
        )


class UploadDetail(UploadOut):
    files: list[UploadFileOut]

    @classmethod
    def of_upload(cls, upload: Upload, files: list[UploadFile]) -> Self:
        return cls(**UploadOut.of(upload).model_dump(), files=[UploadFileOut.of(f) for f in files])


class UploadPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[UploadOut]
    next_before: datetime | None
    next_before_id: uuid.UUID | None


class ExportedUpload(UploadDetail):
    """An upload in the user's export: its progress and results (the files' bytes
    are in the export's raw payloads)."""
