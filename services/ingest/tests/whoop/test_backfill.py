"""whoop.backfill: every collection, resumable cursor, safety limits, last_synced_at."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from redis.asyncio import Redis

from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop.backfill import CHECKPOINT_PAGES, advance, initial_cursor
from aurora_ingest.whoop.jobs import HANDLERS

W = Any
OTHER_WORKOUT = "0b7f3f0e-6d55-4c39-9f38-0d3a5a1e2b7c"


async def drain(kit: ProviderKit, rounds: int = 30) -> None:
    for _ in range(rounds):
        if not await run_due_jobs(kit, {"whoop": HANDLERS}):
            return
    raise AssertionError("jobs keep coming")


async def start_backfill(kit: ProviderKit, athlete: Any) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="whoop",
            kind="backfill",
            key=str(athlete.connection_id),
            user_id=athlete.user_id,
            connection_id=athlete.connection_id,
        )


def paged(pages: dict[str | None, tuple[list[dict[str, Any]], str | None]]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        records, following = pages[request.url.params.get("nextToken")]
        body: dict[str, Any] = {"records": records}
        if following is not None:
            body["next_token"] = following
        return httpx.Response(200, json=body)

    return answer


def mock_collections(respx_mock: respx.MockRouter, w: W) -> dict[str, respx.Route]:
    second = w.workout(id=OTHER_WORKOUT, sport_name="cycling")
    routes = {
        "workouts": respx_mock.get(f"{w.API}/v2/activity/workout").mock(
            side_effect=paged({None: ([w.workout()], "w2"), "w2": ([second], None)})
        ),
        "sleeps": respx_mock.get(f"{w.API}/v2/activity/sleep").mock(
            side_effect=paged({None: ([w.sleep(), w.nap(), {"id": "broken"}], None)})
        ),
        "cycles": respx_mock.get(f"{w.API}/v2/cycle").mock(
            side_effect=paged({None: ([w.cycle()], None)})
        ),
    }
    base = f"{w.API}/v2/cycle/{w.CYCLE_ID}"
    respx_mock.get(base).respond(json=w.cycle())
    respx_mock.get(f"{base}/recovery").respond(json=w.recovery())
    respx_mock.get(f"{base}/sleep").respond(json=w.sleep())
    return routes


async def external_ids(db: asyncpg.Connection) -> set[str]:
    return {row["external_id"] for row in await db.fetch("SELECT external_id FROM ingest.records")}


async def jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT kind, status, attempts, payload::text AS payload, last_error"
        " FROM ingest.provider_jobs ORDER BY created_at"
    )
    return rows


async def test_backfill_walks_every_collection_and_derives_the_days(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    routes = mock_collections(respx_mock, w)
    before = datetime.now(UTC)
    await start_backfill(kit, athlete)
    await drain(kit)
    assert await external_ids(db) == {
        f"workout:{w.WORKOUT_ID}",
        f"workout:{OTHER_WORKOUT}",
        f"sleep:{w.SLEEP_ID}",
        f"sleep:{w.NAP_ID}",
        f"recovery:{w.SLEEP_ID}",
        f"daily:{w.CYCLE_ID}",
    }
    first = routes["workouts"].calls[0].request.url.params
    assert first["limit"] == "25"
    start = datetime.fromisoformat(first["start"].replace("Z", "+00:00"))
    assert abs(start - (before - timedelta(days=90))) < timedelta(minutes=1)
    assert routes["workouts"].call_count == 2
    assert {job["kind"]: job["status"] for job in await jobs(db)} == {
        "backfill": "done",
        "cycle": "done",
    }
    synced = await db.fetchval("SELECT last_synced_at FROM ingest.connections")
    assert abs(synced - before) < timedelta(minutes=1)
    pages = await db.fetchval("SELECT count(*) FROM ingest.raw_payloads WHERE kind LIKE '%_page'")
    assert pages == 4


async def test_a_later_backfill_starts_two_days_before_the_last_sync(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    last = datetime(2025, 5, 1, tzinfo=UTC)
    await db.execute("UPDATE ingest.connections SET last_synced_at = $1", last)
    routes = mock_collections(respx_mock, w)
    await start_backfill(kit, athlete)
    await drain(kit)
    start = routes["cycles"].calls[0].request.url.params["start"]
    assert start == "2025-04-29T00:00:00.000Z"


async def test_429_mid_backfill_resumes_at_the_same_page(
    kit: ProviderKit,
    athlete: Any,
    db: asyncpg.Connection,
    redis: Redis,
    respx_mock: respx.MockRouter,
    w: W,
) -> None:
    routes = mock_collections(respx_mock, w)
    healthy = paged(
        {
            None: ([w.workout()], "w2"),
            "w2": ([w.workout(id=OTHER_WORKOUT, sport_name="cycling")], None),
        }
    )

    def second_page_limited(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("nextToken") == "w2":
            return httpx.Response(429, headers={"X-RateLimit-Reset": "20"})
        response: httpx.Response = healthy(request)
        return response

    routes["workouts"].side_effect = second_page_limited
    await start_backfill(kit, athlete)
    before = datetime.now(UTC)
    await run_due_jobs(kit, {"whoop": HANDLERS})
    [job] = await jobs(db)
    cursor = json.loads(job["payload"])
    assert job["status"] == "pending"
    assert job["attempts"] == 0
    assert (cursor["phase"], cursor["next_token"], cursor["pages"]) == ("workouts", "w2", 1)
    not_before = await db.fetchval("SELECT not_before FROM ingest.provider_jobs")
    assert before + timedelta(seconds=19) <= not_before <= before + timedelta(seconds=25)
    assert await external_ids(db) == {f"workout:{w.WORKOUT_ID}"}

    # The window opens: the sync asks for page 2, never page 1 again.
    routes["workouts"].side_effect = healthy
    await redis.flushdb()
    await db.execute("UPDATE ingest.provider_jobs SET not_before = now()")
    await drain(kit)
    tokens = [call.request.url.params.get("nextToken") for call in routes["workouts"].calls]
    assert tokens == [None, "w2", "w2"]
    assert f"workout:{OTHER_WORKOUT}" in await external_ids(db)
    assert {job["status"] for job in await jobs(db)} == {"done"}


async def test_repeating_token_ends_a_collection_and_the_sync_moves_on(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    routes = mock_collections(respx_mock, w)
    routes["workouts"].side_effect = paged(
        {None: ([w.workout()], "loop"), "loop": ([w.workout()], "loop")}
    )
    await start_backfill(kit, athlete)
    await drain(kit)
    assert routes["workouts"].call_count == 2
    assert routes["cycles"].call_count == 1
    assert f"daily:{w.CYCLE_ID}" in await external_ids(db)


async def test_page_limit_ends_a_collection(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    kit.settings.sync_max_pages = 3
    routes = mock_collections(respx_mock, w)
    counter = iter(range(1000))

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=w.page([], f"t{next(counter)}"))

    routes["sleeps"].side_effect = endless
    await start_backfill(kit, athlete)
    await drain(kit)
    assert routes["sleeps"].call_count == 3
    assert {job["status"] for job in await jobs(db)} == {"done"}


async def test_long_backfill_checkpoints_its_cursor(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    routes = mock_collections(respx_mock, w)
    total = CHECKPOINT_PAGES + 3
    tokens: dict[str | None, tuple[list[dict[str, Any]], str | None]] = {
        (None if n == 0 else f"p{n}"): ([], f"p{n + 1}" if n + 1 < total else None)
        for n in range(total)
    }
    routes["workouts"].side_effect = paged(tokens)
    await start_backfill(kit, athlete)
    await run_due_jobs(kit, {"whoop": HANDLERS})
    [job] = await jobs(db)
    cursor = json.loads(job["payload"])
    assert job["status"] == "pending"
    assert cursor["pages"] == CHECKPOINT_PAGES
    assert cursor["next_token"] == f"p{CHECKPOINT_PAGES}"
    await drain(kit)
    assert routes["workouts"].call_count == total  # no page read twice
    assert {job["status"] for job in await jobs(db)} == {"done"}


async def test_backfill_of_a_revoked_connection_is_cancelled(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, w: W
) -> None:
    await start_backfill(kit, athlete)
    await db.execute(
        "UPDATE ingest.connections SET status = 'revoked', revoked_at = now(),"
        " access_token_enc = NULL, refresh_token_enc = NULL"
    )
    await drain(kit)
    assert [job["status"] for job in await jobs(db)] == ["cancelled"]


def test_cursor_moves_through_the_phases() -> None:
    now = datetime(2025, 5, 26, tzinfo=UTC)
    cursor = initial_cursor(None, now)
    assert cursor["phase"] == "workouts"
    assert cursor["start"] == (now - timedelta(days=90)).isoformat()
    assert cursor["end"] == now.isoformat()
    step = advance(cursor, "a", max_pages=10)
    assert step is not None
    assert (step["phase"], step["next_token"], step["pages"], step["seen"]) == (
        "workouts",
        "a",
        1,
        [],
    )
    step = advance(step, "b", max_pages=10)
    assert step is not None and step["seen"] == ["a"]
    step = advance(step, None, max_pages=10)
    assert step is not None
    assert (step["phase"], step["next_token"], step["pages"]) == ("sleeps", None, 0)
    step = advance({**step, "phase": "cycles"}, None, max_pages=10)
    assert step is None


@pytest.mark.parametrize("payload", [{}, {"phase": "nonsense"}, {"phase": "sleeps", "start": 5}])
async def test_a_bad_cursor_starts_the_sync_afresh(
    kit: ProviderKit,
    athlete: Any,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    w: W,
    payload: dict[str, Any],
) -> None:
    routes = mock_collections(respx_mock, w)
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="whoop",
            kind="backfill",
            key=str(athlete.connection_id),
            user_id=athlete.user_id,
            connection_id=athlete.connection_id,
            payload=payload,
        )
    await drain(kit)
    assert routes["workouts"].call_count == 2
    assert {job["status"] for job in await jobs(db)} == {"done"}
