"""What ingest's part of a user's export holds: normalised records, never provider tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from aurora_ingest.records.models import Record
from aurora_ingest.records.schemas import RecordOut


class ExportedRecord(RecordOut):
    """A record as the API shows it, plus its removal time: removed records are data too."""

    model_config = ConfigDict(extra="forbid")

    revision: int
    deleted_at: datetime | None

    @classmethod
    def of_record(cls, record: Record) -> ExportedRecord:
        return cls(
            **RecordOut.of(record).model_dump(),
            revision=record.revision,
            deleted_at=record.deleted_at,
        )
