"""whoop.jobs: deletions, by event or because WHOOP's API no longer has the object."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import respx

from aurora_ingest.providers.kit import ProviderKit

W = Any


async def test_workout_deletion_removes_the_record_with_an_event(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(json=w.workout())
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    await w.queue(kit, athlete, "workout_deleted", w.WORKOUT_ID)
    await w.drain(kit)
    record = (await w.records(db))[f"workout:{w.WORKOUT_ID}"]
    assert record["deleted_at"] is not None
    removed = [p for kind, p in await w.events(db) if kind == "workout.removed"]
    assert [p["external_id"] for p in removed] == [f"workout:{w.WORKOUT_ID}"]
    # A second deletion (WHOOP retries) changes nothing.
    await w.queue(kit, athlete, "workout_deleted", w.WORKOUT_ID)
    await w.drain(kit)
    assert [kind for kind, _ in await w.events(db)].count("workout.removed") == 1


async def test_a_workout_gone_at_whoop_is_removed(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    route = respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}")
    route.respond(json=w.workout())
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    route.respond(404)
    await w.queue(kit, athlete, "workout", w.WORKOUT_ID)
    await w.drain(kit)
    assert (await w.records(db))[f"workout:{w.WORKOUT_ID}"]["deleted_at"] is not None


async def test_sleep_deletion_takes_its_recovery_and_re_derives_the_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "sleep", w.SLEEP_ID)
    await w.drain(kit)
    respx_mock.routes.clear()
    w.mock_day(respx_mock, w, recovery=None, sleep=None)
    await w.queue(kit, athlete, "sleep_deleted", w.SLEEP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert stored[f"sleep:{w.SLEEP_ID}"]["deleted_at"] is not None
    assert stored[f"recovery:{w.SLEEP_ID}"]["deleted_at"] is not None
    daily = stored[f"daily:{w.CYCLE_ID}"]
    assert daily["deleted_at"] is None
    assert json.loads(daily["details"])["parts"] == ["cycle"]
    assert "recovery_score" not in json.loads(daily["metrics"])
    removed = sorted(p["external_id"] for kind, p in await w.events(db) if kind == "health.removed")
    assert removed == [f"recovery:{w.SLEEP_ID}", f"sleep:{w.SLEEP_ID}"]


async def test_recovery_deletion_removes_it_and_re_derives_the_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "cycle", str(w.CYCLE_ID), cycle_id=w.CYCLE_ID)
    await w.drain(kit)
    respx_mock.routes.clear()
    w.mock_day(respx_mock, w, recovery=None, sleep=w.sleep())
    await w.queue(kit, athlete, "recovery_deleted", w.SLEEP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert stored[f"recovery:{w.SLEEP_ID}"]["deleted_at"] is not None
    assert stored[f"sleep:{w.SLEEP_ID}"]["deleted_at"] is None
    assert json.loads(stored[f"daily:{w.CYCLE_ID}"]["details"])["parts"] == ["cycle", "sleep"]


async def test_deleting_what_was_never_stored_is_a_no_op(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, w: W
) -> None:
    await w.queue(kit, athlete, "sleep_deleted", w.SLEEP_ID)
    await w.queue(kit, athlete, "recovery_deleted", w.NAP_ID)
    await w.drain(kit)
    assert await w.records(db) == {}
    assert {job["kind"]: job["status"] for job in await w.jobs(db)} == {
        "sleep_deleted": "done",
        "recovery_deleted": "done",
    }


async def test_a_cycle_gone_at_whoop_removes_its_day(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "cycle", str(w.CYCLE_ID), cycle_id=w.CYCLE_ID)
    await w.drain(kit)
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}").respond(404)
    await w.queue(kit, athlete, "cycle", str(w.CYCLE_ID), cycle_id=w.CYCLE_ID)
    await w.drain(kit)
    assert (await w.records(db))[f"daily:{w.CYCLE_ID}"]["deleted_at"] is not None


async def test_a_sleep_gone_at_whoop_is_forgotten_with_its_recovery(
    kit: ProviderKit, athlete: Any, db: asyncpg.Connection, respx_mock: respx.MockRouter, w: W
) -> None:
    w.mock_day(respx_mock, w, recovery=w.recovery(), sleep=w.sleep())
    await w.queue(kit, athlete, "cycle", str(w.CYCLE_ID), cycle_id=w.CYCLE_ID)
    await w.drain(kit)
    respx_mock.routes.clear()
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(404)
    w.mock_day(respx_mock, w)
    await w.queue(kit, athlete, "sleep", w.SLEEP_ID)
    await w.drain(kit)
    stored = await w.records(db)
    assert stored[f"sleep:{w.SLEEP_ID}"]["deleted_at"] is not None
    assert stored[f"recovery:{w.SLEEP_ID}"]["deleted_at"] is not None
    assert json.loads(stored[f"daily:{w.CYCLE_ID}"]["details"])["parts"] == ["cycle"]
