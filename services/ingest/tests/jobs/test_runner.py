"""The provider job queue: coalescing, outcomes of handlers, leases. Real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from aurora_ingest.jobs.runner import retry_delay, run_due_jobs
from aurora_ingest.jobs.service import (
    Job,
    JobCancelled,
    JobFailed,
    JobRescheduled,
    cancel_for_connection,
    enqueue,
)
from aurora_ingest.providers.http import ProviderRateLimited, ProviderUnavailable
from aurora_ingest.providers.kit import ProviderKit

# Ahead of the database clock, so jobs queued "now" during a test are due for it.
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
USER = uuid.uuid4()
CONNECTION = uuid.uuid4()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(kit: ProviderKit) -> Clock:
    clock = Clock(T0)
    kit.clock = clock
    return clock


async def queue(kit: ProviderKit, kind: str = "activity", key: str = "1", **extra: Any) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind=kind,
            key=key,
            user_id=USER,
            connection_id=CONNECTION,
            **extra,
        )


async def jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(  # type: ignore[no-any-return]
        "SELECT kind, key, status, attempts, not_before, payload::text AS payload, last_error "
        "FROM ingest.provider_jobs ORDER BY created_at, id"
    )


def test_retry_delay_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(20) == timedelta(hours=1)


async def test_a_flood_for_one_key_coalesces_into_one_pending_job(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    for _ in range(100):
        await queue(kit, not_before=T0 + timedelta(minutes=5))
    await queue(kit, not_before=T0)  # an earlier due time wins
    await queue(kit, key="2", not_before=T0)
    rows = await jobs(db)
    assert [(r["key"], r["status"], r["not_before"]) for r in rows] == [
        ("1", "pending", T0),
        ("2", "pending", T0),
    ]


async def test_handlers_run_once_and_jobs_end_done(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    seen: list[Job] = []

    async def handler(_: ProviderKit, job: Job) -> None:
        seen.append(job)

    await queue(kit, payload={"object_id": 7}, not_before=T0)
    await queue(kit, key="later", not_before=T0 + timedelta(hours=1))
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 1
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 0
    assert [(j.key, j.payload, j.user_id, j.connection_id) for j in seen] == [
        ("1", {"object_id": 7}, USER, CONNECTION)
    ]
    assert [r["status"] for r in await jobs(db)] == ["done", "pending"]


async def test_a_rate_limit_waits_for_the_window_without_spending_an_attempt(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    opens = T0 + timedelta(minutes=15)
    calls = 0

    async def handler(_: ProviderKit, job: Job) -> None:
        nonlocal calls
        calls += 1
        if clock.now < opens:
            raise ProviderRateLimited("spent", retry_at=opens)

    await queue(kit, not_before=T0)
    await run_due_jobs(kit, {"strava": {"activity": handler}})
    (row,) = await jobs(db)
    assert (row["status"], row["attempts"], row["not_before"]) == ("pending", 0, opens)
    clock.now = opens - timedelta(seconds=1)
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 0
    clock.now = opens
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 1
    (row,) = await jobs(db)
    assert (row["status"], calls) == ("done", 2)


async def test_a_rescheduled_job_keeps_its_cursor(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    pages: list[int] = []

    async def backfill(_: ProviderKit, job: Job) -> None:
        page = int(job.payload.get("page", 1))
        pages.append(page)
        if page < 3:
            raise JobRescheduled(clock.now, {"page": page + 1})

    await queue(kit, kind="backfill", key=str(CONNECTION), not_before=T0)
    while await run_due_jobs(kit, {"strava": {"backfill": backfill}}):
        pass
    assert pages == [1, 2, 3]
    (row,) = await jobs(db)
    assert row["status"] == "done" and row["payload"] == '{"page": 3}'


async def test_failures_back_off_then_fail_with_the_error(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    async def flaky(_: ProviderKit, job: Job) -> None:
        raise ProviderUnavailable("strava answered 503")

    await queue(kit, not_before=T0)
    for attempt in range(1, kit.settings.jobs_max_attempts + 1):
        assert await run_due_jobs(kit, {"strava": {"activity": flaky}}) == 1
        (row,) = await jobs(db)
        assert row["attempts"] == attempt
        assert "strava answered 503" in row["last_error"]
        if attempt < kit.settings.jobs_max_attempts:
            assert row["status"] == "pending"
            assert row["not_before"] == clock.now + retry_delay(attempt)
            clock.now = row["not_before"]
    assert row["status"] == "failed"


async def test_a_hopeless_job_fails_at_once(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    async def unmappable(_: ProviderKit, job: Job) -> None:
        raise JobFailed("activity has no elapsed time")

    await queue(kit, not_before=T0)
    assert await run_due_jobs(kit, {"strava": {"activity": unmappable}}) == 1
    (row,) = await jobs(db)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "JobFailed: activity has no elapsed time"


async def test_cancellation_and_unknown_kinds_end_the_job(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    async def revoked(_: ProviderKit, job: Job) -> None:
        raise JobCancelled("connection revoked")

    await queue(kit, not_before=T0)
    await queue(kit, kind="mystery", not_before=T0)
    assert await run_due_jobs(kit, {"strava": {"activity": revoked}}) == 2
    rows = await jobs(db)
    assert [(r["status"], r["last_error"]) for r in rows] == [
        ("cancelled", "connection revoked"),
        ("cancelled", "no handler for strava.mystery"),
    ]


async def test_cancel_for_connection_drops_only_its_pending_work(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    await queue(kit, key="a", not_before=T0)
    await queue(kit, key="b", not_before=T0)
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind="activity",
            key="other",
            user_id=USER,
            connection_id=uuid.uuid4(),
        )
        assert await cancel_for_connection(session, CONNECTION) == 2
    assert [r["status"] for r in await jobs(db)] == ["cancelled", "cancelled", "pending"]


async def test_an_event_during_a_run_is_fetched_again_afterwards(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    """A webhook that arrives while its object is being fetched must not be absorbed."""
    runs = 0

    async def handler(k: ProviderKit, job: Job) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await queue(k, not_before=T0)  # the update arrives mid-fetch

    await queue(kit, not_before=T0)
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 1
    assert [r["status"] for r in await jobs(db)] == ["done", "pending"]
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 1
    assert runs == 2


async def test_a_rate_limited_job_yields_to_a_twin_queued_meanwhile(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    opens = T0 + timedelta(minutes=15)

    async def handler(k: ProviderKit, job: Job) -> None:
        await queue(k, not_before=T0 + timedelta(hours=1))
        raise ProviderRateLimited("spent", retry_at=opens)

    await queue(kit, not_before=T0)
    await run_due_jobs(kit, {"strava": {"activity": handler}})
    rows = await jobs(db)
    assert [(r["status"], r["not_before"]) for r in rows] == [
        ("cancelled", T0),
        ("pending", opens),
    ]


async def test_running_work_is_left_alone_within_its_lease(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    await queue(kit, not_before=T0)
    await db.execute("UPDATE ingest.provider_jobs SET status = 'running', updated_at = $1", T0)

    async def handler(_: ProviderKit, job: Job) -> None:
        raise AssertionError("a job inside its lease belongs to a live worker")

    clock.now = T0 + timedelta(seconds=kit.settings.jobs_lease_s - 1)
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 0
    assert [r["status"] for r in await jobs(db)] == ["running"]


async def test_work_of_a_dead_worker_is_taken_up_after_its_lease(
    kit: ProviderKit, db: asyncpg.Connection, clock: Clock
) -> None:
    await queue(kit, not_before=T0)
    await queue(kit, key="twinned", not_before=T0)
    await db.execute("UPDATE ingest.provider_jobs SET status = 'running', updated_at = $1", T0)
    await queue(kit, key="twinned", not_before=T0)  # a new request for one of them
    ran: list[str] = []

    async def handler(_: ProviderKit, job: Job) -> None:
        ran.append(job.key)

    clock.now = T0 + timedelta(seconds=kit.settings.jobs_lease_s + 1)
    # The orphan "1" runs again; the orphan of "twinned" yields to the pending twin.
    assert await run_due_jobs(kit, {"strava": {"activity": handler}}) == 2
    assert sorted(ran) == ["1", "twinned"]
    statuses = sorted(r["status"] for r in await jobs(db))
    assert statuses == ["cancelled", "done", "done"]
