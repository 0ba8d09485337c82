"""`/timeline`: own data only, newest first, explained, and bounded."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.testing.tokens import TestIssuer

from .factory import Workout, apply

Sessions = async_sessionmaker[AsyncSession]


async def _history(sessions: Sessions, me: uuid.UUID, other: uuid.UUID) -> dict[str, Workout]:
    w = {
        "ride": Workout(me, source="strava", device="Garmin Edge 530", has_end=False),
        "whoop": Workout(me, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54),
        "run": Workout(me, sport="run", start_min=24 * 60),
        "yoga": Workout(me, source="apple_health", sport="yoga", start_min=48 * 60),
        "theirs": Workout(other, start_min=30),
    }
    for seq, workout in enumerate(w.values()):
        await apply(sessions, workout.ingested(seq))
    return w


async def test_timeline_lists_own_canonicals_newest_first_with_reasons(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    w = await _history(sessions, me, other)
    response = await client.get("/timeline", headers=issuer.headers(me))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["sport"] for i in items] == ["yoga", "run", "ride"]
    ride = items[2]
    assert ride["id"] == str(canonical_id_for(w["ride"].record_id))
    assert ride["primary"] == {
        "record_id": str(w["ride"].record_id),
        "source": "strava",
        "origin_device": "Garmin Edge 530",
        "recorded_by": "garmin",
    }
    assert ride["reason"] == "primary: garmin via strava (60) outranks whoop (30)"
    (dup,) = ride["duplicates"]
    assert dup["record_id"] == str(w["whoop"].record_id)
    assert dup["source"] == "whoop"
    assert dup["reason"].startswith(f"duplicate of {w['ride'].record_id}: 90 % overlap")
    assert (ride["duration_s"], ride["metrics"]) == (3600.0, {"avg_hr": 140})
    assert ride["start"] == "2024-05-01T07:00:00Z"
    assert ride["end"] == "2024-05-01T08:00:00Z"

    theirs = await client.get("/timeline", headers=issuer.headers(other))
    assert [i["primary"]["record_id"] for i in theirs.json()["items"]] == [
        str(w["theirs"].record_id)
    ]


async def test_timeline_filters_and_limits(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    await _history(sessions, me, uuid.uuid4())
    auth = issuer.headers(me)

    async def sports(**params: str | int) -> list[str]:
        response = await client.get("/timeline", headers=auth, params=params)
        assert response.status_code == 200, response.text
        return [i["sport"] for i in response.json()["items"]]

    assert await sports(limit=1) == ["yoga"]
    assert await sports(limit=200) == ["yoga", "run", "ride"]
    assert await sports(**{"from": "2024-05-02T07:00:00Z"}) == ["yoga", "run"]
    assert await sports(to="2024-05-02T07:00:00Z") == ["ride"]
    assert await sports(**{"from": "2024-05-02T00:00:00+02:00", "to": "2024-05-03T00:00:00Z"}) == [
        "run"
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": 10**6},
        {"limit": "many"},
        {"from": "yesterday"},
        {"from": "2024-05-02T07:00:00"},  # no offset: ambiguous, refused
        {"from": "2024-05-03T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
    ],
)
async def test_bad_query_is_a_422_problem(
    client: httpx.AsyncClient, issuer: TestIssuer, params: dict[str, str | int]
) -> None:
    response = await client.get("/timeline", headers=issuer.headers(uuid.uuid4()), params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_one_canonical_and_404_for_anyone_else(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    w = await _history(sessions, me, other)
    cid = canonical_id_for(w["ride"].record_id)
    mine = await client.get(f"/timeline/{cid}", headers=issuer.headers(me))
    assert mine.status_code == 200
    assert mine.json()["duplicates"][0]["record_id"] == str(w["whoop"].record_id)

    theirs = await client.get(f"/timeline/{cid}", headers=issuer.headers(other))
    missing_id = uuid.uuid4()
    missing = await client.get(f"/timeline/{missing_id}", headers=issuer.headers(other))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == missing.headers["content-type"]
    assert theirs.json() | {"instance": None} == missing.json() | {"instance": None}
    assert theirs.text.replace(str(cid), "ID") == missing.text.replace(str(missing_id), "ID")
    # A duplicate's record id is not a canonical id either.
    dup = await client.get(f"/timeline/{w['whoop'].record_id}", headers=issuer.headers(me))
    assert dup.status_code == 404


async def test_timeline_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/timeline")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(f"/timeline/{uuid.uuid4()}", headers=bad)).status_code == 401
