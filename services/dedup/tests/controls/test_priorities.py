"""`/priorities`: the athlete's own order per domain, applied at once and to later events."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.resolution.health import DEFAULT_HEALTH_PRIORITY
from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY
from aurora_dedup.timeline.events import TIMELINE_CONTROL_CHANGED
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.testing.tokens import TestIssuer

from ..health.factory import Health
from ..timeline.factory import (
    Workout,
    apply,
    audits,
    canonicals,
    expected_groups,
    garmin_and_whoop,
    ingest_all,
    outbox,
)
from ..timeline.http import assert_problem

Sessions = async_sessionmaker[AsyncSession]


def _domains(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["domain"]: item for item in body["domains"]}


async def test_defaults_until_the_athlete_chooses(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    response = await client.get("/priorities", headers=issuer.headers(uuid.uuid4()))
    assert response.status_code == 200
    domains = _domains(response.json())
    assert list(domains) == ["workouts", "sleep", "recovery"]
    assert domains["workouts"]["priorities"] == dict(DEFAULT_WORKOUT_PRIORITY)
    assert domains["sleep"]["priorities"] == dict(DEFAULT_HEALTH_PRIORITY)
    assert all(d["customized"] == {} for d in domains.values())


async def test_a_workouts_order_reresolves_and_announces_only_what_changed(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    garmin, whoop = garmin_and_whoop(me)
    solo = Workout(me, source="polar", sport="run", start_min=24 * 60)
    theirs = Workout(other, source="garmin")
    theirs_whoop = Workout(other, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54)
    await ingest_all(sessions, garmin, whoop, solo, theirs, theirs_whoop)
    auth = issuer.headers(me)
    before = len(await outbox(sessions))

    response = await client.put("/priorities/workouts", headers=auth, json={"whoop": 65})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customized"] == {"whoop": 65}
    assert body["priorities"] == {**DEFAULT_WORKOUT_PRIORITY, "whoop": 65}
    assert body["workouts_changed"] == 2  # the old canonical withdrawn, the new announced
    expected = expected_groups([garmin, whoop], priorities=body["priorities"])
    assert set(expected) == {whoop.record_id}
    stored = await canonicals(sessions)
    assert canonical_id_for(whoop.record_id) in stored
    assert canonical_id_for(garmin.record_id) not in stored
    assert stored[canonical_id_for(whoop.record_id)].reason == expected[whoop.record_id].reason
    # The other athlete's order is theirs: their garmin stays primary.
    assert canonical_id_for(theirs.record_id) in stored

    events = (await outbox(sessions))[before:]
    assert [e.type for e in events] == [
        "workout.unresolved",
        "workout.resolved",
        TIMELINE_CONTROL_CHANGED,
    ]
    assert events[1].payload["canonical_id"] == str(canonical_id_for(whoop.record_id))
    assert events[2].payload == {
        "user_id": str(me),
        "kind": "priorities.set",
        "detail": {"domain": "workouts", "priorities": {"whoop": 65}, "workouts_changed": 2},
    }
    (audit,) = await audits(sessions)
    assert audit == {
        "actor_id": str(me),
        "actor_role": "athlete",
        "action": "timeline.priorities.set",
        "subject_user_id": str(me),
        "resource": "/priorities/workouts",
        "details": events[2].payload["detail"],
    }

    # Setting the same order again changes no workout.
    again = await client.put("/priorities/workouts", headers=auth, json={"whoop": 65})
    assert again.json()["workouts_changed"] == 0
    assert [e.type for e in (await outbox(sessions))[before + 3 :]] == [TIMELINE_CONTROL_CHANGED]

    # Later events resolve with the athlete's order too.
    late = Workout(me, source="garmin", sport="run", start_min=24 * 60 + 1, minutes=58)
    late_whoop = Workout(me, source="whoop", device="WHOOP", sport="run", start_min=24 * 60)
    await apply(sessions, late.ingested(20))
    await apply(sessions, late_whoop.ingested(21))
    assert canonical_id_for(late_whoop.record_id) in await canonicals(sessions)

    mine = _domains((await client.get("/priorities", headers=auth)).json())
    assert mine["workouts"]["customized"] == {"whoop": 65}
    assert mine["sleep"]["customized"] == {}


async def test_reset_goes_back_to_the_defaults(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    garmin, whoop = garmin_and_whoop(me)
    await ingest_all(sessions, garmin, whoop)
    auth = issuer.headers(me)
    await client.put("/priorities/workouts", headers=auth, json={"whoop": 99, "garmin": 1})
    assert canonical_id_for(whoop.record_id) in await canonicals(sessions)

    reset = await client.delete("/priorities/workouts", headers=auth)
    assert reset.status_code == 200
    assert reset.json()["customized"] == {}
    assert reset.json()["workouts_changed"] == 2
    assert set(await canonicals(sessions)) == {canonical_id_for(garmin.record_id)}
    # Resetting what is already the default is a no-op, and leaves no audit record.
    assert (await client.delete("/priorities/workouts", headers=auth)).json()[
        "workouts_changed"
    ] == 0
    assert [a["action"] for a in await audits(sessions)] == [
        "timeline.priorities.set",
        "timeline.priorities.reset",
    ]


async def test_a_health_order_is_kept_and_touches_no_workout(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    await apply(sessions, Workout(me).ingested(1))
    auth = issuer.headers(me)
    before = await outbox(sessions)
    response = await client.put("/priorities/sleep", headers=auth, json={"garmin": 100})
    assert response.status_code == 200
    assert response.json()["priorities"]["garmin"] == 100
    assert response.json()["workouts_changed"] == 0
    domains = _domains((await client.get("/priorities", headers=auth)).json())
    assert domains["sleep"]["customized"] == {"garmin": 100}
    assert domains["recovery"]["customized"] == {}
    new = (await outbox(sessions))[len(before) :]
    assert [e.type for e in new] == [TIMELINE_CONTROL_CHANGED]


@pytest.mark.parametrize(
    ("domain", "body"),
    [
        ("workouts", {}),
        ("workouts", {"zwift": 10}),
        ("workouts", {"whoop": -1}),
        ("workouts", {"whoop": 1001}),
        ("workouts", {"whoop": "10"}),
        ("workouts", {"whoop": 10.5}),
        ("workouts", {"whoop": True}),
        ("workouts", {"whoop": None}),
        ("workouts", [10]),
        ("workouts", "whoop"),
        ("naps", {"whoop": 10}),
    ],
)
async def test_bad_orders_are_422_problems(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer, domain: str, body: Any
) -> None:
    response = await client.put(
        f"/priorities/{domain}", headers=issuer.headers(uuid.uuid4()), json=body
    )
    assert_problem(response, 422)
    assert await audits(sessions) == []


async def test_priorities_need_a_token_and_are_read_like_the_timeline(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    assert (await client.get("/priorities")).status_code == 401
    assert (await client.put("/priorities/workouts", json={"whoop": 1})).status_code == 401
    assert (await client.delete("/priorities/sleep")).status_code == 401

    athlete, admin_id = uuid.uuid4(), uuid.uuid4()
    await client.put("/priorities/recovery", headers=issuer.headers(athlete), json={"oura": 5})
    admin = issuer.headers(admin_id, role="admin")
    seen = await client.get(f"/priorities?athlete_id={athlete}", headers=admin)
    assert _domains(seen.json())["recovery"]["customized"] == {"oura": 5}
    nosy = await client.get(f"/priorities?athlete_id={athlete}", headers=issuer.headers(admin_id))
    assert nosy.status_code == 404
    # The admin's view is audited; a write with athlete_id still changes the admin's own order.
    await client.put(f"/priorities/recovery?athlete_id={athlete}", headers=admin, json={"oura": 9})
    seen = await client.get(f"/priorities?athlete_id={athlete}", headers=admin)
    assert _domains(seen.json())["recovery"]["customized"] == {"oura": 5}
    assert [(a["action"], a["subject_user_id"]) for a in await audits(sessions)] == [
        ("timeline.priorities.set", str(athlete)),
        ("view", str(athlete)),
        ("timeline.priorities.set", str(admin_id)),
        ("view", str(athlete)),
    ]


async def test_a_sleep_order_reelects_the_days_at_once(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    oura = Health(me, source="oura")
    whoop = Health(me, source="whoop", hours=7.5)
    await apply(sessions, oura.ingested(1))
    await apply(sessions, whoop.ingested(2))
    auth = issuer.headers(me)

    async def sleep_source() -> str:
        (day,) = (await client.get("/timeline", headers=auth)).json()["days"]
        return str(day["sleep"]["source"])

    assert await sleep_source() == "oura"
    response = await client.put("/priorities/sleep", headers=auth, json={"whoop": 100})
    assert (response.status_code, response.json()["workouts_changed"]) == (200, 0)
    assert await sleep_source() == "whoop"
    assert (await client.delete("/priorities/sleep", headers=auth)).status_code == 200
    assert await sleep_source() == "oura"
    # A recovery order leaves the sleep alone.
    await client.put("/priorities/recovery", headers=auth, json={"whoop": 100})
    assert await sleep_source() == "oura"
