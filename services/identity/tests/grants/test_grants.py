"""Grants through the API: the state machine, its events and audit rows, and who sees what."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from ..conftest import Account, MakeAccount

SENT = {"status": "accepted", "detail": "invitation sent if eligible"}
REQUESTED = {"status": "accepted", "detail": "request sent if eligible"}


@pytest.fixture
async def ann(account: MakeAccount) -> Account:
    return await account("ann@example.com")


@pytest.fixture
async def carl(account: MakeAccount) -> Account:
    return await account("carl@example.com", "coach")


@pytest.fixture
async def eve(account: MakeAccount) -> Account:
    """A third party: another coach, with no business in ann and carl's grants."""
    return await account("eve@example.com", "coach")


async def grant_events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT envelope FROM identity.outbox WHERE event_type = 'grant.changed' ORDER BY id"
    )
    return [json.loads(r["envelope"]) for r in rows]


async def grant_audit(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT * FROM identity.audit_log WHERE action LIKE 'grant.%' ORDER BY id"
    )
    return rows


async def invite(
    client: httpx.AsyncClient, athlete: Account, coach: Account, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/grants/invitations",
        headers=athlete.headers,
        json={"coach_email": coach.email, **body},
    )
    assert response.status_code == 202, response.text
    assert response.json() == SENT
    [grant] = (await client.get("/grants", headers=coach.headers)).json()["items"]
    return dict(grant)


