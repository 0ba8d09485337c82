"""Ingest's events through dedup's handlers: source records, canonicals and outbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.consumers import subscriptions
from aurora_dedup.db import BUS
from aurora_dedup.registers import ContractViolationError
from aurora_dedup.timeline import repository, resolver
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope
from aurora_shared.config import BusSettings

from .factory import T0, Workout, apply, canonicals, envelope, expected_groups, outbox, records

Sessions = async_sessionmaker[AsyncSession]


async def test_ingest_creates_canonical_and_event_in_one_commit(sessions: Sessions) -> None:
    user = uuid.uuid4()
    ride = Workout(user, source="garmin", device="Garmin Edge 530", metrics={"avg_power": 210})
    await apply(sessions, ride.ingested(1))

    row = (await records(sessions))[ride.record_id]
    cid = canonical_id_for(ride.record_id)
    assert (row.canonical_id, row.is_primary, row.duplicate_of) == (cid, True, None)
    assert row.decision_reason == "primary: only record of this session"
    assert row.span_end_at == T0 + timedelta(minutes=60)
    canonical = (await canonicals(sessions))[cid]
    assert (canonical.user_id, canonical.sport, canonical.duration_s) == (user, "ride", 3600.0)
    assert canonical.metrics == {"avg_power": 210}

    (event,) = await outbox(sessions)
    assert (event.type, event.producer, event.user_id) == ("workout.resolved", "dedup", user)
    payload = event.payload
    assert payload["canonical_id"] == str(cid)
    assert payload["duplicate_record_ids"] == []
    assert payload["reason"] == "primary: only record of this session"
    assert payload["primary"] == {
        "record_id": str(ride.record_id),
        "source": "garmin",
        "origin_device": "Garmin Edge 530",
        "recorded_by": "garmin",
        "external_id": ride.external_id,
        "sport": "ride",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=60)).isoformat(),
        "duration_s": 3600.0,
        "tz_offset_min": 60,
        "metrics": {"avg_power": 210},
    }
    assert (payload["start"], payload["end"]) == (T0.isoformat(), payload["primary"]["end"])
    assert canonical.updated_at == event.occurred_at


async def test_a_failure_before_the_event_rolls_back_the_state(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_enqueue(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(resolver, "enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        await apply(sessions, Workout(uuid.uuid4()).ingested(1))
    assert await records(sessions) == {}
    assert await canonicals(sessions) == {}
    assert await outbox(sessions) == []


async def test_higher_priority_record_takes_over_retroactively(sessions: Sessions) -> None:
    user = uuid.uuid4()
    whoop = Workout(user, source="whoop", device="WHOOP 4.0", start_min=2, minutes=55)
    strava = Workout(user, source="strava", device="Garmin Forerunner 965", minutes=60)
    await apply(sessions, whoop.ingested(1))
    await apply(sessions, strava.ingested(2))

    rows = await records(sessions)
    new_cid = canonical_id_for(strava.record_id)
    old_cid = canonical_id_for(whoop.record_id)
    assert rows[whoop.record_id].duplicate_of == strava.record_id
    assert rows[whoop.record_id].is_primary is False
    assert rows[whoop.record_id].canonical_id == new_cid
    assert rows[strava.record_id].is_primary is True
    assert set(await canonicals(sessions)) == {new_cid}

    first, gone, resolved = await outbox(sessions)
    assert first.payload["canonical_id"] == str(old_cid)
    assert gone.type == "workout.unresolved"
    assert gone.payload["canonical_id"] == str(old_cid)
    assert gone.payload["superseded_by"] == str(new_cid)
    assert gone.payload["reason"].startswith(
        f"primary record {whoop.record_id} is now a duplicate of {strava.record_id}"
    )
    assert resolved.type == "workout.resolved"
    assert resolved.payload["duplicate_record_ids"] == [str(whoop.record_id)]
    # The words are the rules' (tests/resolution); the service publishes them unchanged.
    group = expected_groups([whoop, strava])[strava.record_id]
    assert resolved.payload["reason"] == group.reason
    assert resolved.payload["duplicates"][0]["reason"] == group.duplicates[0].reason


async def test_updates_apply_only_when_newer(sessions: Sessions) -> None:
    ride = Workout(uuid.uuid4())
    await apply(sessions, ride.ingested(5))
    await apply(sessions, ride.ingested(3, minutes=30))  # older: ignored
    cid = canonical_id_for(ride.record_id)
    assert (await canonicals(sessions))[cid].duration_s == 3600.0
    assert len(await outbox(sessions)) == 1

    await apply(sessions, ride.ingested(7, minutes=90, metrics={"avg_hr": 150}))
    canonical = (await canonicals(sessions))[cid]  # same primary, same canonical id
    assert (canonical.duration_s, canonical.metrics) == (5400.0, {"avg_hr": 150})
    first, second = await outbox(sessions)
    assert second.payload["canonical_id"] == str(cid)
    assert second.occurred_at > first.occurred_at

    # A newer event with unchanged content moves the version, but nobody is told.
    await apply(sessions, ride.ingested(9, minutes=90, metrics={"avg_hr": 150}))
    assert len(await outbox(sessions)) == 2
    row = (await records(sessions))[ride.record_id]
    assert row.last_event_at == ride.ingested(9).occurred_at


async def test_ingest_revision_orders_events_before_the_clock(sessions: Sessions) -> None:
    """A producer with a fast clock cannot make an older revision win."""
    ride = Workout(uuid.uuid4())
    await apply(sessions, ride.ingested(9, revision=1, minutes=30))
    await apply(sessions, ride.ingested(2, revision=2, minutes=45))
    await apply(sessions, ride.removed(8, revision=1))  # older revision, newer clock
    row = (await records(sessions))[ride.record_id]
    assert (row.removed, row.duration_s, row.last_revision) == (False, 2700.0, 2)


async def test_same_external_id_for_two_users_is_two_records(sessions: Sessions) -> None:
    """Ingest's key is (user, source, external_id): a manual client_ref is per user."""
    mine = Workout(uuid.uuid4(), source="manual", external_id="ride-1")
    theirs = Workout(uuid.uuid4(), source="manual", external_id="ride-1")
    await apply(sessions, mine.ingested(1))
    await apply(sessions, theirs.ingested(2))
    assert set(await records(sessions)) == {mine.record_id, theirs.record_id}
    assert len(await canonicals(sessions)) == 2


