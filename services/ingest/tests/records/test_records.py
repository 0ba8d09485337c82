"""GET /records and /records/{id}: own records only, newest first, bounded pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

BASE = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], start: datetime, **extra: Any
) -> str:
    body = {"sport": "run", "start": start.isoformat(), "duration_s": 1800, **extra}
    response = await client.post("/manual/workouts", json=body, headers=headers)
    assert response.status_code == 202, response.text
    record_id: str = response.json()["record_id"]
    return record_id


def without_instance(response: httpx.Response) -> dict[str, Any]:
    """The problem's `instance` echoes the requested path, which differs per id."""
    return {k: v for k, v in response.json().items() if k != "instance"}


async def test_get_own_record(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    record_id = await post(
        client,
        alice,
        datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
        client_ref="r1",
        metrics={"distance_m": 5000},
    )
    response = await client.get(f"/records/{record_id}", headers=alice)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id", "kind", "source", "origin_device", "external_id", "sport", "date", "start", "end",
        "duration_s", "tz_offset_min", "metrics", "created_at", "updated_at", "details",
        "samples",
    }  # fmt: skip
    assert body["samples"] is None  # only on request
    assert body["id"] == record_id
    assert (body["kind"], body["source"], body["external_id"]) == ("workout", "manual", "r1")
    assert datetime.fromisoformat(body["start"]) == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert body["end"] is None
    assert body["duration_s"] == 1800.0
    assert body["metrics"] == {"distance_m": 5000.0}


async def test_someone_elses_record_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    bob: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    record_id = await post(client, alice, BASE)
    theirs = await client.get(f"/records/{record_id}", headers=bob)
    await db.execute("DELETE FROM ingest.records")
    missing = await client.get(f"/records/{record_id}", headers=bob)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content
    assert theirs.headers["content-type"] == "application/problem+json"
    random = await client.get(f"/records/{uuid.uuid4()}", headers=bob)
    assert without_instance(random) == without_instance(theirs)


async def test_record_endpoints_need_a_token_and_a_uuid(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    assert (await client.get(f"/records/{uuid.uuid4()}")).status_code == 401
    assert (await client.get("/records")).status_code == 401
    assert (await client.get("/records/not-a-uuid", headers=alice)).status_code == 422


async def test_list_is_newest_first_and_only_mine(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ids = [await post(client, alice, BASE + timedelta(days=d)) for d in (0, 2, 1)]
    await post(client, bob, BASE + timedelta(days=5))
    gone = await post(client, alice, BASE + timedelta(days=3))
    assert (await client.delete(f"/manual/workouts/{gone}", headers=alice)).status_code == 204

    response = await client.get("/records", headers=alice)
    assert response.status_code == 200
    page = response.json()
    assert [item["id"] for item in page["items"]] == [ids[1], ids[2], ids[0]]
    assert page["next_before"] is None and page["next_before_id"] is None
    only_workouts = await client.get("/records", params={"kind": "workout"}, headers=alice)
    assert len(only_workouts.json()["items"]) == 3
    sleep = await client.get("/records", params={"kind": "sleep"}, headers=alice)
    assert sleep.json()["items"] == []


async def test_pages_follow_each_other_without_gaps_even_on_ties(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    # Five records, three of them starting at the same instant.
    starts = [BASE, BASE + timedelta(hours=1), BASE + timedelta(hours=1),
              BASE + timedelta(hours=1), BASE + timedelta(hours=2)]  # fmt: skip
    ids = {await post(client, alice, s) for s in starts}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        page = (await client.get("/records", params=params, headers=alice)).json()
        seen.extend(item["id"] for item in page["items"])
        if page["next_before"] is None:
            break
        params = {
            "limit": 2,
            "before": page["next_before"],
            "before_id": page["next_before_id"],
        }
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == ids
    before_only = await client.get(
        "/records", params={"before": (BASE + timedelta(hours=1)).isoformat()}, headers=alice
    )
    assert len(before_only.json()["items"]) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": 10**6},
        {"limit": "ten"},
        {"kind": "nap"},
        {"before": "yesterday"},
        {"before": "2026-11-01T06:00:00"},
        {"before_id": str(uuid.uuid4())},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, alice: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get("/records", params=params, headers=alice)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_limit_bounds_are_inclusive(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    for limit in (1, 200):
        response = await client.get("/records", params={"limit": limit}, headers=alice)
        assert response.status_code == 200
