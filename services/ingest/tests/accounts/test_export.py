"""GET /records/me/export: the caller's records, removed ones included, and nobody else's."""

from __future__ import annotations

import uuid

import httpx

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
