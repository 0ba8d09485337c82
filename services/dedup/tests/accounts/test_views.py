"""Reading another athlete's timeline: coaches through an active grant, admins audited."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.db import BUS
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.access import AUDIT_RECORDED, AUDIT_STREAM
from aurora_shared.bus.consumer import Handler
from aurora_shared.testing.gdpr import deliver, grant_changed, user_deleted
from aurora_shared.testing.tokens import TestIssuer

from ..timeline.factory import Workout, apply

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# The mirror's own handlers: these tests never purge, so they need no Redis.
MIRROR_HANDLERS: dict[str, Handler] = {
    "grant.changed": MIRROR.on_grant_changed,
    "user.deleted": MIRROR.on_user_deleted,
}


async def grant(
    sessions: Sessions,
    grant_id: uuid.UUID,
    athlete: uuid.UUID,
    coach: uuid.UUID,
    *,
    active: bool,
    minutes: int,
) -> None:
    await deliver(
        sessions,
        MIRROR_HANDLERS,
        grant_changed(
            grant_id=grant_id,
            athlete_id=athlete,
            coach_id=coach,
            active=active,
            changed_at=T0 + timedelta(minutes=minutes),
        ),
    )


async def audits(sessions: Sessions) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                BUS.outbox.c.stream,
                BUS.outbox.c.event_type,
                BUS.outbox.c.user_id,
                BUS.outbox.c.envelope,
            )
            .where(BUS.outbox.c.stream == AUDIT_STREAM)
            .order_by(BUS.outbox.c.id)
        )
        out = []
        for stream, event_type, user_id, raw in rows:
            assert (stream, event_type, user_id) == (AUDIT_STREAM, AUDIT_RECORDED, None)
            out.append(json.loads(raw)["payload"])
        return out


async def test_coach_sees_the_athlete_only_while_the_grant_is_active(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete, coach_id = uuid.uuid4(), uuid.uuid4()
    ride = Workout(athlete)
    await apply(sessions, ride.ingested(1))
    cid = canonical_id_for(ride.record_id)
    coach = issuer.headers(coach_id, role="coach")
    timeline, item = f"/timeline?athlete_id={athlete}", f"/timeline/{cid}?athlete_id={athlete}"
    unknown = await client.get(f"/timeline?athlete_id={uuid.uuid4()}", headers=coach)
    missing = await client.get(f"/timeline/{uuid.uuid4()}?athlete_id={athlete}", headers=coach)
    assert unknown.status_code == 404

    # No grant yet: the athlete looks like an unknown one, the workout like a missing one.
    refused = await client.get(timeline, headers=coach)
    assert (refused.status_code, refused.json()) == (404, unknown.json())
    refused_item = await client.get(item, headers=coach)
    assert refused_item.status_code == 404
    assert {**refused_item.json(), "instance": None} == {**missing.json(), "instance": None}

    grant_id = uuid.uuid4()
    await grant(sessions, grant_id, athlete, coach_id, active=True, minutes=1)
    listed = await client.get(timeline, headers=coach)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [str(cid)]
    assert (await client.get(item, headers=coach)).json()["id"] == str(cid)
    # The grant is for that athlete only, and only with athlete_id does the coach ask for it.
    assert (await client.get(f"/timeline/{cid}", headers=coach)).status_code == 404
    assert (await client.get("/timeline", headers=coach)).json() == {
        "items": [],
        "days": [],
        "next_cursor": None,
    }
    other_coach = issuer.headers(uuid.uuid4(), role="coach")
    assert (await client.get(timeline, headers=other_coach)).status_code == 404
    # A coach's reads are not audited: the grant is the athlete's own consent.
    assert await audits(sessions) == []

    await grant(sessions, grant_id, athlete, coach_id, active=False, minutes=2)
    after = await client.get(timeline, headers=coach)
    assert (after.status_code, after.json()) == (404, unknown.json())
    assert (await client.get(item, headers=coach)).status_code == 404


async def test_another_athlete_gets_404_not_403(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete = uuid.uuid4()
    ride = Workout(athlete)
    await apply(sessions, ride.ingested(1))
    nosy = issuer.headers(uuid.uuid4())
    response = await client.get(f"/timeline?athlete_id={athlete}", headers=nosy)
    unknown = await client.get(f"/timeline?athlete_id={uuid.uuid4()}", headers=nosy)
    assert (response.status_code, response.json()) == (404, unknown.json())
    cid = canonical_id_for(ride.record_id)
    item = await client.get(f"/timeline/{cid}?athlete_id={athlete}", headers=nosy)
    assert item.status_code == 404
    # Even a grant to an athlete-role user gives nothing: only coaches use grants.
    await grant(sessions, uuid.uuid4(), athlete, uuid.uuid4(), active=True, minutes=1)
    assert (await client.get(f"/timeline?athlete_id={athlete}", headers=nosy)).status_code == 404


async def test_admin_views_are_audited_in_the_same_transaction(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete, admin_id = uuid.uuid4(), uuid.uuid4()
    ride = Workout(athlete)
    await apply(sessions, ride.ingested(1))
    cid = canonical_id_for(ride.record_id)
    admin = issuer.headers(admin_id, role="admin")

    listed = await client.get(f"/timeline?athlete_id={athlete}", headers=admin)
    assert [i["id"] for i in listed.json()["items"]] == [str(cid)]
    item = await client.get(f"/timeline/{cid}?athlete_id={athlete}", headers=admin)
    assert item.json()["id"] == str(cid)
    # A failed read records nothing: the audit row rolls back with the 404.
    assert (
        await client.get(f"/timeline/{uuid.uuid4()}?athlete_id={athlete}", headers=admin)
    ).status_code == 404
    # The admin's own timeline is not a view of someone else's data.
    assert (await client.get("/timeline", headers=admin)).status_code == 200

    base = {"actor_id": str(admin_id), "actor_role": "admin", "action": "view", "details": {}}
    assert await audits(sessions) == [
        {**base, "subject_user_id": str(athlete), "resource": "/timeline"},
        {**base, "subject_user_id": str(athlete), "resource": f"/timeline/{cid}"},
    ]


async def test_a_deleted_athlete_is_no_longer_shown_to_coach_or_admin(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete, coach_id = uuid.uuid4(), uuid.uuid4()
    await apply(sessions, Workout(athlete).ingested(1))
    await grant(sessions, uuid.uuid4(), athlete, coach_id, active=True, minutes=1)
    coach = issuer.headers(coach_id, role="coach")
    assert (await client.get(f"/timeline?athlete_id={athlete}", headers=coach)).status_code == 200
    await deliver(sessions, MIRROR_HANDLERS, user_deleted(athlete))
    for viewer in (coach, issuer.headers(uuid.uuid4(), role="admin")):
        response = await client.get(f"/timeline?athlete_id={athlete}", headers=viewer)
        assert response.status_code == 404
    assert await audits(sessions) == []
