"""GET /timeline/me/export: the caller's timeline and source records, and nobody else's."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.testing.tokens import TestIssuer

from ..timeline.factory import Workout, apply

Sessions = async_sessionmaker[AsyncSession]


async def test_export_holds_own_timeline_and_records_only(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    primary = Workout(me, source="strava", device="Garmin Edge 530")
    duplicate = Workout(me, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54)
    removed = Workout(me, sport="run", start_min=24 * 60)
    theirs = Workout(other, start_min=30)
    events = [primary.ingested(1), duplicate.ingested(2), removed.ingested(3), removed.removed(4)]
    for event in [*events, theirs.ingested(5)]:
        await apply(sessions, event)

    response = await client.get("/timeline/me/export", headers=issuer.headers(me))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert (document["service"], document["user_id"]) == ("dedup", str(me))
    (workout,) = document["timeline"]
    assert workout["id"] == str(canonical_id_for(primary.record_id))
    assert workout["primary_record_id"] == str(primary.record_id)
    assert workout["reason"].startswith("primary:")
    by_id = {r["id"]: r for r in document["source_records"]}
    assert set(by_id) == {str(primary.record_id), str(duplicate.record_id), str(removed.record_id)}
    assert by_id[str(duplicate.record_id)]["duplicate_of"] == str(primary.record_id)
    tombstone = by_id[str(removed.record_id)]
    assert tombstone["removed"] is True and tombstone["sport"] is None
    assert "user_id" not in workout and "fingerprint" not in workout

    theirs_export = await client.get("/timeline/me/export", headers=issuer.headers(other))
    assert [r["id"] for r in theirs_export.json()["source_records"]] == [str(theirs.record_id)]


async def test_export_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/timeline/me/export")).status_code == 401
