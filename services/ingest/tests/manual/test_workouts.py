"""POST/DELETE /manual/workouts: the record and its event commit together, or neither does."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from sqlalchemy import text

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_shared.testing.tokens import TestIssuer

RIDE = {
    "sport": "ride",
    "start": "2026-11-20T07:00:00+01:00",
    "end": "2026-11-20T09:00:00+01:00",
    "client_ref": "garage-ride-1",
    "metrics": {"avg_hr": 167, "max_hr": 181, "avg_power_w": 215, "distance_m": 61_500},
}


def user_of(headers: dict[str, str]) -> uuid.UUID:
    token = headers["Authorization"].removeprefix("Bearer ")
    return uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sub"])


async def outbox(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM ingest.outbox ORDER BY id")
    return [{**dict(r), "envelope": json.loads(r["envelope"])} for r in rows]


async def test_post_writes_the_record_and_its_event_in_one_commit(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    response = await client.post("/manual/workouts", json=RIDE, headers=alice)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"record_id", "status"}
    assert body["status"] == "accepted"
    record_id = uuid.UUID(body["record_id"])

    record = await db.fetchrow("SELECT *, xmin::text AS tx FROM ingest.records")
    assert record["id"] == record_id
    assert record["user_id"] == user_of(alice)
    assert (record["kind"], record["source"], record["origin_device"]) == (
        "workout",
        "manual",
        None,
    )
    assert record["external_id"] == "garage-ride-1"
    assert record["sport"] == "ride"
    assert record["start_at"] == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert record["end_at"] == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert record["duration_s"] == 7200.0
    assert record["tz_offset_min"] == 60
    assert json.loads(record["metrics"]) == {
        "avg_hr": 167.0,
        "max_hr": 181.0,
        "avg_power_w": 215.0,
        "distance_m": 61500.0,
    }
    assert record["revision"] == 1

    (event,) = await outbox(db)
    tx = await db.fetchval("SELECT xmin::text FROM ingest.outbox")
    assert tx == record["tx"]  # same transaction
    assert event["stream"] == "ingest.records"
    assert event["event_type"] == "workout.ingested"
    assert event["user_id"] == record["user_id"]
    envelope = event["envelope"]
    assert uuid.UUID(envelope["id"]) == event["event_id"]
    assert envelope["type"] == "workout.ingested"
    assert envelope["version"] == 1
    assert envelope["producer"] == "ingest"
    assert envelope["user_id"] == str(record["user_id"])
    assert envelope["payload"] == {
        "record_id": str(record_id),
        "revision": 1,
        "source": "manual",
        "origin_device": None,
        "external_id": "garage-ride-1",
        "sport": "ride",
        "start": "2026-11-20T06:00:00Z",
        "end": "2026-11-20T08:00:00Z",
        "duration_s": 7200.0,
        "tz_offset_min": 60,
        "metrics": {"avg_hr": 167.0, "max_hr": 181.0, "avg_power_w": 215.0, "distance_m": 61500.0},
        "details": {},
        "samples": None,
    }


async def test_duration_only_and_no_client_ref(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    body = {"sport": "run", "start": "2026-11-21T18:30:00-05:00", "duration_s": 2700}
    first = await client.post("/manual/workouts", json=body, headers=alice)
    second = await client.post("/manual/workouts", json=body, headers=alice)
    assert first.status_code == second.status_code == 202
    # Without a client reference every post is a new entry.
    assert first.json()["record_id"] != second.json()["record_id"]
    events = await outbox(db)
    assert len(events) == 2
    payload = events[0]["envelope"]["payload"]
    assert payload["end"] is None
    assert payload["duration_s"] == 2700.0
    assert payload["tz_offset_min"] == -300
    assert payload["start"] == "2026-11-21T23:30:00Z"
    assert payload["metrics"] == {}
    uuid.UUID(payload["external_id"])


def _with(**changes: Any) -> dict[str, Any]:
    body = {**RIDE, **changes}
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (_with(end="2026-11-20T06:59:59+01:00"), "end must be after start"),
        (_with(end="2026-11-20T07:00:00+01:00"), "end must be after start"),
        (_with(end=None), "give end or duration_s"),
        (_with(end=None, duration_s=0), "duration_s"),
        (_with(end=None, duration_s=48 * 3600 + 1), "duration_s"),
        (_with(end="2026-11-22T07:00:01+01:00"), "at most 48 hours"),
        (_with(sport="quidditch"), "sport"),
        (_with(start="2026-11-20T07:00:00"), "start"),
        (_with(start=1763622000), "start"),
        (_with(metrics={"avg_hr": 300}), "avg_hr"),
        (_with(metrics={"avg_hr": 12}), "avg_hr"),
        (_with(metrics={"avg_hr": 150, "max_hr": 140}), "max_hr is below avg_hr"),
        (_with(metrics={"avg_power_w": 3001}), "avg_power_w"),
        (_with(metrics={"distance_m": 1_000_001}), "distance_m"),
        (_with(metrics={"distance_m": -1}), "distance_m"),
        (_with(metrics={"cadence_spm": 180}), "cadence_spm"),
        (_with(client_ref="../etc/passwd"), "client_ref"),
        (_with(client_ref="x" * 129), "client_ref"),
        (_with(role="admin"), "role"),
        (_with(user_id=str(uuid.uuid4())), "user_id"),
    ],
)
async def test_invalid_workouts_are_422_problems_and_write_nothing(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    db: asyncpg.Connection,
    body: dict[str, Any],
    needle: str,
) -> None:
    response = await client.post("/manual/workouts", json=body, headers=alice)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.text
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 0
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 0


async def test_posting_needs_a_token(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    response = await client.post("/manual/workouts", json=RIDE)
    assert response.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 0


async def test_identical_repost_is_idempotent(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    first = await client.post("/manual/workouts", json=RIDE, headers=alice)
    # Same content written differently: int vs float, other key order.
    same = {
        **RIDE,
        "metrics": {"distance_m": 61500.0, "avg_power_w": 215, "max_hr": 181, "avg_hr": 167},
    }
    again = await client.post("/manual/workouts", json=same, headers=alice)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1
    assert await db.fetchval("SELECT revision FROM ingest.records") == 1
    assert len(await outbox(db)) == 1


async def test_changed_repost_updates_and_emits_again(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    first = await client.post("/manual/workouts", json=RIDE, headers=alice)
    changed = {**RIDE, "sport": "virtual_ride", "metrics": {"avg_hr": 160}}
    second = await client.post("/manual/workouts", json=changed, headers=alice)
    assert second.status_code == 202
    assert second.json()["record_id"] == first.json()["record_id"]
    record = await db.fetchrow("SELECT * FROM ingest.records")
    assert record["sport"] == "virtual_ride"
    assert json.loads(record["metrics"]) == {"avg_hr": 160.0}
    assert record["revision"] == 2
    assert record["updated_at"] > record["created_at"]
    events = await outbox(db)
    assert [e["event_type"] for e in events] == ["workout.ingested", "workout.ingested"]
    payloads = [e["envelope"]["payload"] for e in events]
    assert payloads[1]["record_id"] == payloads[0]["record_id"] == first.json()["record_id"]
    assert payloads[1]["revision"] == 2
    assert payloads[1]["sport"] == "virtual_ride"
    assert payloads[1]["metrics"] == {"avg_hr": 160.0}
    assert events[0]["event_id"] != events[1]["event_id"]


async def test_client_ref_is_scoped_to_its_user(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], db: asyncpg.Connection
) -> None:
    a = await client.post("/manual/workouts", json=RIDE, headers=alice)
    b = await client.post("/manual/workouts", json={**RIDE, "sport": "run"}, headers=bob)
    assert a.json()["record_id"] != b.json()["record_id"]
    rows = await db.fetch("SELECT user_id, sport FROM ingest.records ORDER BY sport")
    assert [(r["user_id"], r["sport"]) for r in rows] == [
        (user_of(alice), "ride"),
        (user_of(bob), "run"),
    ]


async def test_delete_soft_deletes_and_emits_workout_removed(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    record_id = (await client.post("/manual/workouts", json=RIDE, headers=alice)).json()[
        "record_id"
    ]
    deleted = await client.delete(f"/manual/workouts/{record_id}", headers=alice)
    assert deleted.status_code == 204
    assert deleted.content == b""
    record = await db.fetchrow("SELECT deleted_at, revision FROM ingest.records")
    assert record["deleted_at"] is not None
    assert record["revision"] == 2
    events = await outbox(db)
    assert [e["event_type"] for e in events] == ["workout.ingested", "workout.removed"]
    assert events[1]["user_id"] == user_of(alice)
    assert events[1]["envelope"]["payload"] == {
        "record_id": record_id,
        "revision": 2,
        "kind": "workout",
        "source": "manual",
        "external_id": "garage-ride-1",
    }
    assert (await client.get(f"/records/{record_id}", headers=alice)).status_code == 404
    again = await client.delete(f"/manual/workouts/{record_id}", headers=alice)
    assert again.status_code == 404
    assert len(await outbox(db)) == 2


async def test_reposting_a_deleted_workout_brings_it_back(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    record_id = (await client.post("/manual/workouts", json=RIDE, headers=alice)).json()[
        "record_id"
    ]
    await client.delete(f"/manual/workouts/{record_id}", headers=alice)
    back = await client.post("/manual/workouts", json=RIDE, headers=alice)
    assert back.json()["record_id"] == record_id
    assert await db.fetchval("SELECT deleted_at FROM ingest.records") is None
    events = await outbox(db)
    assert [e["event_type"] for e in events][-1] == "workout.ingested"
    assert events[-1]["envelope"]["payload"]["revision"] == 3


async def test_deleting_someone_elses_workout_looks_like_a_missing_one(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], db: asyncpg.Connection
) -> None:
    record_id = (await client.post("/manual/workouts", json=RIDE, headers=alice)).json()[
        "record_id"
    ]
    theirs = await client.delete(f"/manual/workouts/{record_id}", headers=bob)
    await db.execute("DELETE FROM ingest.records")
    missing = await client.delete(f"/manual/workouts/{record_id}", headers=bob)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content
    assert len(await outbox(db)) == 1  # only alice's workout.ingested


async def test_failure_between_record_and_outbox_leaves_neither(
    settings: IngestSettings,
    issuer: TestIssuer,
    client: httpx.AsyncClient,
    alice: dict[str, str],
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checklist item 1: the record is flushed, then the outbox write blows up."""
    from aurora_ingest.records import service

    written: list[int] = []

    async def failing_enqueue(session: Any, *args: Any, **kwargs: Any) -> None:
        # Prove the record really was written in this transaction before the failure.
        written.append(await session.scalar(text("SELECT count(*) FROM ingest.records")))
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(service, "enqueue", failing_enqueue)
    app = create_app(settings, issuer.key_source())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post("/manual/workouts", json=RIDE, headers=alice)
    assert written == [1]
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "internal error"
    assert "outbox unavailable" not in response.text
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 0
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 0


async def test_concurrent_identical_posts_store_one_record_and_one_event(
    client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    responses = await asyncio.gather(
        *(client.post("/manual/workouts", json=RIDE, headers=alice) for _ in range(6))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["record_id"] for r in responses}) == 1
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1
    assert len(await outbox(db)) == 1