async def test_same_version_is_applied_once(sessions: Sessions) -> None:
    ride = Workout(uuid.uuid4())
    event = ride.ingested(1)
    await apply(sessions, event)
    await apply(sessions, event)  # the handler itself is idempotent, inbox or not
    assert len(await outbox(sessions)) == 1


async def test_removing_the_primary_promotes_the_duplicate(sessions: Sessions) -> None:
    user = uuid.uuid4()
    garmin = Workout(user, source="garmin")
    whoop = Workout(user, source="whoop", start_min=1)
    await apply(sessions, garmin.ingested(1))
    await apply(sessions, whoop.ingested(2))
    await apply(sessions, garmin.removed(3))

    rows = await records(sessions)
    gone = rows[garmin.record_id]
    assert gone.removed and gone.sport is None and gone.metrics is None
    assert (gone.canonical_id, gone.is_primary, gone.duplicate_of) == (None, False, None)
    assert gone.decision_reason == "removed by its source"
    assert rows[whoop.record_id].is_primary
    assert set(await canonicals(sessions)) == {canonical_id_for(whoop.record_id)}

    unresolved, resolved = (await outbox(sessions))[-2:]
    assert unresolved.type == "workout.unresolved"
    assert unresolved.payload == {
        "canonical_id": str(canonical_id_for(garmin.record_id)),
        "primary_record_id": str(garmin.record_id),
        "superseded_by": None,
        "reason": f"primary record {garmin.record_id} was removed by its source",
    }
    assert resolved.payload["primary"]["record_id"] == str(whoop.record_id)


async def test_removal_before_ingest_leaves_a_tombstone(sessions: Sessions) -> None:
    ride = Workout(uuid.uuid4())
    await apply(sessions, ride.removed(5))
    await apply(sessions, ride.ingested(4))  # older than the removal: stays buried
    row = (await records(sessions))[ride.record_id]
    assert row.removed and row.sport is None
    assert await canonicals(sessions) == {}
    assert await outbox(sessions) == []

    await apply(sessions, ride.ingested(6))  # newer: the record is back
    row = (await records(sessions))[ride.record_id]
    assert not row.removed and row.is_primary
    assert len(await outbox(sessions)) == 1


