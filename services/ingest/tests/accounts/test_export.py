"""GET /records/me/export: the caller's records, removed ones included, and nobody else's."""

from __future__ import annotations

import base64
import hashlib
import uuid

import httpx

from aurora_ingest.connections.models import Connection
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.raw.service import store_raw
from aurora_shared.testing.tokens import TestIssuer


def ride(ref: str, day: int) -> dict[str, object]:
    return {
        "sport": "run",
        "start": f"2026-11-{day:02d}T07:00:00+01:00",
        "duration_s": 1800,
        "client_ref": ref,
        "metrics": {"distance_m": 5000},
    }


async def test_export_holds_own_records_only(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    mine = []
    for day, ref in ((3, "a1"), (1, "a2")):
        response = await client.post(
            "/manual/workouts", json=ride(ref, day), headers=issuer.headers(alice)
        )
        mine.append(response.json()["record_id"])
    await client.delete(f"/manual/workouts/{mine[0]}", headers=issuer.headers(alice))
    await client.post("/manual/workouts", json=ride("b1", 2), headers=issuer.headers(bob))

    response = await client.get("/records/me/export", headers=issuer.headers(alice))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    document = response.json()
    assert document["service"] == "ingest"
    assert document["user_id"] == str(alice)
    assert document["exported_at"].endswith("Z")
    records = document["records"]
    # Oldest first; the removed record is there, with its removal time.
    assert [r["id"] for r in records] == [mine[1], mine[0]]
    assert records[0]["deleted_at"] is None
    assert records[1]["deleted_at"] is not None
    assert records[1]["revision"] == 2
    assert records[0]["metrics"] == {"distance_m": 5000.0}
    assert {"user_id", "raw", "payload", "token"}.isdisjoint(records[0])

    empty = await client.get("/records/me/export", headers=issuer.headers(uuid.uuid4()))
    assert empty.json()["records"] == []


async def test_export_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/records/me/export")
    assert response.status_code == 401


async def test_export_holds_connections_and_raw_payloads_but_no_tokens(
    client: httpx.AsyncClient, kit: ProviderKit, issuer: TestIssuer
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        for user, body in ((alice, b'{"id": 1}'), (alice, b"\x00binary"), (bob, b'{"id": 2}')):
            await store_raw(
                session,
                user_id=user,
                provider="strava",
                kind="activity",
                external_id="1",
                body=body,
            )
        session.add(
            Connection(
                id=uuid.uuid4(),
                user_id=alice,
                provider="strava",
                provider_user_id="9001",
                scopes="read activity:read_all",
                access_token_enc=kit.cipher.encrypt("very-secret-access"),
                refresh_token_enc=kit.cipher.encrypt("very-secret-refresh"),
                status="active",
            )
        )
    response = await client.get("/records/me/export", headers=issuer.headers(alice))
    assert response.status_code == 200
    assert "very-secret" not in response.text and "token_enc" not in response.text
    document = response.json()
    (connection,) = document["connections"]
    assert (connection["provider"], connection["status"]) == ("strava", "active")
    payloads = document["raw_payloads"]
    assert sorted(p["sha256"] for p in payloads) == sorted(
        hashlib.sha256(b).hexdigest() for b in (b'{"id": 1}', b"\x00binary")
    )
    by_kind = {p["content_base64"] is None: p for p in payloads}
    assert by_kind[True]["content"] == {"id": 1}
    assert base64.b64decode(by_kind[False]["content_base64"]) == b"\x00binary"
