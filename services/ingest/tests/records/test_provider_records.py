"""Provider-shaped records: health kinds, samples and details in events, removal by key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.records.events import compact_samples
from aurora_ingest.records.rules import HealthFields, WorkoutFields, samples_problem
from aurora_ingest.records.service import remove_by_external_id, store_health, store_workout
from aurora_shared.testing.tokens import TestIssuer

START = datetime(2026, 11, 21, 22, 40, tzinfo=UTC)
SLEEP = HealthFields(
    kind="sleep",
    date=date(2026, 11, 22),
    start_at=START,
    end_at=START + timedelta(hours=7, minutes=30),
    tz_offset_min=60,
    metrics={"sleep_performance_pct": 91.0, "respiratory_rate": 15.2, "rem_s": None},
    details={"nap": False, "score_state": "SCORED"},
)
RIDE = WorkoutFields(
    sport="ride",
    start_at=START,
    end_at=START + timedelta(seconds=3),
    duration_s=3.0,
    tz_offset_min=60,
    metrics={"avg_hr": 150.0},
    origin_device="Garmin Edge 530",
    details={"laps": [{"start_offset_s": 0, "elapsed_s": 3}]},
    samples={"t": [0, 1, 2], "hr": [148, None, 152], "power": [200, 210, 205]},
)


async def events(db: asyncpg.Connection) -> list[tuple[str, dict[str, object]]]:
    rows = await db.fetch(
        "SELECT event_type, envelope::text AS envelope FROM ingest.outbox ORDER BY id"
    )
    return [(r["event_type"], json.loads(r["envelope"])["payload"]) for r in rows]


def test_samples_must_be_columnar_and_aligned() -> None:
    assert samples_problem({"t": [0, 1], "hr": [1, 2]}) is None
    assert samples_problem({"hr": [1]}) == "samples have no time channel"
    assert samples_problem({"t": [0, 1], "hr": [1]}) == (
        "sample channel 'hr' has 1 values, time has 2"
    )
    assert samples_problem({"t": [0], "mood": [1]}) == "unknown sample channel 'mood'"


async def test_health_records_store_once_and_announce_changes(
    kit: ProviderKit, db: asyncpg.Connection
) -> None:
    user = uuid.uuid4()
    for fields in (SLEEP, SLEEP, SLEEP.__class__(**{**SLEEP.__dict__, "metrics": {"x": 1.0}})):
        async with kit.sessions() as session, session.begin():
            await store_health(
                session, user_id=user, source="whoop", external_id="sleep-1", fields=fields
            )
    sent = await events(db)
    assert [kind for kind, _ in sent] == ["health.ingested", "health.ingested"]
    first = sent[0][1]
    assert first["kind"] == "sleep" and first["date"] == "2026-11-22"
    assert first["start"] == "2026-11-21T22:40:00Z" and first["end"] == "2026-11-22T06:10:00Z"
    assert first["metrics"] == SLEEP.metrics and first["details"] == SLEEP.details
    assert [p["revision"] for _, p in sent] == [1, 2]
    row = await db.fetchrow("SELECT kind, local_date, duration_s FROM ingest.records")
    assert (row["kind"], row["local_date"], row["duration_s"]) == (
        "sleep",
        date(2026, 11, 22),
        27000.0,
    )


async def test_provider_removal_is_soft_announced_and_idempotent(
    kit: ProviderKit, db: asyncpg.Connection
) -> None:
    user = uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        await store_workout(session, user_id=user, source="strava", external_id="9", fields=RIDE)
        await store_health(session, user_id=user, source="whoop", external_id="s", fields=SLEEP)
    for _ in range(2):
        async with kit.sessions() as session, session.begin():
            await remove_by_external_id(session, user_id=user, source="strava", external_id="9")
            await remove_by_external_id(session, user_id=user, source="whoop", external_id="s")
    async with kit.sessions() as session, session.begin():
        assert not await remove_by_external_id(
            session, user_id=user, source="strava", external_id="unknown"
        )
    sent = await events(db)
    assert [kind for kind, _ in sent] == [
        "workout.ingested",
        "health.ingested",
        "workout.removed",
        "health.removed",
    ]
    assert sent[2][1]["kind"] == "workout" and sent[3][1]["kind"] == "sleep"


async def test_samples_and_details_ride_in_the_event_but_never_in_lists(
    kit: ProviderKit, db: asyncpg.Connection, client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    user = uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        await store_workout(session, user_id=user, source="strava", external_id="9", fields=RIDE)
    ((_, payload),) = await events(db)
    assert payload["samples"] == RIDE.samples
    assert payload["details"] == RIDE.details
    assert payload["origin_device"] == "Garmin Edge 530"
    page = (await client.get("/records", headers=issuer.headers(user))).json()
    (item,) = page["items"]
    assert "samples" not in item and "raw" not in json.dumps(item)


async def test_a_key_keeps_its_kind(kit: ProviderKit) -> None:
    user = uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        await store_workout(session, user_id=user, source="whoop", external_id="x", fields=RIDE)
    with pytest.raises(ValueError, match="is a workout, not a sleep"):
        async with kit.sessions() as session, session.begin():
            await store_health(session, user_id=user, source="whoop", external_id="x", fields=SLEEP)


def test_long_recordings_are_thinned_evenly_in_the_event_only() -> None:
    short = {"t": [0.0, 1.0, 2.0], "hr": [1.0, 2.0, 3.0]}
    assert compact_samples(short, max_points=3) is short
    assert compact_samples(None) is None
    long = {"t": [float(i) for i in range(10)], "hr": [float(100 + i) for i in range(10)]}
    thinned = compact_samples(long, max_points=4)
    assert thinned == {
        "t": [0.0, 3.0, 6.0, 9.0],
        "hr": [100.0, 103.0, 106.0, 109.0],
        "step": 3,
        "points_stored": 10,
    }
    assert len(long["t"]) == 10  # storage keeps every point
