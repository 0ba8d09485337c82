"""The `login_throttle` table: failure counts per account key, never the address itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    # sha256 hex of the normalised email (see rules.email_key).
    email_key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    blocks: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
