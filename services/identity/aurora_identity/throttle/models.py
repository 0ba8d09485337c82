"""`login_throttle`: failure counts per account key, never the address itself; and
`server_secrets`: the key of those digests when none is configured."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    # HMAC-SHA256 hex of the normalised email (see rules.email_key).
    email_key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    blocks: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))


class ServerSecret(Base):
    """Random secrets identity makes for itself, shared by every replica and kept across
    restarts. A configured secret (settings) takes precedence; this one only makes an
    unconfigured deployment as safe as the database that holds the counters."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
