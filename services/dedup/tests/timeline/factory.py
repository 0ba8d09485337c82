"""Envelopes as ingest would publish them, and a view of dedup's resulting state.

The envelope, `apply` and the state readers serve the health tests too
(health/factory.py builds health records on them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.db import BUS, STREAM
from aurora_dedup.health import service as health_service
from aurora_dedup.registers import SourceRegister
from aurora_dedup.resolution.rules import Group, Overrides, WorkoutRecord, resolve
from aurora_dedup.timeline import service
from aurora_dedup.timeline.events import WorkoutIngested
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_dedup.timeline.resolver import rule_record
from aurora_shared.access import AUDIT_STREAM
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.envelope import Envelope

R = TypeVar("R", bound=SourceRegister)
T0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
EPOCH = datetime(2024, 6, 1, tzinfo=UTC)  # when ingest "published" event number 0


@dataclass
class Workout:
    """One source record as ingest knows it; `ingested`/`removed` make its events."""

    user_id: uuid.UUID
    source: str = "garmin"
    sport: str = "ride"
    start_min: float = 0
    minutes: float = 60
    has_end: bool = True
    device: str | None = None
    metrics: dict[str, Any] = field(default_factory=lambda: {"avg_hr": 140})
    record_id: uuid.UUID = field(default_factory=uuid.uuid4)
    external_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def payload(self) -> dict[str, Any]:
        start = T0 + timedelta(minutes=self.start_min)
        end = start + timedelta(minutes=self.minutes)
        return {
            "record_id": str(self.record_id),
            "source": self.source,
            "origin_device": self.device,
            "external_id": self.external_id,
            "sport": self.sport,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat() if self.has_end else None,
            "duration_s": self.minutes * 60.0,
            "tz_offset_min": 60,
            "metrics": self.metrics,
            "samples": None,
            "a_field_from_the_future": True,
        }

    def ingested(self, seq: int, *, revision: int | None = None, **changes: Any) -> Envelope:
        """Event number `seq`; ingest's revision follows it unless given."""
        payload = self.payload()
        if changes:
            payload = Workout(**{**self.__dict__, **changes}).payload()
        payload["revision"] = seq if revision is None else revision
        return envelope("workout.ingested", self.user_id, payload, seq)

    def removed(self, seq: int, *, revision: int | None = None) -> Envelope:
        payload = {
            "record_id": str(self.record_id),
            "revision": seq if revision is None else revision,
            "source": self.source,
            "external_id": self.external_id,
        }
        return envelope("workout.removed", self.user_id, payload, seq)


def one_session(user_id: uuid.UUID) -> tuple[Workout, Workout, Workout]:
    """One ride as three sources have it: a Garmin head unit, Strava's copy of that file
    (no end), and a WHOOP strap started two minutes later."""
    return (
        Workout(user_id, source="garmin", device="Garmin fenix 7"),
        Workout(user_id, source="strava", device="Garmin fenix 7", has_end=False),
        Workout(user_id, source="whoop", device="WHOOP 4.0", start_min=2, minutes=55),
    )


def garmin_and_whoop(user_id: uuid.UUID) -> tuple[Workout, Workout]:
    """One ride recorded by a Garmin Edge and by a WHOOP strap started three minutes later."""
    return (
        Workout(user_id, source="garmin", device="Garmin Edge 530"),
        Workout(user_id, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54),
    )


def rule_view(payload: dict[str, Any], user_id: uuid.UUID) -> WorkoutRecord:
    """The record the rules see for an ingest payload, converted as the service converts it."""
    p = WorkoutIngested.model_validate(payload)
    row = SourceRecord(
        id=p.record_id,
        user_id=user_id,
        source=p.source,
        external_id=p.external_id,
        origin_device=p.origin_device,
        sport=p.sport,
        start_at=p.start,
        end_at=p.end,
        span_end_at=p.end or p.start + timedelta(seconds=p.duration_s),
        duration_s=p.duration_s,
        tz_offset_min=p.tz_offset_min,
        metrics=dict(p.metrics),
    )
    return rule_record(row)


def expected_groups(
    workouts: list[Workout],
    priorities: dict[str, int] | None = None,
    overrides: Overrides | None = None,
) -> dict[uuid.UUID, Group]:
    """What the pure rules decide for these records: {primary record id: group}."""
    views = [rule_view(w.payload(), w.user_id) for w in workouts]
    args: dict[str, Any] = {}
    if priorities is not None:
        args["priorities"] = priorities
    if overrides is not None:
        args["overrides"] = overrides
    return {g.primary.record.id: g for g in resolve(views, **args)}


def envelope(event_type: str, user_id: uuid.UUID, payload: dict[str, Any], seq: int) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=EPOCH + timedelta(seconds=seq),
        producer="ingest",
        user_id=user_id,
        payload=payload,
    )


# Every handler of `ingest.records`, as the consumer runs them (consumers.py).
HANDLERS: dict[str, Handler] = {
    "workout.ingested": service.apply_ingested,
    "workout.removed": service.apply_removed,
    **health_service.handlers(),
}


async def apply(sessions: async_sessionmaker[AsyncSession], event: Envelope) -> None:
    """One workout or health event in its own transaction, as the bus consumer runs it."""
    async with sessions() as session, session.begin():
        await HANDLERS[event.type](session, event)


async def ingest_all(
    sessions: async_sessionmaker[AsyncSession], *workouts: Workout, first: int = 1
) -> None:
    """Each workout's ingest in turn, its event number counting from `first`."""
    for seq, workout in enumerate(workouts, start=first):
        await apply(sessions, workout.ingested(seq))


async def registers_of(
    sessions: async_sessionmaker[AsyncSession], model: type[R]
) -> dict[uuid.UUID, R]:
    """Every row of a register table, by record id."""
    async with sessions() as session:
        rows = (await session.execute(select(model))).scalars().all()
        return {r.id: r for r in rows}


async def records(sessions: async_sessionmaker[AsyncSession]) -> dict[uuid.UUID, SourceRecord]:
    return await registers_of(sessions, SourceRecord)


async def canonicals(
    sessions: async_sessionmaker[AsyncSession],
) -> dict[uuid.UUID, CanonicalWorkout]:
    async with sessions() as session:
        rows = (await session.execute(select(CanonicalWorkout))).scalars().all()
        return {r.id: r for r in rows}


async def queued(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, Envelope]]:
    """Every event dedup queued, with its stream, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(BUS.outbox.c.stream, BUS.outbox.c.envelope).order_by(BUS.outbox.c.id)
        )
        return [(stream, Envelope.model_validate_json(raw)) for stream, raw in rows]


async def outbox(
    sessions: async_sessionmaker[AsyncSession], stream: str = STREAM
) -> list[Envelope]:
    """The events dedup queued on `stream`, oldest first."""
    return [event for on, event in await queued(sessions) if on == stream]


async def audits(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """The payloads of the audit records dedup queued for identity's log."""
    return [e.payload for e in await outbox(sessions, AUDIT_STREAM)]
