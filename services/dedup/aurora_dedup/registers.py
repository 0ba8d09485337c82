"""A last-writer-wins register per source record: what workouts and health records share.

Ingest publishes each of its records as a series of `*.ingested` and `*.removed`
events; dedup keeps one row per record whose state is that of the newest event
seen. Events are compared by their version: ingest's per-record revision first
(bumped under a row lock, so it holds even when producers' clocks disagree),
then occurred_at and the event id, which order producers without one. A removal
turns the row into a tombstone that keeps only identity and version, so a late,
older ingest cannot bring it back. Since every view dedup derives is a function
of the set of active records, the final state is the same for every arrival
order of one user's events (checklist A12).

The timeline (workouts) and health (sleep, recovery, daily) registers differ
only in their data columns and in what they re-resolve; both take an event
through `claim` and stamp it with `Version` through `SourceRegister.stamp`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    Text,
    UniqueConstraint,
    and_,
    any_,
    bindparam,
    false,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.db import Base
from aurora_dedup.resolution.priority import Source
from aurora_shared.accounts import erased_digest
from aurora_shared.bus.envelope import Envelope

TIMESTAMP: Final = DateTime(timezone=True)
REMOVED_REASON: Final = "removed by its source"

# (ingest's per-record revision, occurred_at, event id): the newest wins.
Version = tuple[int, datetime, uuid.UUID]


class ContractViolationError(ValueError):
    """An event that cannot be right; it ends in the dead-letter stream for an operator."""


class SourceRegister(Base):
    """The columns every source record has: ingest's identity, when and where it was
    recorded, whether its source removed it, and the version of its current state.

    Abstract: each domain's table gets its own copy of these columns.
    """

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    source: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    origin_device: Mapped[str | None] = mapped_column(Text)
    start_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    end_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    tz_offset_min: Mapped[int | None] = mapped_column(Integer)
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_revision: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    last_event_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    last_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # Why the last resolution placed the record so (REMOVED_REASON on a tombstone).
    decision_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def version(self) -> Version:
        return (self.last_revision, self.last_event_at, self.last_event_id)

    def stamp(self, version: Version) -> None:
        self.last_revision, self.last_event_at, self.last_event_id = version

    def bury(self, version: Version) -> None:
        """The tombstone's part of these columns; each domain clears its own data too."""
        self.origin_device = None
        self.start_at = None
        self.end_at = None
        self.tz_offset_min = None
        self.removed = True
        self.decision_reason = REMOVED_REASON
        self.stamp(version)


def ingest_key(table: str) -> UniqueConstraint:
    """Ingest's key: a re-delivered record updates its row, never duplicates it."""
    return UniqueConstraint(
        "user_id", "source", "external_id", name=f"uq_{table}_user_source_external_id"
    )


class RecordEvent(BaseModel):
    """What every record event's payload names, and all a `*.removed` one carries
    (ingest's records/events.py).

    Inbound models ignore fields they do not know, so ingest can evolve
    additively without a lock-step release.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    record_id: uuid.UUID
    # Ingest's per-record counter, bumped under a row lock: it orders one record's
    # events even when producers' clocks disagree. Absent from older producers.
    revision: int = Field(0, ge=0)
    source: Source
    external_id: str = Field(min_length=1, max_length=200)


class RecordIngested(RecordEvent):
    """What every `*.ingested` payload carries besides its domain's fields."""

    origin_device: str | None = Field(None, max_length=200)
    start: AwareDatetime
    end: AwareDatetime | None = None
    tz_offset_min: int | None = Field(None, ge=-24 * 60, le=24 * 60)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self


R = TypeVar("R", bound=SourceRegister)
P = TypeVar("P", bound=RecordEvent)


@dataclass(frozen=True, slots=True)
class Claim(Generic[P, R]):
    """An event that changes its register: the payload, the row it writes (already in
    the session when new) and the version to stamp it with."""

    payload: P
    row: R
    is_new: bool
    version: Version


def user_of(event: Envelope) -> uuid.UUID:
    if event.user_id is None:
        raise ContractViolationError(f"{event.type} {event.id} carries no user_id")
    return event.user_id


def version_of(event: Envelope, revision: int) -> Version:
    at = event.occurred_at
    return (revision, at if at.tzinfo is not None else at.replace(tzinfo=UTC), event.id)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise one user's resolutions across worker processes until the transaction ends.

    Two workers resolving overlapping windows of one user from stale snapshots
    could each write half of a grouping; with the lock, each sees the other's result.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"dedup:user:{user_id}"},
    )


async def _user_gone(
    session: AsyncSession, user_id: uuid.UUID, event: Envelope, log: logging.Logger
) -> bool:
    """A deleted or erased user's events are dropped: the service no longer serves them.

    Asked under the user's lock, which a purge holds too, so an event cannot
    slip in between a purge and its commit and bring the user's rows back.
    """
    if not await MIRROR.is_blocked(session, user_id):
        return False
    log.info(
        "event of a deleted user dropped",
        extra={"event_id": str(event.id), "event_type": event.type},
    )
    return True


