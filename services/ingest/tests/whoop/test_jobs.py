"""whoop.jobs: webhook → job → fetch → record + event, score states, naps, the day, deletions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.jobs.service import Job, JobCancelled, enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop.jobs import HANDLERS, object_id

W = Any


async def test_workout_job_stores_the_record_raw_payload_and_event(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(json=w.workout())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    stored = await w.records(db)
    workout = stored[f"workout:{w.WORKOUT_ID}"]
    assert workout["kind"] == "workout"
    assert workout["sport"] == "run"
    assert json.loads(workout["metrics"])["strain"] == 8.2463
    assert workout["origin_device"] is None
    raw = await db.fetchrow(
        "SELECT provider, kind, body FROM ingest.raw_payloads WHERE id = $1",
        workout["raw_payload_id"],
    )
    assert (raw["provider"], raw["kind"]) == ("whoop", "workout")
    assert json.loads(raw["body"]) == w.workout()
    kinds = [kind for kind, _ in await w.events(db)]
    assert kinds.count("workout.ingested") == 1
    # The workout's day was re-derived through the cycle job.
    assert f"daily:{w.CYCLE_ID}" in stored
    assert {job["status"] for job in await w.jobs(db)} == {"done"}


async def test_pending_score_then_scored_update_is_one_record_updated(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    route = respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}")
    route.respond(json=w.pending_workout())
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    first = (await w.records(db))[f"workout:{w.WORKOUT_ID}"]
    assert json.loads(first["metrics"]) == {}
    assert json.loads(first["details"])["score_state"] == "PENDING_SCORE"

    route.respond(json=w.workout())
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    stored = await w.records(db)
    workouts = [key for key in stored if key.startswith("workout:")]
    assert workouts == [f"workout:{w.WORKOUT_ID}"]
    second = stored[f"workout:{w.WORKOUT_ID}"]
    assert second["revision"] == first["revision"] + 1
    assert json.loads(second["metrics"])["avg_hr"] == 123.0
    assert json.loads(second["details"])["score_state"] == "SCORED"
    ingested = [p for kind, p in await w.events(db) if kind == "workout.ingested"]
    assert len(ingested) == 2
    assert ingested[-1]["metrics"]["strain"] == 8.2463


async def test_unscorable_workout_is_kept_without_score(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(
        json=w.unscored(w.workout(), "UNSCORABLE")
    )
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    record = (await w.records(db))[f"workout:{w.WORKOUT_ID}"]
    assert json.loads(record["metrics"]) == {}
    assert json.loads(record["details"])["score_state"] == "UNSCORABLE"


async def test_redelivery_makes_one_record_and_one_event(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    w: W,
) -> None:
    """100 identical webhooks (new trace ids, fetched between some of them): one record."""
    athlete = await w.connect(kit)
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(json=w.workout())
    w.mock_day(respx_mock, w)
    for number in range(100):
        body = w.event(trace_id=f"trace-{number}")
        response = await client.post(
            "/webhooks/whoop", content=body, headers=w.signed_headers(body)
        )
        assert response.status_code == 200
        if number % 25 == 0:
            await w.drain(kit)
    await w.drain(kit)
    stored = await w.records(db)
    assert [k for k in stored if k.startswith("workout:")] == [f"workout:{w.WORKOUT_ID}"]
    assert stored[f"workout:{w.WORKOUT_ID}"]["revision"] == 1
    assert [kind for kind, _ in await w.events(db)].count("workout.ingested") == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM ingest.raw_payloads WHERE kind = 'workout' AND user_id = $1",
            athlete.user_id,
        )
        == 1
    )


async def test_sleep_job_stores_the_sleep_and_derives_the_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "sleep", w.SLEEP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert set(stored) == {
        f"sleep:{w.SLEEP_ID}",
        f"recovery:{w.SLEEP_ID}",
        f"daily:{w.CYCLE_ID}",
    }
    daily = stored[f"daily:{w.CYCLE_ID}"]
    assert daily["kind"] == "daily"
    assert str(daily["local_date"]) == "2022-04-24"
    metrics = json.loads(daily["metrics"])
    assert metrics["recovery_score"] == 44.0
    assert metrics["day_strain"] == 5.2951527
    assert metrics["sleep_performance_pct"] == 98.0
    assert stored[f"recovery:{w.SLEEP_ID}"]["kind"] == "recovery"
    health = [p for kind, p in await w.events(db) if kind == "health.ingested"]
    assert sorted(p["kind"] for p in health) == ["daily", "recovery", "sleep"]


async def test_recovery_event_names_the_sleep_and_reaches_the_recovery(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "recovery", w.SLEEP_ID)
    await w.drain(kit)
    recovery = (await w.records(db))[f"recovery:{w.SLEEP_ID}"]
    assert json.loads(recovery["metrics"])["hrv_rmssd_ms"] == 31.813562


async def test_recovery_not_scored_yet_leaves_the_day_without_it(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    w.mock_day(respx_mock, w, recovery=None, sleep=w.unscored(w.sleep()))
    await w.queue(kit, athlete, "cycle", str(w.CYCLE_ID), cycle_id=w.CYCLE_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert f"recovery:{w.SLEEP_ID}" not in stored
    daily = json.loads(stored[f"daily:{w.CYCLE_ID}"]["details"])
    assert daily["parts"] == ["cycle", "sleep"]
    assert daily["score_state"]["sleep"] == "PENDING_SCORE"
    assert {job["status"] for job in await w.jobs(db)} == {"done"}


async def test_nap_is_kept_apart_from_the_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.NAP_ID}").respond(json=w.nap())
    await w.queue(kit, athlete, "sleep", w.NAP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert set(stored) == {f"sleep:{w.NAP_ID}"}  # no day re-derived for a nap
    assert json.loads(stored[f"sleep:{w.NAP_ID}"]["metrics"])["nap"] == 1.0
    assert [job["kind"] for job in await w.jobs(db)] == ["sleep"]


async def test_day_with_a_nap_and_a_main_sleep_keeps_both_sleeps(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.NAP_ID}").respond(json=w.nap())
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "sleep", w.NAP_ID)
    await w.queue(kit, athlete, "sleep", w.SLEEP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert {k for k in stored if k.startswith("sleep:")} == {
        f"sleep:{w.NAP_ID}",
        f"sleep:{w.SLEEP_ID}",
    }
    daily = json.loads(stored[f"daily:{w.CYCLE_ID}"]["details"])
    assert daily["sleep_id"] == w.SLEEP_ID


async def test_429_reschedules_at_the_reset_without_spending_an_attempt(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(
        429, headers={"X-RateLimit-Reset": "30"}
    )
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    before = datetime.now(UTC)
    assert await run_due_jobs(kit, {"whoop": HANDLERS}) == 1
    [job] = await w.jobs(db)
    assert job["status"] == "pending"
    assert job["attempts"] == 0
    assert before + timedelta(seconds=29) <= job["not_before"] <= before + timedelta(seconds=35)
    assert await w.records(db) == {}


async def test_unusable_connection_cancels_the_job(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    route = respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(json=w.workout())
    await db.execute("UPDATE ingest.connections SET status = 'degraded'")
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    [job] = await w.jobs(db)
    assert job["status"] == "cancelled"
    assert route.call_count == 0


async def test_malformed_provider_payload_fails_the_job_cleanly(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(
        json=w.workout(score={"average_heart_rate": 9000})
    )
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await run_due_jobs(kit, {"whoop": HANDLERS})
    [job] = await w.jobs(db)
    assert job["status"] == "pending"  # retried later with back-off
    assert job["attempts"] == 1
    assert "unexpected WHOOP Workout payload" in job["last_error"]
    assert await w.records(db) == {}


def test_object_id_comes_from_the_payload_or_the_key() -> None:
    import uuid

    user = uuid.uuid4()
    the_id = uuid.uuid4()

    def job(key: str, payload: dict[str, Any]) -> Job:
        return Job(
            id=uuid.uuid4(),
            provider="whoop",
            kind="workout",
            key=key,
            user_id=user,
            connection_id=None,
            payload=payload,
        )

    assert object_id(job(f"{user}:{the_id}", {})) == the_id
    assert object_id(job("x", {"id": str(the_id)})) == the_id
    with pytest.raises(JobCancelled):
        object_id(job("x:nope", {}))


async def test_jobs_without_connection_or_cycle_id_are_cancelled(
    kit: ProviderKit, db: asyncpg.Connection, w: W
) -> None:
    import uuid

    user = uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        for kind, key, payload in [
            ("workout", f"{user}:{w.WORKOUT_ID}", {}),
            ("cycle", f"{user}:x", {"cycle_id": "abc"}),
            ("backfill", "none", {}),
        ]:
            await enqueue(
                session,
                provider="whoop",
                kind=kind,
                key=key,
                user_id=user,
                connection_id=None,
                payload=payload,
            )
    await w.drain(kit)
    assert {job["status"] for job in await w.jobs(db)} == {"cancelled"}


async def test_workout_outside_any_cycle_queues_no_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(json=w.workout())
    later = w.cycle(id=1, start="2022-04-25T03:10:00Z", end=None)
    respx_mock.get(f"{w.API}/v2/cycle").respond(json=w.page([{"id": "broken"}, later]))
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    assert set(await w.records(db)) == {f"workout:{w.WORKOUT_ID}"}
    assert [job["kind"] for job in await w.jobs(db)] == ["workout"]


async def test_signed_sleep_webhook_ends_as_health_records_in_the_outbox(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    w: W,
) -> None:
    athlete = await w.connect(kit)
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    body = w.event("recovery.updated", w.SLEEP_ID)
    response = await client.post("/webhooks/whoop", content=body, headers=w.signed_headers(body))
    assert response.json() == {"status": "queued"}
    await w.drain(kit)
    health = [p for kind, p in await w.events(db) if kind == "health.ingested"]
    assert sorted(p["kind"] for p in health) == ["daily", "recovery", "sleep"]
    assert all(p["source"] == "whoop" for p in health)
    envelopes = await db.fetch("SELECT user_id FROM ingest.outbox")
    assert {row["user_id"] for row in envelopes} == {athlete.user_id}
