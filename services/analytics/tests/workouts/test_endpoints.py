"""`/analytics/workouts`: own live workouts only, newest first, bounded."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_shared.testing.tokens import TestIssuer

from .factory import apply, resolved, unresolved

Sessions = async_sessionmaker[AsyncSession]


async def test_lists_own_live_workouts_newest_first(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    early, late, gone, theirs = (uuid.uuid4() for _ in range(4))
    await apply(sessions, resolved(me, early, 1, start_min=0))
    await apply(sessions, resolved(me, late, 2, start_min=600, sport="run", metrics={"k": 1}))
    await apply(sessions, resolved(me, gone, 3, start_min=300))
    await apply(sessions, unresolved(me, gone, 4))
    await apply(sessions, resolved(other, theirs, 5, start_min=900))

    response = await client.get("/analytics/workouts", headers=issuer.headers(me))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["canonical_id"] for i in items] == [str(late), str(early)]
    assert set(items[0]) == {
        "canonical_id",
        "sport",
        "start",
        "end",
        "duration_s",
        "metrics",
        "primary_source",
        "updated_at",
    }
    assert items[0]["sport"] == "run"
    assert items[0]["start"] == "2024-05-01T17:00:00Z"
    assert (items[0]["metrics"], items[0]["primary_source"]) == ({"k": 1}, "strava")

    limited = await client.get("/analytics/workouts?limit=1", headers=issuer.headers(me))
    assert [i["canonical_id"] for i in limited.json()["items"]] == [str(late)]
    mine_for_them = await client.get("/analytics/workouts", headers=issuer.headers(other))
    assert [i["canonical_id"] for i in mine_for_them.json()["items"]] == [str(theirs)]


@pytest.mark.parametrize("limit", ["0", "201", str(10**6), "-1", "all"])
async def test_limit_is_validated(
    client: httpx.AsyncClient, issuer: TestIssuer, limit: str
) -> None:
    response = await client.get(
        f"/analytics/workouts?limit={limit}", headers=issuer.headers(uuid.uuid4())
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/analytics/workouts")).status_code == 401