def either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


async def _existing(
    session: AsyncSession,
    model: type[R],
    user_id: uuid.UUID,
    key: RecordEvent,
    fixed: Mapping[str, object],
) -> R | None:
    """The record's row, locked; a key that belongs to another record, or a row whose
    owner, key or `fixed` columns differ from the event's, is a contract violation.

    One round trip for both questions: is the record new, and is its key taken.
    """
    stmt = (
        select(model)
        .where(
            or_(
                model.id == key.record_id,
                and_(
                    model.user_id == user_id,
                    model.source == key.source,
                    model.external_id == key.external_id,
                ),
            )
        )
        .with_for_update()
    )
    found = (await session.execute(stmt)).scalars().all()
    row = next((r for r in found if r.id == key.record_id), None)
    clash = next((r for r in found if r.id != key.record_id), None)
    if clash is not None:
        raise ContractViolationError(
            f"({key.source}, {key.external_id}) already belongs to record {clash.id},"
            f" not {key.record_id}"
        )
    if row is not None and (
        (row.user_id, row.source, row.external_id) != (user_id, key.source, key.external_id)
        or any(getattr(row, name) != value for name, value in fixed.items())
    ):
        what = either(["owner", "key", *fixed])
        raise ContractViolationError(f"record {key.record_id} changed its {what}")
    return row


def is_stale(row: SourceRegister, version: Version, event: Envelope, log: logging.Logger) -> bool:
    stale = row.version >= version
    if stale:
        log.info(
            "older event ignored",
            extra={"event_id": str(event.id), "event_type": event.type, "record_id": str(row.id)},
        )
    return stale


async def claim(
    session: AsyncSession,
    model: type[R],
    event: Envelope,
    parse: Callable[[Envelope], P],
    *,
    log: logging.Logger,
    fixed: tuple[str, ...] = (),
    fresh: Mapping[str, object] | None = None,
) -> Claim[P, R] | None:
    """Take an event to its register under the user's lock; None when it changes
    nothing (its user is gone, or a newer event was applied).

    `parse` validates the event's payload. `fixed` names the payload fields an event may
    never change besides owner and key (e.g. a health record's kind); a new
    register gets the key, those fields and the `fresh` values.
    """
    user_id = user_of(event)
    payload = parse(event)
    version = version_of(event, payload.revision)
    await lock_user(session, user_id)
    if await _user_gone(session, user_id, event, log):
        return None
    fixed_values = {name: getattr(payload, name) for name in fixed}
    row = await _existing(session, model, user_id, payload, fixed_values)
    if row is None:
        row = model(
            id=payload.record_id,
            user_id=user_id,
            source=payload.source,
            external_id=payload.external_id,
            **fixed_values,
            **(fresh or {}),
        )
        session.add(row)
        return Claim(payload, row, True, version)
    if is_stale(row, version, event, log):
        return None
    return Claim(payload, row, False, version)


# -- a read batch at once ------------------------------------------------------------
# `claim`'s round trips for a whole batch (timeline/batch.py applies the rules).

_UUIDS = ARRAY(UUID(as_uuid=True))
_TEXTS = ARRAY(Text)
_LOCK_USERS = text(
    "SELECT pg_advisory_xact_lock(k) FROM ("
    " SELECT hashtextextended('dedup:user:' || u::text, 0) AS k"
    " FROM unnest(CAST(:users AS uuid[])) AS u ORDER BY k OFFSET 0) AS ordered"
)


async def lock_users(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> None:
    """`lock_user` for many users in one round trip. The locks are taken in one global
    order (the keys' hashes; OFFSET 0 keeps the sort below the lock calls), so two
    batches sharing users wait for each other instead of deadlocking."""
    users = sorted(set(user_ids))
    if users:
        await session.execute(_LOCK_USERS, {"users": users})


async def blocked_among(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """`MIRROR.is_blocked` for many users in one round trip."""
    users = set(user_ids)
    if not users:
        return set()
    blocked, erased = MIRROR.tables.blocked_users, MIRROR.tables.erased_users
    digests = {erased_digest(u): u for u in users}
    stmt = (
        select(blocked.c.user_id.label("user_id"), text("NULL AS digest"))
        .where(blocked.c.user_id == any_(bindparam("b_users", sorted(users), _UUIDS)))
        .union_all(
            select(text("NULL::uuid AS user_id"), erased.c.user_digest.label("digest")).where(
                erased.c.user_digest == any_(bindparam("b_digests", sorted(digests), _TEXTS))
            )
        )
    )
    gone: set[uuid.UUID] = set()
    for user_id, digest in await session.execute(stmt):
        gone.add(user_id if user_id is not None else digests[digest])
    return gone