async def test_moving_a_record_splits_its_old_group(sessions: Sessions) -> None:
    user = uuid.uuid4()
    garmin = Workout(user, source="garmin")
    whoop = Workout(user, source="whoop")
    await apply(sessions, garmin.ingested(1))
    await apply(sessions, whoop.ingested(2))
    await apply(sessions, garmin.ingested(3, start_min=600))  # the watch's clock was wrong

    rows = await records(sessions)
    assert rows[whoop.record_id].is_primary and rows[garmin.record_id].is_primary
    assert set(await canonicals(sessions)) == {
        canonical_id_for(garmin.record_id),
        canonical_id_for(whoop.record_id),
    }


async def test_closure_follows_overlaps_beyond_the_margin(sessions: Sessions) -> None:
    user = uuid.uuid4()
    chain = [
        Workout(user, sport="other", start_min=0, minutes=30 * 60),
        Workout(user, sport="other", start_min=25 * 60, minutes=30 * 60),
        Workout(user, sport="other", start_min=54.5 * 60, minutes=30 * 60),
    ]
    far = Workout(user, sport="other", start_min=200 * 60)
    for seq, workout in enumerate([*chain, far]):
        await apply(sessions, workout.ingested(seq))
    window = (T0 - timedelta(days=1), T0 + timedelta(hours=30, days=1))
    async with sessions() as session:
        found = await repository.active_closure(session, user, [window], [])
    assert set(found) == {w.record_id for w in chain}


async def test_contract_violations_raise(sessions: Sessions) -> None:
    user = uuid.uuid4()
    ride = Workout(user)
    await apply(sessions, ride.ingested(1))
    orphan = ride.ingested(2).model_copy(update={"user_id": None})
    with pytest.raises(ContractViolationError, match="no user_id"):
        await apply(sessions, orphan)
    thief = Workout(uuid.uuid4(), record_id=ride.record_id, external_id=ride.external_id)
    with pytest.raises(ContractViolationError, match="owner"):
        await apply(sessions, thief.ingested(3))
    twin = Workout(user, external_id=ride.external_id)  # same key, another record id
    with pytest.raises(ContractViolationError, match="already belongs"):
        await apply(sessions, twin.ingested(4))
    with pytest.raises(ValidationError):
        await apply(sessions, envelope("workout.ingested", user, {"record_id": "x"}, 5))
    backwards = ride.payload() | {"end": "2024-05-01T06:00:00Z"}
    with pytest.raises(ValidationError, match="end is before start"):
        await apply(sessions, envelope("workout.ingested", user, backwards, 6))
    assert len(await records(sessions)) == 1


async def test_the_database_refuses_a_primary_with_duplicate_of(sessions: Sessions) -> None:
    user = uuid.uuid4()
    a, b = Workout(user), Workout(user, source="whoop")
    await apply(sessions, a.ingested(1))
    await apply(sessions, b.ingested(2))
    with pytest.raises(IntegrityError, match="primary_not_duplicate"):
        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE dedup.source_records SET duplicate_of = :b WHERE id = :a"
                ),  # a is the primary
                {"a": a.record_id, "b": b.record_id},
            )


async def test_through_a_real_stream_consumer_with_its_inbox(
    sessions: Sessions, redis: Redis
) -> None:
    (subscription,) = [s for s in subscriptions() if s.stream == "ingest.records"]
    consumer = StreamConsumer(
        redis=redis,
        sessionmaker=sessions,
        inbox=BUS.inbox,
        stream=subscription.stream,
        group="dedup",
        consumer="test-1",
        handlers=subscription.handlers,
        settings=BusSettings(consumer_block_ms=50),
        service="dedup",
    )
    await consumer.ensure_group()
    ride = Workout(uuid.uuid4())
    event = ride.ingested(1)
    for _ in range(2):  # the relay published it twice (checklist A2)
        await redis.xadd("ingest.records", _fields(event))
    await redis.xadd("ingest.records", _fields(envelope("sleep.scored", ride.user_id, {}, 2)))
    assert await consumer.read_new() == 3

    assert len(await outbox(sessions)) == 1
    assert len(await records(sessions)) == 1
    async with sessions() as session:
        inbox = await session.execute(select(func.count()).select_from(BUS.inbox))
        assert inbox.scalar_one() == 1
    pending = await redis.xpending("ingest.records", "dedup")
    assert pending["pending"] == 0


def _fields(event: Envelope) -> dict[FieldT, EncodableT]:
    return {"event_id": str(event.id), "type": event.type, "event": event.model_dump_json()}
