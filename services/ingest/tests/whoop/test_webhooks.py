"""POST /webhooks/whoop: signatures over raw bytes, replays, unknown users, job queueing."""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER

W = Any
URL = "/webhooks/whoop"


@pytest.fixture
async def connected(client: httpx.AsyncClient, kit: ProviderKit, w: W) -> Any:
    """The athlete, connected after the app's clean slate (the order matters)."""
    return await w.connect(kit)


async def _jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT provider, kind, key, status, user_id, connection_id, payload"
        " FROM ingest.provider_jobs ORDER BY created_at"
    )
    return rows


async def _post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(URL, content=body, headers=headers)


async def test_valid_signature_queues_a_job(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    response = await _post(client, body, w.signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    [job] = await _jobs(db)
    assert (job["provider"], job["kind"], job["status"]) == ("whoop", "workout", "pending")
    assert job["key"] == f"{connected.user_id}:{w.WORKOUT_ID}"
    assert job["user_id"] == connected.user_id
    assert job["connection_id"] == connected.connection_id
    assert json.loads(job["payload"])["id"] == w.WORKOUT_ID


@pytest.mark.parametrize(
    ("kind", "object_id", "job_kind"),
    [
        ("sleep.updated", "SLEEP", "sleep"),
        ("recovery.updated", "SLEEP", "recovery"),
        ("workout.deleted", "WORKOUT", "workout_deleted"),
        ("sleep.deleted", "SLEEP", "sleep_deleted"),
        ("recovery.deleted", "SLEEP", "recovery_deleted"),
    ],
)
async def test_every_event_type_has_its_job(
    client: httpx.AsyncClient,
    connected: Any,
    db: asyncpg.Connection,
    w: W,
    kind: str,
    object_id: str,
    job_kind: str,
) -> None:
    the_id = w.SLEEP_ID if object_id == "SLEEP" else w.WORKOUT_ID
    body = w.event(kind, the_id)
    response = await _post(client, body, w.signed_headers(body))
    assert response.json() == {"status": "queued"}
    [job] = await _jobs(db)
    assert job["kind"] == job_kind
    assert job["key"] == f"{connected.user_id}:{the_id}"


async def _assert_refused(response: httpx.Response, db: asyncpg.Connection) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "invalid or missing webhook signature"
    assert await _jobs(db) == []


async def test_one_byte_change_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    headers = w.signed_headers(body)
    tampered = body.replace(b"10129", b"10128")
    assert len(tampered) == len(body)
    await _assert_refused(await _post(client, tampered, headers), db)


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
async def test_missing_header_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W, missing: str
) -> None:
    body = w.event()
    headers = w.signed_headers(body)
    del headers[missing]
    await _assert_refused(await _post(client, body, headers), db)


async def test_stale_timestamp_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    six_minutes_ago = int(time.time() * 1000) - 6 * 60 * 1000
    await _assert_refused(
        await _post(client, body, w.signed_headers(body, at_ms=six_minutes_ago)), db
    )


async def test_wrong_secret_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    await _assert_refused(await _post(client, body, w.signed_headers(body, secret="guess")), db)


async def test_whitespace_variant_of_a_valid_event_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    """Checklist 18: the same JSON with other whitespace is another body."""
    body = w.event()
    headers = w.signed_headers(body)
    variant = json.dumps(json.loads(body), indent=2).encode()
    assert json.loads(variant) == json.loads(body)
    await _assert_refused(await _post(client, variant, headers), db)


async def test_replay_is_processed_once(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    first = await _post(client, body, w.signed_headers(body))
    assert first.json() == {"status": "queued"}
    # The job runs and finishes; the replayed delivery must not queue it again.
    await db.execute("UPDATE ingest.provider_jobs SET status = 'done'")
    for _ in range(3):
        again = await _post(client, body, w.signed_headers(body))
        assert again.status_code == 200
        assert again.json() == {"status": "duplicate"}
    assert len(await _jobs(db)) == 1


async def test_a_new_trace_of_the_same_object_is_a_new_event(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = w.event()
    await _post(client, body, w.signed_headers(body))
    await db.execute("UPDATE ingest.provider_jobs SET status = 'done'")
    later = w.event(trace_id="0f7c1a52-0000-4000-8000-000000000001")
    assert (await _post(client, later, w.signed_headers(later))).json() == {"status": "queued"}
    assert len(await _jobs(db)) == 2


async def test_a_flood_coalesces_into_one_pending_job(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    for number in range(20):
        body = w.event(trace_id=f"trace-{number}")
        assert (await _post(client, body, w.signed_headers(body))).status_code == 200
    assert len(await _jobs(db)) == 1


async def test_unknown_user_is_acknowledged_without_effect(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, redis: Redis, w: W
) -> None:
    body = w.event(user_id=99999)
    response = await _post(client, body, w.signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await _jobs(db) == []


async def test_revoked_connection_is_an_unknown_user(
    client: httpx.AsyncClient, kit: ProviderKit, db: asyncpg.Connection, w: W
) -> None:
    await w.connect(kit, status="degraded")
    await db.execute(
        "UPDATE ingest.connections SET status = 'revoked', revoked_at = now(),"
        " access_token_enc = NULL, refresh_token_enc = NULL"
    )
    body = w.event()
    assert (await _post(client, body, w.signed_headers(body))).json() == {"status": "ignored"}
    assert await _jobs(db) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"user_id":10129,"id":10235,"type":"workout.updated","trace_id":"t"}',  # v1 model
        b'{"user_id":10129,"id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","type":"cycle.updated","trace_id":"t"}',
        b'{"user_id":"someone","type":"workout.updated"}',
        b"not json at all",
    ],
)
async def test_signed_but_unusable_events_are_acknowledged_and_dropped(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W, body: bytes
) -> None:
    response = await _post(client, body, w.signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await _jobs(db) == []


async def test_oversized_body_is_refused_before_verification(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    body = b"{" + b" " * 20_000 + b"}"
    response = await _post(client, body, w.signed_headers(body))
    assert response.status_code == 413
    assert await _jobs(db) == []


async def test_verification_reads_the_signature_of_the_fixture_style_event(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    """Pretty-printed JSON as sent is fine when the signature covers exactly those bytes."""
    body = json.dumps(json.loads(w.event("sleep.updated", w.SLEEP_ID)), indent=2).encode()
    assert (await _post(client, body, w.signed_headers(body))).json() == {"status": "queued"}


async def test_streamed_oversized_body_is_refused(
    client: httpx.AsyncClient, connected: Any, db: asyncpg.Connection, w: W
) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 1024

    response = await client.post(URL, content=chunks(), headers=w.signed_headers(b""))
    assert response.status_code == 413
    assert await _jobs(db) == []


async def test_unconfigured_whoop_answers_503(
    settings: Any, issuer: Any, redis: Redis, w: W
) -> None:
    from pydantic import SecretStr

    from aurora_ingest.app import create_app
    from aurora_shared.testing.service import running_app

    bare = settings.model_copy(update={"whoop_client_secret": SecretStr("")})
    async with running_app(create_app(bare, issuer.key_source())) as http:
        body = w.event()
        response = await http.post(URL, content=body, headers=w.signed_headers(body))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_lost_replay_mark_is_only_logged() -> None:
    from aurora_ingest.whoop.webhooks import _mark_seen

    class Broken:
        async def set(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("redis is down")

    await _mark_seen(Broken(), "key")  # type: ignore[arg-type]
