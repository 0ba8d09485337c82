"""Listing, syncing and disconnecting connections; loud decryption failures; erasure."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from redis.asyncio import Redis

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.connections import repository, service
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

User = tuple[uuid.UUID, dict[str, str]]


async def _pending_backfill(kit: ProviderKit, user_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="strava",
            kind="backfill",
            key=str(connection_id),
            user_id=user_id,
            connection_id=connection_id,
        )


async def test_list_shows_status_and_hints_never_tokens(
    client: httpx.AsyncClient, make_connection: Any, user: User, issuer: TestIssuer
) -> None:
    user_id, headers = user
    await make_connection(user_id=user_id, access="SECRET-A", refresh="SECRET-R")
    await make_connection(
        user_id=user_id, provider="whoop", provider_user_id="10129", status="degraded"
    )
    await make_connection(provider_user_id="someone-else")  # another user's
    response = await client.get("/connections", headers=headers)
    assert response.status_code == 200
    assert "SECRET" not in response.text
    assert "token" not in response.text
    items = {item["provider"]: item for item in response.json()["items"]}
    assert set(items) == {"strava", "whoop"}
    assert items["strava"]["status"] == "active"
    assert items["strava"]["reconnect_hint"] is None
    assert items["strava"]["scopes"] == ["read", "activity:read_all"]
    assert items["whoop"]["status"] == "degraded"
    assert items["whoop"]["reconnect_hint"] == "/connections/whoop/authorize"
    stranger = issuer.headers(uuid.uuid4())
    assert (await client.get("/connections", headers=stranger)).json() == {"items": []}


async def test_degraded_after_refused_refresh_shows_a_reconnect_hint(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    make_connection: Any,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    connection = await make_connection(
        user_id=user_id, expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    respx_mock.post(fakes.strava_token).respond(400, json={"error": "invalid_grant"})
    with pytest.raises(service.ConnectionUnusable):
        await service.access_token(kit, connection.id)
    [item] = (await client.get("/connections", headers=headers)).json()["items"]
    assert item["status"] == "degraded"
    assert "invalid_grant" in item["status_reason"]
    hint = item["reconnect_hint"]
    again = await client.get(hint, headers=headers)
    assert again.status_code == 200
    assert urlsplit(again.json()["authorize_url"]).netloc == "www.strava.com"


async def test_disconnect_strava_revokes_there_and_here(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    db: asyncpg.Connection,
    make_connection: Any,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    connection = await make_connection(user_id=user_id)
    await _pending_backfill(kit, user_id, connection.id)
    deauth = respx_mock.post(fakes.strava_deauthorize).respond(200, json={"access_token": "x"})
    response = await client.delete("/connections/strava", headers=headers)
    assert response.status_code == 204
    assert parse_qs(deauth.calls.last.request.content.decode()) == {"access_token": ["old-access"]}
    row = await db.fetchrow("SELECT * FROM ingest.connections WHERE id = $1", connection.id)
    assert row["status"] == "revoked"
    assert row["revoked_at"] is not None
    assert (row["access_token_enc"], row["refresh_token_enc"], row["expires_at"]) == (
        None,
        None,
        None,
    )
    job = await db.fetchrow("SELECT status FROM ingest.provider_jobs")
    assert job["status"] == "cancelled"
    [item] = (await client.get("/connections", headers=headers)).json()["items"]
    assert item["status"] == "revoked"
    assert item["revoked_at"] is not None
    assert item["reconnect_hint"] == "/connections/strava/authorize"
    # Gone for the provider packages too, and a second delete is a 404.
    async with kit.sessions() as session:
        assert await repository.get_for_user(session, user_id, "strava") is None
        assert await repository.find_by_provider_user(session, "strava", "134815") is None
    assert (await client.delete("/connections/strava", headers=headers)).status_code == 404


async def test_disconnect_whoop_uses_delete_user_access(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    make_connection: Any,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    await make_connection(user_id=user_id, provider="whoop", provider_user_id="10129")
    revoke = respx_mock.delete(fakes.whoop_revoke).respond(204)
    assert (await client.delete("/connections/whoop", headers=headers)).status_code == 204
    assert revoke.calls.last.request.headers["Authorization"] == "Bearer old-access"
    assert await db.fetchval("SELECT status FROM ingest.connections") == "revoked"


@pytest.mark.parametrize(
    "effect", [httpx.Response(500), httpx.ConnectError("down"), httpx.Response(401)]
)
async def test_provider_failure_still_revokes_locally(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    make_connection: Any,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
    effect: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_id, headers = user
    await make_connection(user_id=user_id)
    respx_mock.post(fakes.strava_deauthorize).mock(side_effect=[effect])
    caplog.set_level(logging.WARNING, logger="aurora.ingest.connections")
    assert (await client.delete("/connections/strava", headers=headers)).status_code == 204
    assert await db.fetchval("SELECT status FROM ingest.connections") == "revoked"
    assert any("revoking locally anyway" in r.getMessage() for r in caplog.records)


async def test_disconnect_of_degraded_or_expired_connections(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    make_connection: Any,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    await make_connection(user_id=user_id, status="degraded")
    # An expired token whose refresh is unavailable: no revocation there, still revoked here.
    await make_connection(
        user_id=user_id,
        provider="whoop",
        provider_user_id="10129",
        expires_at=datetime.now(UTC) - timedelta(hours=1),
    )
    refresh = respx_mock.post(fakes.whoop_token).respond(503)
    revoke_whoop = respx_mock.delete(fakes.whoop_revoke).respond(204)
    deauthorize = respx_mock.post(fakes.strava_deauthorize).respond(200)
    for provider in ("strava", "whoop"):
        response = await client.delete(f"/connections/{provider}", headers=headers)
        assert response.status_code == 204
    revoked = "SELECT count(*) FROM ingest.connections WHERE status = 'revoked'"
    assert await db.fetchval(revoked) == 2
    assert refresh.call_count == 1
    assert not revoke_whoop.called
    assert not deauthorize.called  # a degraded connection has no usable token


async def test_other_users_connections_are_404(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    make_connection: Any,
    user: User,
    respx_mock: respx.MockRouter,
) -> None:
    _, headers = user
    await make_connection()  # someone else's strava
    assert (await client.delete("/connections/strava", headers=headers)).status_code == 404
    assert (await client.post("/connections/strava/sync", headers=headers)).status_code == 404
    assert (await client.delete("/connections/garmin", headers=headers)).status_code == 404
    assert await db.fetchval("SELECT status FROM ingest.connections") == "active"
    assert not respx_mock.calls


async def test_decryption_failure_is_a_loud_500_never_not_connected(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    make_connection: Any,
    kit: ProviderKit,
    user: User,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_id, headers = user
    connection = await make_connection(user_id=user_id)
    # Encrypted under a key this deployment no longer has.
    other_key = Fernet(Fernet.generate_key()).encrypt(b"old-access").decode()
    await db.execute(
        "UPDATE ingest.connections SET access_token_enc = $1 WHERE id = $2",
        other_key,
        connection.id,
    )
    caplog.set_level(logging.ERROR, logger="aurora.ingest.connections")
    response = await client.delete("/connections/strava", headers=headers)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "stored provider credentials cannot be decrypted"
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert not respx_mock.calls
    row = await db.fetchrow("SELECT status, access_token_enc FROM ingest.connections")
    assert row["status"] == "active"  # nothing pretended to disconnect
    assert row["access_token_enc"] == other_key


async def test_sync_queues_one_backfill(
    client: httpx.AsyncClient, db: asyncpg.Connection, make_connection: Any, user: User
) -> None:
    user_id, headers = user
    connection = await make_connection(user_id=user_id)
    for _ in range(3):
        response = await client.post("/connections/strava/sync", headers=headers)
        assert response.status_code == 202
        assert response.json() == {"provider": "strava", "status": "queued"}
    [job] = await db.fetch("SELECT * FROM ingest.provider_jobs")
    assert (job["kind"], job["key"], job["connection_id"]) == (
        "backfill",
        str(connection.id),
        connection.id,
    )


async def test_sync_of_a_degraded_connection_asks_to_reconnect(
    client: httpx.AsyncClient, db: asyncpg.Connection, make_connection: Any, user: User
) -> None:
    user_id, headers = user
    await make_connection(user_id=user_id, status="degraded")
    response = await client.post("/connections/strava/sync", headers=headers)
    assert response.status_code == 409
    assert "reconnect" in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM ingest.provider_jobs") == 0


async def test_blocked_user_cannot_finish_a_connect(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    response = await client.get("/connections/strava/authorize", headers=headers)
    state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
    await db.execute(
        "INSERT INTO ingest.blocked_users (user_id, deleted_at) VALUES ($1, now())", user_id
    )
    response = await client.get(
        "/connections/strava/callback", params={"code": "c", "state": state}
    )
    assert response.status_code == 400
    assert "no longer active" in response.json()["detail"]
    assert not respx_mock.calls


async def test_revoke_local_mark_synced_and_erase(
    kit: ProviderKit, make_connection: Any, load: Any
) -> None:
    user_id = uuid.uuid4()
    connection = await make_connection(user_id=user_id)
    await make_connection(user_id=user_id, provider="whoop", provider_user_id="10129")
    await _pending_backfill(kit, user_id, connection.id)
    synced = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    async with kit.sessions() as session, session.begin():
        await service.mark_synced(session, connection.id, at=synced)
    assert (await load(connection.id)).last_synced_at == synced
    async with kit.sessions() as session, session.begin():
        row = await repository.find_by_provider_user(session, "strava", "134815")
        assert row is not None
        await service.revoke_local(session, row, reason="deauthorized on Strava")
    stored = await load(connection.id)
    assert (stored.status, stored.status_reason) == ("revoked", "deauthorized on Strava")
    assert stored.access_token_enc is None
    async with kit.sessions() as session, session.begin():
        assert await repository.erase_for_user(session, user_id) == 2
        assert await service.list_connections(session, user_id) == []


async def test_not_configured_provider_is_503(
    settings: IngestSettings, issuer: TestIssuer, redis: Redis
) -> None:
    bare = settings.model_copy(update={"whoop_client_id": "", "state_secret": SecretStr("")})
    headers = issuer.headers(uuid.uuid4())
    async with running_app(create_app(bare, issuer.key_source())) as client:
        for provider in ("whoop", "strava"):  # no client id; no state secret
            response = await client.get(f"/connections/{provider}/authorize", headers=headers)
            assert response.status_code == 503
            assert "not configured" in response.json()["detail"]
