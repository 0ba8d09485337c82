"""The event envelope of DESIGN.md §2, identical for every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aurora_shared.logging import request_id_var


class Envelope(BaseModel):
    # Unknown top-level fields are kept: newer producers may add fields additively.
    model_config = ConfigDict(extra="allow", frozen=True)

    id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(1, ge=1)
    occurred_at: datetime
    producer: str = Field(min_length=1, max_length=50)
    user_id: uuid.UUID | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    # Not in the minimal envelope of DESIGN.md: the request id that caused the
    # event, so one request can be followed through every service's logs.
    request_id: str | None = None


def new_event(
    event_type: str,
    *,
    producer: str,
    user_id: uuid.UUID | None,
    payload: dict[str, Any],
    version: int = 1,
    occurred_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        version=version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        user_id=user_id,
        payload=payload,
        request_id=request_id_var.get(),
    )
