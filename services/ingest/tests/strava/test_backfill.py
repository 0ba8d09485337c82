"""strava.jobs.backfill: pages, cursor in the payload, 429 mid-way, page limit, skip unchanged."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from aurora_ingest.connections.models import Connection
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.records.service import store_workout
from aurora_ingest.strava import jobs as strava_jobs
from aurora_ingest.strava.client import next_quarter
from aurora_ingest.strava.mapping import workout_fields

Factory = Any
API = "https://www.strava.com/api/v3"
LIST = f"{API}/athlete/activities"
PER_PAGE = 2


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two activities a page, so paging is visible with a handful of activities."""
    monkeypatch.setattr(strava_jobs, "MAX_PER_PAGE", PER_PAGE)


@pytest.fixture
def clock(kit: ProviderKit) -> list[datetime]:
    """A movable clock for the kit; its HTTP clients (429 retry moments) ask the kit."""
    # Ahead of the database's now(): jobs queued during the test (due at now()) are
    # due for this frozen clock even when a loaded machine takes seconds to get there.
    now = [datetime.now(UTC) + timedelta(minutes=2)]
    kit.clock = lambda: now[0]
    return now


def start_of(activity_id: int) -> str:
    return f"2026-01-{activity_id:02d}T07:00:00Z"


def pages_of(make_summary: Factory, ids: list[int]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = ids[(page - 1) * PER_PAGE : page * PER_PAGE]
        return httpx.Response(200, json=[make_summary(id=i, start_date=start_of(i)) for i in chunk])

    return answer


def mock_details(respx_mock: respx.MockRouter, make_activity: Factory) -> respx.Route:
    def detail(request: httpx.Request) -> httpx.Response:
        activity_id = int(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(
            200, json=make_activity(id=activity_id, start_date=start_of(activity_id))
        )

    respx_mock.get(host="www.strava.com", path__regex=r"^/api/v3/activities/\d+/streams$").respond(
        404
    )
    return respx_mock.get(host="www.strava.com", path__regex=r"^/api/v3/activities/\d+$").mock(
        side_effect=detail
    )


async def start_backfill(kit: ProviderKit, connection: Connection, **payload: Any) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind="backfill",
            key=str(connection.id),
            user_id=connection.user_id,
            connection_id=connection.id,
            payload=payload or None,
        )


def pages_asked(route: respx.Route) -> list[int]:
    return [int(call.request.url.params["page"]) for call in route.calls]


async def test_backfill_pages_through_history_and_stores_every_activity(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_summary: Factory,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    listing = respx_mock.get(LIST).mock(side_effect=pages_of(make_summary, [1, 2, 3, 4, 5]))
    details = mock_details(respx_mock, make_activity)
    await start_backfill(kit, connection)
    await run_jobs(kit)
    assert pages_asked(listing) == [1, 2, 3]
    first = listing.calls[0].request.url.params
    assert "after" not in first  # first sync under this grant: the whole history
    assert first["before"] == str(int(clock[0].timestamp()))
    assert first["per_page"] == str(PER_PAGE)
    assert details.call_count == 5
    stored = await db.fetch("SELECT external_id FROM ingest.records ORDER BY external_id")
    assert [r["external_id"] for r in stored] == ["1", "2", "3", "4", "5"]
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 5
    synced = await db.fetchval(
        "SELECT last_synced_at FROM ingest.connections WHERE id = $1", connection.id
    )
    assert synced == clock[0]
    statuses = await db.fetch("SELECT kind, status FROM ingest.provider_jobs")
    assert {(r["kind"], r["status"]) for r in statuses} == {
        ("backfill", "done"),
        ("activity", "done"),
    }


async def test_429_mid_backfill_waits_for_the_window_and_resumes_on_the_same_page(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_summary: Factory,
    run_jobs: Any,
) -> None:
    pages = pages_of(make_summary, [1, 2, 3, 4, 5])
    limited = {"on": True}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "2" and limited["on"]:
            return httpx.Response(429, json={"message": "Rate Limit Exceeded"})
        return pages(request)

    listing = respx_mock.get(LIST).mock(side_effect=answer)
    only_backfill = {"strava": {"backfill": strava_jobs.backfill}}
    await start_backfill(kit, connection)
    await run_jobs(kit, only_backfill)
    job = await db.fetchrow(
        "SELECT status, attempts, not_before, payload::text AS payload"
        " FROM ingest.provider_jobs WHERE kind = 'backfill'"
    )
    assert job["status"] == "pending" and job["attempts"] == 0
    assert job["not_before"] == next_quarter(clock[0])
    assert json.loads(job["payload"])["page"] == 2
    assert pages_asked(listing) == [1, 2]
    # Still inside the window: nothing runs, nothing is asked.
    await run_jobs(kit, only_backfill)
    assert pages_asked(listing) == [1, 2]
    limited["on"] = False
    clock[0] = next_quarter(clock[0]) + timedelta(seconds=1)
    await run_jobs(kit, only_backfill)
    assert pages_asked(listing) == [1, 2, 2, 3]
    keys = await db.fetch(
        "SELECT key FROM ingest.provider_jobs WHERE kind = 'activity' ORDER BY key"
    )
    assert [r["key"] for r in keys] == [f"134815:{i}" for i in range(1, 6)]  # none lost or twice


async def test_backfill_stops_at_the_page_limit(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_summary: Factory,
    run_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(kit.settings, "sync_max_pages", 3)
    listing = respx_mock.get(LIST).mock(side_effect=pages_of(make_summary, list(range(1, 100))))
    with caplog.at_level(logging.WARNING, logger="aurora.ingest.strava.jobs"):
        await run_jobs_after(kit, connection, run_jobs)
    assert pages_asked(listing) == [1, 2, 3]
    assert "page limit" in caplog.text
    assert await db.fetchval("SELECT status FROM ingest.provider_jobs WHERE kind = 'backfill'") == (
        "done"
    )
    assert (
        await db.fetchval("SELECT count(*) FROM ingest.provider_jobs WHERE kind = 'activity'") == 6
    )


async def run_jobs_after(kit: ProviderKit, connection: Connection, run_jobs: Any) -> None:
    await start_backfill(kit, connection)
    await run_jobs(kit, {"strava": {"backfill": strava_jobs.backfill}})


async def test_unchanged_activities_are_not_fetched_again(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_summary: Factory,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    async with kit.sessions() as session, session.begin():
        for activity_id, name in ((1, "Morning Ride"), (2, "Old name"), (3, "Morning Ride")):
            activity = make_activity(id=activity_id, start_date=start_of(activity_id), name=name)
            await store_workout(
                session,
                user_id=connection.user_id,
                source="strava",
                external_id=str(activity_id),
                fields=workout_fields(activity),
            )
    await db.execute("UPDATE ingest.records SET deleted_at = now() WHERE external_id = '3'")
    respx_mock.get(LIST).mock(side_effect=pages_of(make_summary, [1, 2, 3, 4]))
    await run_jobs_after(kit, connection, run_jobs)
    keys = await db.fetch(
        "SELECT key FROM ingest.provider_jobs WHERE kind = 'activity' ORDER BY key"
    )
    # 1 is current; 2 was renamed on Strava; 3 was removed here but Strava lists it; 4 is new.
    assert [r["key"] for r in keys] == ["134815:2", "134815:3", "134815:4"]


async def test_a_resync_starts_a_week_before_the_newest_stored_activity(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    async with kit.sessions() as session, session.begin():
        for activity_id in (3, 9):
            activity = make_activity(id=activity_id, start_date=start_of(activity_id))
            await store_workout(
                session,
                user_id=connection.user_id,
                source="strava",
                external_id=str(activity_id),
                fields=workout_fields(activity),
            )
    await db.execute("UPDATE ingest.connections SET last_synced_at = now()")
    listing = respx_mock.get(LIST).respond(200, json=[])
    await run_jobs_after(kit, connection, run_jobs)
    newest = datetime(2026, 1, 9, 7, tzinfo=UTC)
    after = int((newest - timedelta(days=7)).timestamp())
    assert listing.calls.last.request.url.params["after"] == str(after)
    # An explicit full sync ignores that.
    await start_backfill(kit, connection, full=True)
    await run_jobs(kit, {"strava": {"backfill": strava_jobs.backfill}})
    assert "after" not in listing.calls.last.request.url.params


async def test_a_reconnect_takes_the_whole_history_again(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    async with kit.sessions() as session, session.begin():
        await store_workout(
            session,
            user_id=connection.user_id,
            source="strava",
            external_id="3",
            fields=workout_fields(make_activity(id=3)),
        )
    await db.execute(
        "UPDATE ingest.connections SET last_synced_at = now() - interval '2 days',"
        " connected_at = now() - interval '1 hour'"
    )
    listing = respx_mock.get(LIST).respond(200, json=[])
    await run_jobs_after(kit, connection, run_jobs)
    assert "after" not in listing.calls.last.request.url.params


async def test_list_items_that_cannot_be_trusted_are_skipped(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    make_summary: Factory,
    run_jobs: Any,
) -> None:
    items = [{"id": "x"}, make_summary(id=7, athlete={"id": 999}), make_summary(id=8)]
    respx_mock.get(LIST, params={"page": "1"}).respond(200, json=items)
    respx_mock.get(LIST, params={"page": "2"}).respond(200, json=[])
    await run_jobs_after(kit, connection, run_jobs)
    keys = await db.fetch("SELECT key FROM ingest.provider_jobs WHERE kind = 'activity'")
    assert [r["key"] for r in keys] == ["134815:8"]


@pytest.mark.parametrize("body", [{"message": "oops"}, "not json"])
async def test_a_list_that_is_not_an_array_is_retried(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    run_jobs: Any,
    body: Any,
) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    respx_mock.get(LIST).respond(200, content=content)
    await run_jobs_after(kit, connection, run_jobs)
    job = await db.fetchrow("SELECT status, attempts, payload::text AS p FROM ingest.provider_jobs")
    assert job["status"] == "pending" and job["attempts"] == 1


async def test_a_resync_with_nothing_stored_takes_the_whole_history(
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    clock: list[datetime],
    run_jobs: Any,
) -> None:
    await db.execute("UPDATE ingest.connections SET last_synced_at = now()")
    listing = respx_mock.get(LIST).respond(200, json=[])
    await run_jobs_after(kit, connection, run_jobs)
    assert "after" not in listing.calls.last.request.url.params
    assert listing.call_count == 1
