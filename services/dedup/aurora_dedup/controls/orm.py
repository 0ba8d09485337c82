"""Tables of the athlete's controls: per-domain priority overrides and manual workout links.

A link is a decision, not a state: links are kept in the order they were made
(`seq`, drawn under the user's resolution lock, so it is that user's decision
order even when transactions started in another order), and for every pair of
records the latest link that names both wins. Deleting a link withdraws that
decision, so an older one about the same pair applies again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_dedup.db import Base

_TS = DateTime(timezone=True)


class PriorityOverride(Base):
    """The athlete's order for one domain; sources it leaves out keep their default."""

    __tablename__ = "priority_overrides"
    __table_args__ = (
        CheckConstraint("domain IN ('workouts', 'sleep', 'recovery')", name="known_domain"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    domain: Mapped[str] = mapped_column(Text, primary_key=True)
    # {source: priority}, only the sources the athlete set.
    priorities: Mapped[dict[str, int]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class WorkoutLink(Base):
    __tablename__ = "workout_links"
    __table_args__ = (
        CheckConstraint("relation IN ('same', 'apart')", name="known_relation"),
        CheckConstraint("cardinality(record_ids) >= 2", name="at_least_two_records"),
        CheckConstraint(
            "anchor_id IS NULL OR (relation = 'apart' AND anchor_id = ANY (record_ids))",
            name="anchor_splits_one_of_its_records",
        ),
        Index("ix_workout_links_user_seq", "user_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    relation: Mapped[str] = mapped_column(Text)
    # Sorted and distinct: a link names a set of the user's source records.
    record_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    # Set when one record was taken out of its session: the link then decides only
    # the pairs (anchor, other), and says nothing about the others among themselves.
    anchor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(_TS)
