"""`/timeline/links`: "these are the same" / "these are different sessions", kept and audited."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.timeline.events import TIMELINE_CONTROL_CHANGED
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.testing.tokens import TestIssuer

from ..timeline.factory import (
    Workout,
    apply,
    audits,
    canonicals,
    ingest_all,
    one_session,
    outbox,
    records,
)
from ..timeline.http import assert_problem

Sessions = async_sessionmaker[AsyncSession]


async def _groups(sessions: Sessions, user: uuid.UUID) -> set[frozenset[uuid.UUID]]:
    """The user's sessions as sets of record ids."""
    by_canonical: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in (await records(sessions)).values():
        if row.user_id == user and row.canonical_id is not None:
            by_canonical.setdefault(row.canonical_id, set()).add(row.id)
    return {frozenset(ids) for ids in by_canonical.values()}


def ids(*workouts: Workout) -> frozenset[uuid.UUID]:
    return frozenset(w.record_id for w in workouts)


async def _link(
    client: httpx.AsyncClient, auth: dict[str, str], relation: str, *workouts: Workout
) -> dict[str, Any]:
    body = {"relation": relation, "record_ids": [str(w.record_id) for w in workouts]}
    response = await client.post("/timeline/links", headers=auth, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_same_merges_what_the_rules_keep_apart_and_delete_undoes_it(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    morning = Workout(me, source="garmin", device="Garmin Edge 530")
    later = Workout(me, source="whoop", device="WHOOP 4.0", start_min=180, minutes=50)
    await ingest_all(sessions, morning, later)
    assert await _groups(sessions, me) == {ids(morning), ids(later)}
    auth = issuer.headers(me)
    before = len(await outbox(sessions))

    link = await _link(client, auth, "same", later, morning)
    assert link["relation"] == "same"
    assert link["record_ids"] == sorted(str(i) for i in ids(morning, later))
    assert (link["anchor_id"], link["in_effect"]) == (None, True)
    assert await _groups(sessions, me) == {ids(morning, later)}
    # The garmin record stays primary; the whoop one's canonical is withdrawn.
    assert set(await canonicals(sessions)) == {canonical_id_for(morning.record_id)}
    events = (await outbox(sessions))[before:]
    assert [e.type for e in events] == [
        "workout.unresolved",
        "workout.resolved",
        TIMELINE_CONTROL_CHANGED,
    ]
    assert events[1].payload["duplicate_record_ids"] == [str(later.record_id)]
    assert events[2].user_id == me
    assert events[2].payload["kind"] == "link.created"
    assert events[2].payload["detail"]["link_id"] == link["id"]
    (audit,) = await audits(sessions)
    assert audit["action"] == "timeline.link.created"
    assert audit["actor_id"] == audit["subject_user_id"] == str(me)
    assert audit["resource"] == f"/timeline/links/{link['id']}"
    assert audit["details"]["relation"] == "same"

    timeline = (await client.get("/timeline", headers=auth)).json()["items"]
    assert [item["id"] for item in timeline] == [str(canonical_id_for(morning.record_id))]
    detail = await client.get(f"/timeline/workouts/{timeline[0]['id']}", headers=auth)
    assert detail.json()["link_ids"] == [link["id"]]

    deleted = await client.delete(f"/timeline/links/{link['id']}", headers=auth)
    assert deleted.status_code == 204
    assert await _groups(sessions, me) == {ids(morning), ids(later)}
    assert [a["action"] for a in await audits(sessions)] == [
        "timeline.link.created",
        "timeline.link.deleted",
    ]
    assert (await client.get("/timeline/links", headers=auth)).json() == {
        "items": [],
        "more": False,
    }
    again = await client.delete(f"/timeline/links/{link['id']}", headers=auth)
    assert again.status_code == 404


async def test_apart_splits_a_pair_and_the_latest_decision_wins(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    garmin, strava, whoop = one_session(me)
    await ingest_all(sessions, garmin, strava, whoop)
    assert await _groups(sessions, me) == {ids(garmin, strava, whoop)}
    auth = issuer.headers(me)

    apart = await _link(client, auth, "apart", garmin, whoop)
    groups = await _groups(sessions, me)
    assert not any(ids(garmin, whoop) <= g for g in groups)
    assert ids(garmin, strava) <= next(g for g in groups if garmin.record_id in g)

    same = await _link(client, auth, "same", whoop, garmin)
    assert await _groups(sessions, me) == {ids(garmin, strava, whoop)}
    listed = (await client.get("/timeline/links", headers=auth)).json()["items"]
    assert [(x["id"], x["in_effect"]) for x in listed] == [
        (same["id"], True),
        (apart["id"], False),  # superseded: its only pair was decided again
    ]
    page = (await client.get("/timeline/links?limit=1", headers=auth)).json()
    assert ([x["id"] for x in page["items"]], page["more"]) == ([same["id"]], True)
    too_many = await client.get("/timeline/links?limit=501", headers=auth)
    assert too_many.status_code == 422

    # Withdrawing the newer decision brings the older one back.
    assert (await client.delete(f"/timeline/links/{same['id']}", headers=auth)).status_code == 204
    assert not any(ids(garmin, whoop) <= g for g in await _groups(sessions, me))
    listed = (await client.get("/timeline/links", headers=auth)).json()["items"]
    assert [(x["id"], x["in_effect"]) for x in listed] == [(apart["id"], True)]


async def test_decisions_survive_later_events(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    garmin, _, whoop = one_session(me)
    await ingest_all(sessions, garmin, whoop)
    auth = issuer.headers(me)
    await _link(client, auth, "apart", garmin, whoop)
    assert await _groups(sessions, me) == {ids(garmin), ids(whoop)}

    # An edit of one record, a new overlapping record, a removal and a re-ingest.
    await apply(sessions, whoop.ingested(10, start_min=1, minutes=57))
    apple = Workout(me, source="apple_health", device="Apple Watch", start_min=1, minutes=58)
    await apply(sessions, apple.ingested(11))
    groups = await _groups(sessions, me)
    assert not any(ids(garmin, whoop) <= g for g in groups)
    assert sum(len(g) for g in groups) == 3
    await apply(sessions, garmin.removed(12))
    assert ids(whoop, apple) in await _groups(sessions, me)
    await apply(sessions, garmin.ingested(13))
    assert not any(ids(garmin, whoop) <= g for g in await _groups(sessions, me))


async def test_detach_takes_one_record_out_of_its_session(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    garmin, strava, whoop = one_session(me)
    await ingest_all(sessions, garmin, strava, whoop)
    auth = issuer.headers(me)

    response = await client.post(f"/timeline/records/{whoop.record_id}/detach", headers=auth)
    assert response.status_code == 201, response.text
    link = response.json()
    assert (link["relation"], link["anchor_id"]) == ("apart", str(whoop.record_id))
    assert set(link["record_ids"]) == {str(i) for i in ids(garmin, strava, whoop)}
    # Apart from each of the others, which stay together.
    assert await _groups(sessions, me) == {ids(garmin, strava), ids(whoop)}

    alone = await client.post(f"/timeline/records/{whoop.record_id}/detach", headers=auth)
    assert_problem(alone, 409)
    assert [a["action"] for a in await audits(sessions)] == ["timeline.link.created"]


async def test_only_the_callers_active_records_can_be_linked(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    mine = Workout(me)
    gone = Workout(me, start_min=300)
    theirs = Workout(other, start_min=30)
    await ingest_all(sessions, mine, gone, theirs)
    await apply(sessions, gone.removed(9))
    auth = issuer.headers(me)

    async def post(record_ids: list[uuid.UUID]) -> httpx.Response:
        body = {"relation": "same", "record_ids": [str(i) for i in record_ids]}
        return await client.post("/timeline/links", headers=auth, json=body)

    not_found = [
        await post([mine.record_id, theirs.record_id]),
        await post([mine.record_id, uuid.uuid4()]),
        await post([mine.record_id, gone.record_id]),
    ]
    assert {r.status_code for r in not_found} == {404}
    assert len({r.text for r in not_found}) == 1  # nothing tells them apart
    copy = Workout(other, source="strava", start_min=30, has_end=False)
    await apply(sessions, copy.ingested(20))
    theirs_link = await _link(client, issuer.headers(other), "apart", theirs, copy)
    refused = await client.delete(f"/timeline/links/{theirs_link['id']}", headers=auth)
    assert refused.status_code == 404
    detach = await client.post(f"/timeline/records/{theirs.record_id}/detach", headers=auth)
    assert detach.status_code == 404
    # Only the other user's own link was audited; the refused attempts left nothing.
    assert [a["subject_user_id"] for a in await audits(sessions)] == [str(other)]
    assert (await client.get("/timeline/links", headers=auth)).json() == {
        "items": [],
        "more": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"relation": "same", "record_ids": [str(uuid.uuid4())]},
        {"relation": "same", "record_ids": []},
        {"relation": "apart", "record_ids": [str(uuid.UUID(int=1))] * 2},
        {"relation": "same", "record_ids": [str(uuid.uuid4()) for _ in range(51)]},
        {"relation": "merge", "record_ids": [str(uuid.uuid4()), str(uuid.uuid4())]},
        {"relation": "same", "record_ids": ["not-a-uuid", str(uuid.uuid4())]},
        {"relation": "same", "record_ids": [str(uuid.uuid4()), str(uuid.uuid4())], "note": 1},
        {"record_ids": [str(uuid.uuid4()), str(uuid.uuid4())]},
        [],
    ],
)
async def test_bad_link_bodies_are_422_problems(
    client: httpx.AsyncClient, issuer: TestIssuer, body: Any
) -> None:
    response = await client.post("/timeline/links", headers=issuer.headers(uuid.uuid4()), json=body)
    assert_problem(response, 422)


async def test_links_need_a_token_and_admins_only_read_them(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    assert (await client.get("/timeline/links")).status_code == 401
    body = {"relation": "same", "record_ids": [str(uuid.uuid4()), str(uuid.uuid4())]}
    assert (await client.post("/timeline/links", json=body)).status_code == 401
    assert (await client.delete(f"/timeline/links/{uuid.uuid4()}")).status_code == 401

    athlete = uuid.uuid4()
    admin = issuer.headers(uuid.uuid4(), role="admin")
    viewed = await client.get(f"/timeline/links?athlete_id={athlete}", headers=admin)
    assert (viewed.status_code, viewed.json()) == (200, {"items": [], "more": False})
    nosy = await client.get(
        f"/timeline/links?athlete_id={athlete}", headers=issuer.headers(uuid.uuid4())
    )
    assert nosy.status_code == 404
