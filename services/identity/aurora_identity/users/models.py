"""The `users` table: one row per account, soft-deleted before it is purged."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base

ROLES = ("athlete", "coach", "admin")
SEXES = ("female", "male", "other")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('athlete', 'coach', 'admin')", name="role"),
        # Uniqueness is on the stored form, so the stored form must be the normal one.
        CheckConstraint("email = lower(btrim(email))", name="email_normalised"),
        CheckConstraint("sex IN ('female', 'male', 'other')", name="sex"),
        # The hourly purge looks only at soft-deleted rows.
        Index("ix_users_deleted_at", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'athlete'"))
    display_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Profile (revision 0004). Sex is asked only because training-load formulas (TRIMP)
    # weight heart rate differently by it; the time zone is an IANA name.
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str | None] = mapped_column(Text, nullable=True)
    time_zone: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An admin's suspension: like a soft delete for sign-in and tokens, but never purged.
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
