"""Any arrival order of one user's health events gives the same rows (real PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.health.days import rule_record
from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_dedup.resolution.health import elect
from aurora_shared.bus.envelope import Envelope

from ..timeline.factory import apply
from .factory import DAY, Health

Sessions = async_sessionmaker[AsyncSession]
NEXT_DAY = DAY + timedelta(days=1)


def scenario(user: uuid.UUID) -> tuple[dict[str, uuid.UUID], list[Envelope]]:
    """Two nights of one athlete: competing sleeps, a nap, WHOOP's day, an update, removals."""

    def make(name: str, **fields: Any) -> Health:
        return Health(
            user, record_id=uuid.uuid5(user, name), external_id=f"{name}:{user}", **fields
        )

    oura = make("oura", source="oura", metrics={"asleep_s": 24000.0})
    whoop = make("whoop", metrics={"nap": 0.0, "asleep_s": 25000.0, "sleep_need_s": 29000.0})
    nap = make("nap", hours=1, metrics={"nap": 1.0, "asleep_s": 3000.0})
    recovery = make("recovery", kind="recovery", hours=24, metrics={"recovery_score": 55.0})
    cycle = make("cycle", kind="daily", hours=24, metrics={"day_strain": 10.0})
    vitals = make(
        "vitals",
        source="apple_health",
        kind="daily",
        device="Apple Watch",
        metrics={"resting_hr": 49.0, "day_strain": 1.0},
    )
    moved = make("moved", source="garmin", day=NEXT_DAY, metrics={"asleep_s": 20000.0})
    events = [
        oura.ingested(1),
        whoop.ingested(2),
        nap.ingested(3),
        recovery.ingested(4),
        cycle.ingested(5),
        vitals.ingested(6),
        whoop.ingested(7, metrics={"nap": 0.0, "asleep_s": 25500.0}),
        oura.removed(8),
        moved.ingested(9, day=DAY),
        moved.ingested(10),
        nap.removed(11),
        nap.ingested(9),  # older than its removal: stays buried
    ]
    made = (oura, whoop, nap, recovery, cycle, vitals, moved)
    return {h.external_id.split(":")[0]: h.record_id for h in made}, events


def _normalise(value: Any, names: dict[uuid.UUID, str]) -> Any:
    """Replace the user's record ids (which differ per run) by their names."""
    if isinstance(value, dict):
        return {k: _normalise(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_normalise(v, names) for v in value)
    if isinstance(value, uuid.UUID):
        return names.get(value, value)
    if isinstance(value, str):
        for rid, name in names.items():
            value = value.replace(str(rid), name)
    return value


async def final_state(sessions: Sessions, user: uuid.UUID, names: dict[str, uuid.UUID]) -> Any:
    by_id = {rid: name for name, rid in names.items()}
    async with sessions() as session:
        records = (
            (await session.execute(select(HealthRecord).where(HealthRecord.user_id == user)))
            .scalars()
            .all()
        )
        days = (
            (await session.execute(select(HealthDay).where(HealthDay.user_id == user)))
            .scalars()
            .all()
        )
    rows = {
        by_id[r.id]: (
            r.kind,
            r.local_date,
            r.metrics,
            r.nap,
            r.removed,
            r.role,
            r.decision_reason,
        )
        for r in records
    }
    day_rows = {
        d.local_date: (
            d.sleep_record_id,
            d.recovery_record_id,
            d.metrics,
            d.field_sources,
            d.reasons,
            d.reason,
        )
        for d in days
    }
    return _normalise(rows, by_id), _normalise(day_rows, by_id)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_order_and_any_redelivery_give_the_same_state(
    sessions: Sessions, data: st.DataObject
) -> None:
    reference_user, shuffled_user = uuid.uuid4(), uuid.uuid4()
    ref_names, ref_events = scenario(reference_user)
    for event in ref_events:
        await apply(sessions, event)
    names, events = scenario(shuffled_user)
    order = data.draw(st.permutations(events))
    again = data.draw(st.lists(st.sampled_from(events), max_size=4))
    for event in [*order, *again]:
        await apply(sessions, event)

    expected = await final_state(sessions, reference_user, ref_names)
    assert await final_state(sessions, shuffled_user, names) == expected
    records, days = expected
    assert records["oura"][4] is True and records["nap"][4] is True
    assert records["whoop"][5] == "primary" and records["moved"][1] == NEXT_DAY
    assert set(days) == {DAY, NEXT_DAY}


async def test_the_stored_view_is_the_election_of_the_stored_records(sessions: Sessions) -> None:
    user = uuid.uuid4()
    names, events = scenario(user)
    for event in reversed(events):
        await apply(sessions, event)
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(HealthRecord).where(
                        HealthRecord.user_id == user, HealthRecord.removed.is_(False)
                    )
                )
            )
            .scalars()
            .all()
        )
        stored = {
            d.local_date: d
            for d in (
                await session.execute(select(HealthDay).where(HealthDay.user_id == user))
            ).scalars()
        }
    views = elect(rule_record(r) for r in rows)
    assert set(views) == set(stored)
    for day, view in views.items():
        assert stored[day].metrics == dict(view.metrics)
        assert stored[day].sleep_record_id == (view.sleep.record.id if view.sleep else None)
        assert stored[day].reason == view.reason
    assert stored[DAY].sleep_record_id == names["whoop"]
