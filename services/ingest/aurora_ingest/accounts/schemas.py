"""What ingest's part of a user's export holds: normalised records, never provider tokens."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from aurora_ingest.connections.models import Connection
from aurora_ingest.connections.schemas import ConnectionOut
from aurora_ingest.raw.models import RawPayload
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


class ExportedConnection(ConnectionOut):
    """A provider connection as the user sees it; its tokens are ours to guard, not data."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def of_connection(cls, connection: Connection) -> ExportedConnection:
        return cls(**ConnectionOut.of(connection).model_dump())


class ExportedRawPayload(BaseModel):
    """What a provider sent about the user, exactly: JSON as JSON, anything else base64."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    kind: str
    external_id: str | None
    sha256: str
    received_at: datetime
    content: Any = None
    content_base64: str | None = None

    @classmethod
    def of_payload(cls, payload: RawPayload) -> ExportedRawPayload:
        content: Any = None
        encoded: str | None = None
        try:
            content = json.loads(payload.body)
        except ValueError:
            encoded = base64.b64encode(payload.body).decode()
        return cls(
            provider=payload.provider,
            kind=payload.kind,
            external_id=payload.external_id,
            sha256=payload.sha256,
            received_at=payload.received_at,
            content=content,
            content_base64=encoded,
        )
