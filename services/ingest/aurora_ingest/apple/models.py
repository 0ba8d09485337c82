"""`apple_imports` and `apple_samples`: the heart rate and vitals of Apple Health exports.

Samples are millions of rows per export, loaded with COPY; they are not
records (no event per sample). Every sample belongs to the import that loaded
it, and an import is one transaction: a failed or cancelled import leaves no
row. The newest completed import of a user replaces the samples of the older
ones, since every export is a full dump of the phone's HealthKit store.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_ingest.db import Base


class AppleImport(Base):
    __tablename__ = "apple_imports"
    __table_args__ = (Index("ix_apple_imports_user", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # The upload it came from, when it came through the upload API.
    upload_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    bytes_parsed: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    summary: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


# A Core table: rows are only ever written by COPY and read by range, never as objects.
APPLE_SAMPLES = Table(
    "apple_samples",
    Base.metadata,
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("import_id", UUID(as_uuid=True), nullable=False),
    # hr, resting_hr, hrv_sdnn, vo2max, respiratory_rate (apple.mapping.SAMPLE_TYPES)
    Column("kind", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("value", Float, nullable=False),
    # A workout's heart rate is a range read of one import; a superseded import's or an
    # erased user's samples are found by import id too (through apple_imports), so
    # no second index has to be maintained under a COPY of millions of rows.
    Index("ix_apple_samples_import_kind_start", "import_id", "kind", "start_at"),
)
