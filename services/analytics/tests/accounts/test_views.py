"""Reading another athlete's workouts: coaches through an active grant, admins audited."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_analytics.accounts.orm import MIRROR
from aurora_analytics.db import BUS
from aurora_shared.access import AUDIT_RECORDED, AUDIT_STREAM
from aurora_shared.bus.consumer import Handler
from aurora_shared.testing.gdpr import deliver, grant_changed, user_deleted
from aurora_shared.testing.tokens import TestIssuer

from ..workouts.factory import apply, resolved

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
            scopes=("read", "phases"),
        ),
    )


async def audits(sessions: Sessions) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            select(BUS.outbox.c.event_type, BUS.outbox.c.user_id, BUS.outbox.c.envelope)
            .where(BUS.outbox.c.stream == AUDIT_STREAM)
            .order_by(BUS.outbox.c.id)
        )
        out = []
        for event_type, user_id, raw in rows:
            assert (event_type, user_id) == (AUDIT_RECORDED, None)
            out.append(json.loads(raw)["payload"])
        return out


async def test_coach_sees_the_athlete_only_while_the_grant_is_active(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete, coach_id, cid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await apply(sessions, resolved(athlete, cid, 1))
    await apply(sessions, resolved(uuid.uuid4(), uuid.uuid4(), 2))
    coach = issuer.headers(coach_id, role="coach")
    url = f"/analytics/workouts?athlete_id={athlete}"
    unknown = await client.get(f"/analytics/workouts?athlete_id={uuid.uuid4()}", headers=coach)
    assert unknown.status_code == 404

    refused = await client.get(url, headers=coach)
    assert (refused.status_code, refused.json()) == (404, unknown.json())

    grant_id = uuid.uuid4()
    await grant(sessions, grant_id, athlete, coach_id, active=True, minutes=1)
    listed = await client.get(url, headers=coach)
    assert listed.status_code == 200
    assert [i["canonical_id"] for i in listed.json()["items"]] == [str(cid)]
    assert (await client.get("/analytics/workouts", headers=coach)).json() == {"items": []}
    assert (
        await client.get(url, headers=issuer.headers(uuid.uuid4(), role="coach"))
    ).status_code == 404
    assert await audits(sessions) == []

    await grant(sessions, grant_id, athlete, coach_id, active=False, minutes=2)
    after = await client.get(url, headers=coach)
    assert (after.status_code, after.json()) == (404, unknown.json())
    # A late copy of the granting event does not bring the access back.
    await grant(sessions, grant_id, athlete, coach_id, active=True, minutes=1)
    assert (await client.get(url, headers=coach)).status_code == 404


async def test_another_athlete_gets_the_unknown_athlete_404(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete = uuid.uuid4()
    await apply(sessions, resolved(athlete, uuid.uuid4(), 1))
    nosy = issuer.headers(uuid.uuid4())
    response = await client.get(f"/analytics/workouts?athlete_id={athlete}", headers=nosy)
    unknown = await client.get(f"/analytics/workouts?athlete_id={uuid.uuid4()}", headers=nosy)
    assert (response.status_code, response.json()) == (404, unknown.json())
    assert response.headers["content-type"] == "application/problem+json"


async def test_admin_views_are_audited_and_deleted_athletes_not_served(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    athlete, admin_id, cid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await apply(sessions, resolved(athlete, cid, 1))
    admin = issuer.headers(admin_id, role="admin")
    url = f"/analytics/workouts?athlete_id={athlete}"
    listed = await client.get(url, headers=admin)
    assert [i["canonical_id"] for i in listed.json()["items"]] == [str(cid)]
    assert (await client.get("/analytics/workouts", headers=admin)).status_code == 200
    assert (await client.get(f"{url}&limit=0", headers=admin)).status_code == 422
    assert await audits(sessions) == [
        {
            "actor_id": str(admin_id),
            "actor_role": "admin",
            "action": "view",
            "subject_user_id": str(athlete),
            "resource": "/analytics/workouts",
            "details": {},
        }
    ]
    await deliver(sessions, MIRROR_HANDLERS, user_deleted(athlete))
    assert (await client.get(url, headers=admin)).status_code == 404
    assert len(await audits(sessions)) == 1
