"""GET /analytics/me/export: the caller's workouts as analytics holds them, nobody else's."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_shared.testing.tokens import TestIssuer

from ..workouts.factory import apply, resolved, unresolved

Sessions = async_sessionmaker[AsyncSession]


async def test_export_holds_own_live_workouts_only(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    early, late, gone, theirs = (uuid.uuid4() for _ in range(4))
    await apply(sessions, resolved(me, late, 1, start_min=600, sport="run"))
    await apply(sessions, resolved(me, early, 2, start_min=0))
    await apply(sessions, resolved(me, gone, 3, start_min=300))
    await apply(sessions, unresolved(me, gone, 4))
    await apply(sessions, resolved(other, theirs, 5))

    response = await client.get("/analytics/me/export", headers=issuer.headers(me))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert (document["service"], document["user_id"]) == ("analytics", str(me))
    items = document["workouts"]
    assert [i["canonical_id"] for i in items] == [str(early), str(late)]
    assert items[1]["sport"] == "run"
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


async def test_export_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/analytics/me/export")).status_code == 401