async def test_invite_accept_revoke(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    grant = await invite(client, ann, carl, scopes=["phases"])
    assert grant["status"] == "invited"
    assert grant["athlete_id"] == str(ann.id)
    assert grant["coach_id"] == str(carl.id)
    assert grant["scopes"] == ["read", "phases"]
    assert grant["initiated_by"] == str(ann.id)
    assert grant["initiated_by_email"] == "ann@example.com"

    accepted = await client.post(f"/grants/{grant['id']}/accept", headers=carl.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert accepted.json()["accepted_at"] is not None

    revoked = await client.post(f"/grants/{grant['id']}/revoke", headers=ann.headers)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_by"] == str(ann.id)

    events = await grant_events(db)
    assert [(e["payload"]["status"], e["payload"]["active"]) for e in events] == [
        ("invited", False),
        ("active", True),
        ("revoked", False),
    ]
    for event in events:
        assert event["type"] == "grant.changed"
        assert event["producer"] == "identity"
        assert event["user_id"] == str(ann.id)
        payload = event["payload"]
        assert set(payload) == {
            "grant_id", "athlete_id", "coach_id", "scopes", "active", "changed_at", "status",
        }  # fmt: skip
        assert payload["grant_id"] == grant["id"]
        assert (payload["athlete_id"], payload["coach_id"]) == (str(ann.id), str(carl.id))
        assert payload["scopes"] == ["read", "phases"]
    assert events[2]["payload"]["changed_at"] == revoked.json()["revoked_at"].replace("Z", "+00:00")

    audit = await grant_audit(db)
    assert [(r["action"], r["actor_id"], r["subject_user_id"]) for r in audit] == [
        ("grant.invited", ann.id, carl.id),
        ("grant.accepted", carl.id, ann.id),
        ("grant.revoked", ann.id, carl.id),
    ]
    assert [r["resource"] for r in audit] == [f"grant:{grant['id']}"] * 3
    assert json.loads(audit[1]["details"])["from"] == "invited"
    assert json.loads(audit[1]["details"])["to"] == "active"
    assert audit[1]["actor_email"] == "carl@example.com"
    assert audit[1]["subject_email"] == "ann@example.com"


async def test_request_accept_and_the_coach_revokes(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    response = await client.post(
        "/grants/requests", headers=carl.headers, json={"athlete_id": str(ann.id)}
    )
    assert response.status_code == 202
    assert response.json() == REQUESTED
    [grant] = (await client.get("/grants", headers=ann.headers)).json()["items"]
    assert grant["status"] == "requested"
    assert grant["scopes"] == ["read"]
    assert grant["initiated_by_email"] == "carl@example.com"

    # The coach who asked cannot accept on the athlete's behalf.
    own = await client.post(f"/grants/{grant['id']}/accept", headers=carl.headers)
    assert own.status_code == 403
    accepted = await client.post(f"/grants/{grant['id']}/accept", headers=ann.headers)
    assert accepted.json()["status"] == "active"
    revoked = await client.post(f"/grants/{grant['id']}/revoke", headers=carl.headers)
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_by"] == str(carl.id)
    assert [e["payload"]["active"] for e in await grant_events(db)] == [False, True, False]
    assert [r["action"] for r in await grant_audit(db)] == [
        "grant.requested",
        "grant.accepted",
        "grant.revoked",
    ]


async def test_decline_ends_the_grant_and_a_new_one_can_follow(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    grant = await invite(client, ann, carl)
    inviter_declines = await client.post(f"/grants/{grant['id']}/decline", headers=ann.headers)
    assert inviter_declines.status_code == 403
    declined = await client.post(f"/grants/{grant['id']}/decline", headers=carl.headers)
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    assert declined.json()["revoked_by"] == str(carl.id)
    late = await client.post(f"/grants/{grant['id']}/accept", headers=carl.headers)
    assert late.status_code == 409

    again = await client.post(
        "/grants/invitations", headers=ann.headers, json={"coach_id": str(carl.id)}
    )
    assert again.status_code == 202
    statuses = await db.fetch("SELECT status FROM identity.grants ORDER BY created_at, status")
    assert sorted(r["status"] for r in statuses) == ["declined", "invited"]
    assert [e["payload"]["status"] for e in await grant_events(db)] == [
        "invited",
        "declined",
        "invited",
    ]


async def test_double_accept_and_double_revoke_conflict(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    grant = await invite(client, ann, carl)
    url = f"/grants/{grant['id']}"
    assert (await client.post(f"{url}/accept", headers=carl.headers)).status_code == 200
    second = await client.post(f"{url}/accept", headers=carl.headers)
    assert second.status_code == 409
    assert second.json()["detail"] == "grant is active, not pending"
    assert (await client.post(f"{url}/revoke", headers=carl.headers)).status_code == 200
    assert (await client.post(f"{url}/revoke", headers=ann.headers)).status_code == 409
    assert len(await grant_events(db)) == 3  # refused actions emit nothing


async def test_parallel_accepts_apply_once(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    grant = await invite(client, ann, carl)
    results = await asyncio.gather(
        *(client.post(f"/grants/{grant['id']}/accept", headers=carl.headers) for _ in range(5))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    assert [e["payload"]["status"] for e in await grant_events(db)] == ["invited", "active"]


async def test_a_third_party_gets_404_like_a_missing_grant(
    client: httpx.AsyncClient, ann: Account, carl: Account, eve: Account, account: MakeAccount
) -> None:
    grant = await invite(client, ann, carl)
    admin = await account("root@example.com", "admin")
    missing = await client.post(f"/grants/{uuid.uuid4()}/accept", headers=eve.headers)
    assert missing.status_code == 404
    for outsider in (eve, admin):
        for verb in ("accept", "decline", "revoke"):
            response = await client.post(f"/grants/{grant['id']}/{verb}", headers=outsider.headers)
            assert response.status_code == 404
            body = response.json()
            # Byte-identical apart from the path it names.
            assert {k: v for k, v in body.items() if k != "instance"} == {
                k: v for k, v in missing.json().items() if k != "instance"
            }
        assert (
            await client.get(f"/grants/{grant['id']}", headers=outsider.headers)
        ).status_code == 404
        assert (await client.get("/grants", headers=outsider.headers)).json()["items"] == []
    mine = await client.get(f"/grants/{grant['id']}", headers=ann.headers)
    assert mine.status_code == 200
    assert mine.json()["id"] == grant["id"]


async def test_ineligible_targets_look_exactly_like_eligible_ones(
    client: httpx.AsyncClient,
    ann: Account,
    carl: Account,
    account: MakeAccount,
    db: asyncpg.Connection,
) -> None:
    """Unknown email, an athlete, an admin, oneself, a duplicate: one 202, nothing created."""
    await account("bea@example.com")
    await account("root@example.com", "admin")
    await db.execute(
        "UPDATE identity.users SET deleted_at = now() WHERE email = 'root@example.com'"
    )
    eligible = await client.post(
        "/grants/invitations", headers=ann.headers, json={"coach_email": "Carl@Example.com "}
    )
    assert eligible.status_code == 202
    created = await db.fetchval("SELECT count(*) FROM identity.grants")
    assert created == 1
    for body in (
        {"coach_email": "nobody@example.com"},
        {"coach_email": "bea@example.com"},  # an athlete
        {"coach_email": "root@example.com"},  # deleted
        {"coach_email": "ann@example.com"},  # oneself
        {"coach_email": "carl@example.com"},  # already invited
        {"coach_email": "not an address\x00"},
        {"coach_id": str(uuid.uuid4())},
        {"coach_id": str(ann.id)},
    ):
        response = await client.post("/grants/invitations", headers=ann.headers, json=body)
        assert response.status_code == eligible.status_code, body
        assert response.content == eligible.content, body
        assert response.headers["content-type"] == eligible.headers["content-type"]
    assert await db.fetchval("SELECT count(*) FROM identity.grants") == created
    assert len(await grant_events(db)) == 1
    ignored = await db.fetchval(
        "SELECT count(*) FROM identity.audit_log WHERE action = 'grant.invitation_ignored'"
    )
    assert ignored == 8


async def test_coaches_only_request_athletes(
    client: httpx.AsyncClient, ann: Account, carl: Account, eve: Account, db: asyncpg.Connection
) -> None:
    to_coach = await client.post(
        "/grants/requests", headers=carl.headers, json={"athlete_email": eve.email}
    )
    assert to_coach.status_code == 202
    assert to_coach.json() == REQUESTED
    assert await db.fetchval("SELECT count(*) FROM identity.grants") == 0


async def test_each_side_may_only_start_its_own_kind(
    client: httpx.AsyncClient, ann: Account, carl: Account, account: MakeAccount
) -> None:
    admin = await account("root@example.com", "admin")
    for who in (carl, admin):
        response = await client.post(
            "/grants/invitations", headers=who.headers, json={"coach_id": str(carl.id)}
        )
        assert response.status_code == 403
    for who in (ann, admin):
        response = await client.post(
            "/grants/requests", headers=who.headers, json={"athlete_id": str(ann.id)}
        )
        assert response.status_code == 403
    unauthenticated = await client.post("/grants/invitations", json={"coach_id": str(carl.id)})
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"coach_email": "carl@example.com", "coach_id": str(uuid.UUID(int=1))},
        {"coach_email": "carl@example.com", "scopes": ["write"]},
        {"coach_email": "carl@example.com", "scopes": "read"},
        {"coach_email": "carl@example.com", "role": "admin"},
        {"coach_email": "x" * 400},
        {"coach_id": "not-a-uuid"},
    ],
)
async def test_malformed_invitations_are_422(
    client: httpx.AsyncClient, ann: Account, body: dict[str, Any]
) -> None:
    response = await client.post("/grants/invitations", headers=ann.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_demoted_coach_cannot_accept(
    client: httpx.AsyncClient, ann: Account, carl: Account, db: asyncpg.Connection
) -> None:
    grant = await invite(client, ann, carl)
    await db.execute("UPDATE identity.users SET role = 'athlete' WHERE id = $1", carl.id)
    response = await client.post(f"/grants/{grant['id']}/accept", headers=carl.headers)
    assert response.status_code in (401, 403)  # 401 if the role change also revoked the token
    assert await db.fetchval("SELECT status FROM identity.grants") == "invited"


async def test_listing_pages_and_filters(
    client: httpx.AsyncClient, carl: Account, account: MakeAccount
) -> None:
    athletes = [await account(f"a{i}@example.com") for i in range(5)]
    for athlete in athletes:
        await client.post(
            "/grants/invitations", headers=athlete.headers, json={"coach_id": str(carl.id)}
        )
    first = (await client.get("/grants", headers=carl.headers)).json()["items"]
    await client.post(f"/grants/{first[0]['id']}/accept", headers=carl.headers)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/grants", headers=carl.headers, params=params)).json()
        seen += [g["id"] for g in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [g["id"] for g in first]
    assert len(seen) == 5
    active = (await client.get("/grants", headers=carl.headers, params={"status": "active"})).json()
    assert [g["id"] for g in active["items"]] == [first[0]["id"]]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "junk"}, {"status": "lost"}):
        assert (await client.get("/grants", headers=carl.headers, params=params)).status_code == 422
