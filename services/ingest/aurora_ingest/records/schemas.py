"""What the records endpoints answer: normalised fields only, never a provider's raw payload."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from aurora_ingest.records.models import Record

MetricValue = float | int | str | bool | None


class RecordOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    kind: str
    source: str
    origin_device: str | None
    external_id: str
    sport: str | None
    date: dt.date | None = None
    start: datetime
    end: datetime | None
    duration_s: float | None
    tz_offset_min: int | None
    metrics: dict[str, MetricValue]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        return cls(
            id=record.id,
            kind=record.kind,
            source=record.source,
            origin_device=record.origin_device,
            external_id=record.external_id,
            sport=record.sport,
            date=record.local_date,
            start=record.start_at,
            end=record.end_at,
            duration_s=record.duration_s,
            tz_offset_min=record.tz_offset_min,
            metrics=record.metrics,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class RecordDetail(RecordOut):
    """One record on its own page: the source's details, and its streams when asked."""

    model_config = ConfigDict(extra="forbid")

    details: dict[str, Any]
    samples: dict[str, list[float | None]] | None

    @classmethod
    def of_record(cls, record: Record, *, with_samples: bool) -> RecordDetail:
        return cls(
            **RecordOut.of(record).model_dump(),
            details=record.details,
            samples=record.samples if with_samples else None,
        )


class RecordPage(BaseModel):
    """`next_before` / `next_before_id` fetch the following page; null on the last one."""

    model_config = ConfigDict(extra="forbid")

    items: list[RecordOut]
    next_before: datetime | None
    next_before_id: uuid.UUID | None
