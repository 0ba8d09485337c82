"""/webhooks/strava: handshake (checklist 13), fast acknowledgement (14), forged events (15)."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.connections.models import Connection
from aurora_ingest.strava import webhooks
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

Factory = Any
URL = "/webhooks/strava"


def handshake(token: str = "verify-me", challenge: str = "15f7d1a91c1f40f8") -> dict[str, str]:
    return {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}


async def jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT kind, key, status, payload::text AS payload, user_id, connection_id"
        " FROM ingest.provider_jobs ORDER BY created_at"
    )
    return rows


async def raw_count(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM ingest.raw_payloads")
    return count


# -- handshake ------------------------------------------------------------------------------


async def test_handshake_echoes_the_challenge_fast(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get(URL, params=handshake())
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert response.json() == {"hub.challenge": "15f7d1a91c1f40f8"}


async def test_wrong_verify_token_is_403_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    response = await client.get(URL, params=handshake(token="verify-you"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "hub.challenge" not in response.text
    assert seen == [(b"verify-you", b"verify-me")]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({**handshake(), "hub.mode": "unsubscribe"}, 400),
        ({"hub.mode": "subscribe", "hub.verify_token": "verify-me"}, 422),
        ({**handshake(), "hub.challenge": "x" * 257}, 422),
        ({**handshake(), "hub.challenge": ""}, 422),
    ],
)
async def test_bad_handshakes_are_problems(
    client: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    response = await client.get(URL, params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unconfigured_strava_answers_503(
    settings: IngestSettings, issuer: TestIssuer, make_event: Factory
) -> None:
    bare = settings.model_copy(
        update={
            "strava_verify_token": type(settings.strava_verify_token)(""),
            "strava_subscription_id": None,
        }
    )
    async with running_app(create_app(bare, issuer.key_source())) as http:
        assert (await http.get(URL, params=handshake())).status_code == 503
        assert (await http.post(URL, json=make_event())).status_code == 503


# -- events ---------------------------------------------------------------------------------


async def test_create_is_acknowledged_fast_and_queued_without_calling_strava(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_event: Factory,
) -> None:
    started = time.monotonic()
    response = await client.post(URL, json=make_event())
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    assert respx_mock.calls.call_count == 0
    [job] = await jobs(db)
    assert (job["kind"], job["key"], job["status"]) == ("activity", "134815:4242", "pending")
    assert json.loads(job["payload"]) == {"activity_id": 4242, "owner_id": "134815"}
    assert (job["user_id"], job["connection_id"]) == (connection.user_id, connection.id)
    raw = await db.fetchrow("SELECT kind, external_id, user_id FROM ingest.raw_payloads")
    assert dict(raw) == {"kind": "webhook", "external_id": "4242", "user_id": connection.user_id}


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"aspect_type": "update", "updates": {"title": "Messy"}}, "activity"),
        # A visibility change: the activity is still the athlete's own data, so it is kept.
        ({"aspect_type": "update", "updates": {"type": "Ride", "private": "true"}}, "activity"),
        ({"aspect_type": "delete"}, "delete"),
    ],
)
async def test_update_and_delete_queue_their_job(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    make_event: Factory,
    changes: dict[str, Any],
    kind: str,
) -> None:
    response = await client.post(URL, json=make_event(**changes))
    assert response.json() == {"status": "queued"}
    assert [(j["kind"], j["key"]) for j in await jobs(db)] == [(kind, "134815:4242")]


async def test_hundred_identical_webhooks_coalesce_into_one_job(
    client: httpx.AsyncClient, connection: Connection, db: asyncpg.Connection, make_event: Factory
) -> None:
    body = json.dumps(make_event(aspect_type="update", updates={"title": "Messy"}))
    for _ in range(100):
        response = await client.post(
            URL, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
    assert len(await jobs(db)) == 1
    assert await raw_count(db) == 1  # same bytes, same raw payload


@pytest.mark.parametrize(
    "changes",
    [{"subscription_id": 999}, {"owner_id": 777}, {"owner_id": 777, "object_type": "athlete"}],
)
async def test_forged_events_are_acknowledged_and_dropped(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_event: Factory,
    changes: dict[str, Any],
) -> None:
    response = await client.post(URL, json=make_event(**changes))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await jobs(db) == []
    assert await raw_count(db) == 0
    assert respx_mock.calls.call_count == 0


def without(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda event: {k: v for k, v in event.items() if k != field}


def with_(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda event: {**event, **changes}


@pytest.mark.parametrize(
    "malform",
    [
        lambda event: "not json",
        lambda event: [event],
        without("subscription_id"),
        without("owner_id"),
        without("object_id"),
        with_(object_id="4242"),  # strict: a string is not an id
        with_(owner_id=-5),
        with_(object_id=0),
        with_(aspect_type="explode"),
        with_(object_type="club"),
        with_(updates="none"),
        with_(event_time=1.5),
    ],
)
async def test_malformed_events_are_400_problems(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    make_event: Factory,
    malform: Callable[[dict[str, Any]], Any],
) -> None:
    mangled = malform(make_event())
    body = mangled.encode() if isinstance(mangled, str) else json.dumps(mangled).encode()
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await jobs(db) == []
    assert await raw_count(db) == 0


async def test_oversized_event_is_413(client: httpx.AsyncClient, make_event: Factory) -> None:
    event = make_event(updates={"title": "x" * 20_000})
    response = await client.post(URL, json=event)
    assert response.status_code == 413


async def test_oversized_event_without_length_is_413(
    client: httpx.AsyncClient, make_event: Factory
) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 1024

    response = await client.post(URL, content=chunks())
    assert response.status_code == 413


# -- deauthorization ------------------------------------------------------------------------


def deauthorize(make_event: Factory, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = make_event(
        aspect_type="update",
        object_type="athlete",
        object_id=134815,
        updates={"authorized": "false"},
    )
    event.update(changes)
    return event


async def test_deauthorization_revokes_wipes_tokens_and_cancels_jobs(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_event: Factory,
) -> None:
    await client.post(URL, json=make_event())
    response = await client.post(URL, json=deauthorize(make_event))
    assert response.json() == {"status": "revoked"}
    row = await db.fetchrow(
        "SELECT status, access_token_enc, refresh_token_enc, revoked_at"
        " FROM ingest.connections WHERE id = $1",
        connection.id,
    )
    assert row["status"] == "revoked"
    assert row["access_token_enc"] is None and row["refresh_token_enc"] is None
    assert row["revoked_at"] is not None
    assert [j["status"] for j in await jobs(db)] == ["cancelled"]
    assert respx_mock.calls.call_count == 0
    # The athlete is no longer ours: later events are dropped.
    again = await client.post(URL, json=make_event(aspect_type="update"))
    assert again.json() == {"status": "ignored"}
    assert [j["status"] for j in await jobs(db)] == ["cancelled"]


@pytest.mark.parametrize(
    "changes",
    [
        {"updates": {"authorized": "true"}},
        {"updates": {"firstname": "Ana"}},
        {"object_id": 999},  # names another athlete than its owner
        {"aspect_type": "create"},
    ],
)
async def test_other_athlete_events_change_nothing(
    client: httpx.AsyncClient,
    connection: Connection,
    db: asyncpg.Connection,
    make_event: Factory,
    changes: dict[str, Any],
) -> None:
    response = await client.post(URL, json=deauthorize(make_event, **changes))
    assert response.json() == {"status": "ignored"}
    status = await db.fetchval("SELECT status FROM ingest.connections WHERE id = $1", connection.id)
    assert status == "active"
    assert await jobs(db) == []


async def test_boolean_false_also_deauthorizes(
    client: httpx.AsyncClient, connection: Connection, db: asyncpg.Connection, make_event: Factory
) -> None:
    response = await client.post(URL, json=deauthorize(make_event, updates={"authorized": False}))
    assert response.json() == {"status": "revoked"}


def test_event_model_is_strict() -> None:
    with pytest.raises(Exception, match="object_id"):
        webhooks.StravaEvent.model_validate_json(
            json.dumps(
                {
                    "aspect_type": "create",
                    "event_time": 1,
                    "object_id": "1",
                    "object_type": "activity",
                    "owner_id": 1,
                    "subscription_id": 1,
                }
            )
        )
