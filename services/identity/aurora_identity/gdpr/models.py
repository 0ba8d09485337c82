"""The `export_requests` table: when each user last took an export (once per interval)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base


class ExportRequest(Base):
    __tablename__ = "export_requests"

    # One row per user, updated in place: the rule needs only the latest export, and
    # the conditional upsert on this key is what makes parallel requests take one slot.
    # No foreign key: the purge deletes it explicitly, like every other row of the user.
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
