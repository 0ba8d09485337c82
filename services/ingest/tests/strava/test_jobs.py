"""strava.jobs: fetch-and-store, delete only on 404, and what a job does when things go wrong."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from aurora_ingest.connections.models import Connection
from aurora_ingest.jobs.service import Job, enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.strava.jobs import HANDLERS

Factory = Any
API = "https://www.strava.com/api/v3"
ACTIVITY = f"{API}/activities/4242"


async def queue(
    kit: ProviderKit, connection: Connection, kind: str = "activity", **extra: Any
) -> None:
    payload = {"activity_id": 4242, "owner_id": "134815", **extra}
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind=kind,
            key="134815:4242",
            user_id=connection.user_id,
            connection_id=connection.id,
            payload=payload,
        )


async def events(db: asyncpg.Connection) -> list[tuple[str, dict[str, Any]]]:
    rows = await db.fetch("SELECT event_type, envelope::text AS e FROM ingest.outbox ORDER BY id")
    return [(r["event_type"], json.loads(r["e"])["payload"]) for r in rows]


async def records(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT id, external_id, sport, origin_device, details::text AS details,"
        " samples::text AS samples, deleted_at, raw_payload_id, revision"
        " FROM ingest.records ORDER BY created_at"
    )
    return rows


async def job_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT kind, status, attempts, last_error, not_before FROM ingest.provider_jobs"
        " ORDER BY created_at"
    )
    return rows


def stored_samples(record: asyncpg.Record) -> Any:
    """SQL NULL and JSON null both mean "no samples"."""
    return None if record["samples"] is None else json.loads(record["samples"])


def mock_activity(
    respx_mock: respx.MockRouter,
    activity: dict[str, Any] | None,
    streams: Any = None,
    laps: Any = None,
) -> dict[str, respx.Route]:
    routes = {
        "activity": respx_mock.get(ACTIVITY).mock(
            return_value=httpx.Response(404, json={"message": "Record Not Found"})
            if activity is None
            else httpx.Response(200, json=activity)
        ),
        "streams": respx_mock.get(f"{ACTIVITY}/streams").mock(
            return_value=httpx.Response(404, json={"message": "Record Not Found"})
            if streams is None
            else httpx.Response(200, json=streams)
        ),
        "laps": respx_mock.get(f"{ACTIVITY}/laps").mock(
            return_value=httpx.Response(200, json=laps or [])
        ),
    }
    return routes


async def test_activity_job_fetches_and_stores_the_workout(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    make_streams: Factory,
    run_jobs: Any,
) -> None:
    routes = mock_activity(respx_mock, make_activity(), make_streams(points=4))
    await queue(kit, connection)
    assert await run_jobs(kit) == 1
    assert routes["activity"].calls.last.request.headers["Authorization"] == (
        "Bearer strava-access-token"
    )
    assert routes["streams"].call_count == 1
    assert routes["laps"].call_count == 0  # the detail carried its laps
    [record] = await records(db)
    assert (record["external_id"], record["sport"]) == ("4242", "mountain_bike")
    assert record["origin_device"] == "Garmin Edge 530"
    details = json.loads(record["details"])
    assert [lap["index"] for lap in details["laps"]] == [1, 2]
    assert details["splits_metric"][-1]["distance_m"] == 412.3
    samples = stored_samples(record)
    assert samples["t"] == [0, 1, 2, 3] and samples["hr"] == [140, 141, 142, 143]
    kinds = await db.fetch("SELECT kind FROM ingest.raw_payloads ORDER BY kind")
    assert [r["kind"] for r in kinds] == ["activity", "streams"]
    activity_raw = await db.fetchval("SELECT id FROM ingest.raw_payloads WHERE kind = 'activity'")
    assert record["raw_payload_id"] == activity_raw
    [(event_type, payload)] = await events(db)
    assert event_type == "workout.ingested"
    assert payload["external_id"] == "4242" and payload["source"] == "strava"
    assert payload["origin_device"] == "Garmin Edge 530"
    assert [j["status"] for j in await job_rows(db)] == ["done"]


async def test_manual_activity_without_laps_or_streams(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    activity = make_activity(manual=True, device_name=None, sport_type="Hike", type="Hike")
    del activity["laps"]
    routes = mock_activity(respx_mock, activity, streams=None, laps=[{"elapsed_time": 60}])
    await queue(kit, connection)
    await run_jobs(kit)
    assert routes["laps"].call_count == 1
    [record] = await records(db)
    assert record["origin_device"] == "manual"
    assert stored_samples(record) is None
    assert json.loads(record["details"])["laps"] == [{"index": 1, "elapsed_time_s": 60.0}]
    kinds = await db.fetch("SELECT kind FROM ingest.raw_payloads ORDER BY kind")
    assert [r["kind"] for r in kinds] == ["activity", "laps"]


async def test_redelivery_updates_and_never_duplicates(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    make_streams: Factory,
    run_jobs: Any,
) -> None:
    routes = mock_activity(respx_mock, make_activity(), make_streams())
    for _ in range(3):
        await queue(kit, connection)
        await run_jobs(kit)
    assert len(await records(db)) == 1
    assert [t for t, _ in await events(db)] == ["workout.ingested"]  # unchanged: no new event
    routes["activity"].mock(return_value=httpx.Response(200, json=make_activity(name="Renamed")))
    await queue(kit, connection)
    await run_jobs(kit)
    [record] = await records(db)
    assert json.loads(record["details"])["name"] == "Renamed"
    assert record["revision"] == 2
    assert [t for t, _ in await events(db)] == ["workout.ingested", "workout.ingested"]


async def test_delete_acts_only_when_strava_says_404(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    make_streams: Factory,
    run_jobs: Any,
) -> None:
    routes = mock_activity(respx_mock, make_activity(), make_streams())
    await queue(kit, connection)
    await run_jobs(kit)
    # A (forged) delete for an activity that still exists: re-synced, not removed.
    await queue(kit, connection, kind="delete")
    await run_jobs(kit)
    [record] = await records(db)
    assert record["deleted_at"] is None
    assert [t for t, _ in await events(db)] == ["workout.ingested"]
    # Strava now answers 404: the delete is real.
    routes["activity"].mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    await queue(kit, connection, kind="delete")
    await run_jobs(kit)
    [record] = await records(db)
    assert record["deleted_at"] is not None
    [_, (removed, payload)] = await events(db)
    assert removed == "workout.removed"
    assert payload["external_id"] == "4242"
    assert [j["status"] for j in await job_rows(db)] == ["done", "done", "done"]


async def test_activity_gone_before_the_fetch_stores_nothing(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
) -> None:
    routes = mock_activity(respx_mock, None)
    await queue(kit, connection)
    await run_jobs(kit)
    assert await records(db) == []
    assert await events(db) == []
    assert routes["streams"].call_count == 0
    assert [j["status"] for j in await job_rows(db)] == ["done"]


async def test_another_athletes_activity_is_never_stored(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    """A forged event may name someone else's public activity; the owner check refuses it."""
    mock_activity(respx_mock, make_activity(athlete={"id": 999, "resource_state": 1}))
    await queue(kit, connection)
    await run_jobs(kit)
    assert await records(db) == []
    assert await db.fetchval("SELECT count(*) FROM ingest.raw_payloads") == 0


