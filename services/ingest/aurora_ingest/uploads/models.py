"""`uploads` and `upload_files`: what a user sent, and what became of each file in it.

Per-file results are rows, not a JSON list on the upload: a bulk export holds
thousands of files, and each file's result is written in that file's own
transaction (with its records), so a list rewritten per file would grow
quadratically. Results are also the resume point: a job restarted after a crash
skips every position that already has a result.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_ingest.db import Base

UPLOAD_KINDS = ("fit", "apple_health")
UPLOAD_STATES = ("queued", "processing", "done", "failed", "cancelled")
FINISHED_STATES = ("done", "failed", "cancelled")
FILE_RESULTS = ("imported", "duplicate", "rejected", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint(_in("status", UPLOAD_STATES), name="status"),
        CheckConstraint(
            "files_done >= 0 AND files_done <= files_total AND bytes_done >= 0",
            name="progress",
        ),
        Index("ix_uploads_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # What the files are ("fit"); another importer (Apple Health) adds its own kind.
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    # "fit" or "zip": how the stored body is read.
    container: Mapped[str] = mapped_column(Text, nullable=False)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    # The body on disk, relative to the upload directory; null once deleted.
    stored_as: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'queued'"))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    files_total: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    files_done: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    bytes_total: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    bytes_done: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    workouts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    # Elements read so far by type (Apple Health: "HKQuantityTypeIdentifierHeartRate": n).
    records: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UploadFile(Base):
    __tablename__ = "upload_files"
    __table_args__ = (CheckConstraint(_in("result", FILE_RESULTS), name="result"),)

    upload_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The file's place in the upload (0 for a single file, the zip entry's index).
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    record_ids: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
