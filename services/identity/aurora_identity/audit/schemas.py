"""What GET /audit answers, and the payload of an `audit.recorded` event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_email: str | None
    actor_role: str
    action: str
    subject_user_id: uuid.UUID | None
    subject_email: str | None
    resource: str | None
    details: dict[str, Any]
    request_id: str | None
    service: str
    redacted: bool


class AuditPageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[AuditEntryOut]
    # Pass as `cursor` to get the next (older) page; null on the last page.
    next_cursor: int | None


class AuditRecordedIn(BaseModel):
    """Payload of `audit.recorded` from any service; newer producers may add fields."""

    model_config = ConfigDict(extra="ignore")

    actor_id: uuid.UUID | None = None
    actor_role: str = Field("system", min_length=1, max_length=50)
    action: str = Field(min_length=1, max_length=100)
    subject_user_id: uuid.UUID | None = None
    resource: str | None = Field(None, max_length=500)
    details: dict[str, Any] = Field(default_factory=dict)