async def test_untrustworthy_streams_keep_the_workout_without_samples(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    make_streams: Factory,
    run_jobs: Any,
) -> None:
    mock_activity(respx_mock, make_activity(), make_streams(points=3, watts=[1, 2]))
    await queue(kit, connection)
    await run_jobs(kit)
    [record] = await records(db)
    assert stored_samples(record) is None
    assert "'watts' has 2 points" in json.loads(record["details"])["samples_rejected"]


async def test_a_broken_activity_fails_the_job_with_its_reason(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    mock_activity(respx_mock, make_activity(elapsed_time=0))
    await queue(kit, connection)
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "pending" and job["attempts"] == 1
    assert "elapsed_time must be a positive number" in job["last_error"]
    assert await records(db) == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(503, json={"message": "down"}),
    ],
)
async def test_provider_trouble_is_retried_later(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
    answer: httpx.Response,
) -> None:
    respx_mock.get(ACTIVITY).mock(return_value=answer)
    await queue(kit, connection)
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "pending" and job["attempts"] == 1
    assert await records(db) == []


async def test_rate_limit_reschedules_without_spending_an_attempt(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
) -> None:
    respx_mock.get(ACTIVITY).respond(
        429, headers={"X-RateLimit-Limit": "100,1000", "X-RateLimit-Usage": "100,1000"}
    )
    await queue(kit, connection)
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "pending" and job["attempts"] == 0
    assert job["not_before"].hour == 0 and job["not_before"].minute == 0  # next 00:00 UTC
    assert job["not_before"] > kit.clock()


async def test_degraded_connection_cancels_without_a_call(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
) -> None:
    await db.execute(
        "UPDATE ingest.connections SET status = 'degraded', status_reason = 'refresh refused'"
    )
    await queue(kit, connection)
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "cancelled"
    assert respx_mock.calls.call_count == 0


async def test_revocation_during_the_fetch_wins(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_activity: Factory,
) -> None:
    async def revoke_then_answer(request: httpx.Request) -> httpx.Response:
        await db.execute(
            "UPDATE ingest.connections SET status = 'revoked', revoked_at = now(),"
            " access_token_enc = NULL, refresh_token_enc = NULL"
        )
        return httpx.Response(200, json=make_activity())

    respx_mock.get(ACTIVITY).mock(side_effect=revoke_then_answer)
    respx_mock.get(f"{ACTIVITY}/streams").respond(404)
    job = Job(
        id=uuid.uuid4(),
        provider="strava",
        kind="activity",
        key="134815:4242",
        user_id=connection.user_id,
        connection_id=connection.id,
        payload={"activity_id": 4242},
    )
    with pytest.raises(Exception, match="revoked meanwhile"):
        await HANDLERS["activity"](kit, job)
    assert await records(db) == []


@pytest.mark.parametrize(
    ("payload", "connection_id"),
    [({"activity_id": "4242"}, True), ({}, True), ({"activity_id": 4242}, False)],
)
async def test_malformed_jobs_are_cancelled(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
    payload: dict[str, Any],
    connection_id: bool,
) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind="activity",
            key="134815:4242",
            user_id=connection.user_id,
            connection_id=connection.id if connection_id else None,
            payload=payload,
        )
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "cancelled"
    assert respx_mock.calls.call_count == 0


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_degrades_the_connection_and_cancels(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    run_jobs: Any,
    status: int,
) -> None:
    route = respx_mock.get(ACTIVITY).respond(status, json={"message": "Authorization Error"})
    await queue(kit, connection)
    await run_jobs(kit)
    [job] = await job_rows(db)
    assert job["status"] == "cancelled"
    row = await db.fetchrow("SELECT status, status_reason FROM ingest.connections")
    assert row["status"] == "degraded"
    assert "Strava refused the token" in row["status_reason"]
    # Later jobs of that connection stop before calling Strava.
    await queue(kit, connection)
    await run_jobs(kit)
    assert route.call_count == 1
