"""access_token: proactive refresh, rotation, one refresh at a time, degradation, loud decrypt."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from cryptography.fernet import Fernet

from aurora_ingest.connections.service import ConnectionUnusable, access_token, reencrypt_all
from aurora_ingest.jobs.service import JobCancelled
from aurora_ingest.providers.crypto import TokenCipher, TokenDecryptError
from aurora_ingest.providers.http import ProviderRateLimited, ProviderUnavailable
from aurora_ingest.providers.kit import ProviderKit

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(kit: ProviderKit) -> None:
    kit.clock = lambda: NOW


def _form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


async def test_fresh_token_needs_no_provider_call(
    kit: ProviderKit, make_connection: Any, load: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW + timedelta(minutes=5, seconds=1))
    assert await access_token(kit, connection.id) == "old-access"
    assert not respx_mock.calls
    assert (await load(connection.id)).last_used_at == NOW


async def test_refresh_five_minutes_ahead_persists_the_rotated_refresh_token(
    kit: ProviderKit, make_connection: Any, load: Any, fakes: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW + timedelta(minutes=4))
    route = respx_mock.post(fakes.strava_token).respond(
        200, json=fakes.strava_refresh(access="new-access", refresh="new-refresh", now=NOW)
    )
    assert await access_token(kit, connection.id) == "new-access"
    form = _form(route.calls.last.request)
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["old-refresh"]
    assert form["client_id"] == ["1234"]
    stored = await load(connection.id)
    assert kit.cipher.decrypt(stored.access_token_enc) == "new-access"
    assert kit.cipher.decrypt(stored.refresh_token_enc) == "new-refresh"
    assert stored.expires_at == NOW + timedelta(hours=6)
    assert stored.last_used_at == NOW
    assert stored.status == "active"
    # The next call uses the stored token without asking again.
    assert await access_token(kit, connection.id) == "new-access"
    assert route.call_count == 1


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    kit: ProviderKit, make_connection: Any, load: Any, fakes: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW - timedelta(hours=1))
    answer = fakes.strava_refresh(access="new-access", refresh="x", now=NOW)
    del answer["refresh_token"]
    respx_mock.post(fakes.strava_token).respond(200, json=answer)
    assert await access_token(kit, connection.id) == "new-access"
    assert kit.cipher.decrypt((await load(connection.id)).refresh_token_enc) == "old-refresh"


async def test_whoop_refresh_asks_offline_again(
    kit: ProviderKit, make_connection: Any, load: Any, fakes: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(
        provider="whoop", provider_user_id="10129", expires_at=NOW - timedelta(seconds=1)
    )
    route = respx_mock.post(fakes.whoop_token).respond(
        200, json=fakes.whoop_tokens(access="w2", refresh="wr2")
    )
    assert await access_token(kit, connection.id) == "w2"
    assert _form(route.calls.last.request)["scope"] == ["offline"]
    stored = await load(connection.id)
    assert stored.expires_at == NOW + timedelta(hours=1)
    assert kit.cipher.decrypt(stored.refresh_token_enc) == "wr2"


async def test_two_concurrent_refreshes_make_one_provider_call(
    kit: ProviderKit, make_connection: Any, fakes: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW + timedelta(seconds=30))
    entered = asyncio.Event()

    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        entered.set()
        await asyncio.sleep(0.3)  # the other caller queues on the advisory lock meanwhile
        return httpx.Response(
            200, json=fakes.strava_refresh(access="only-one", refresh="r2", now=NOW)
        )

    route = respx_mock.post(fakes.strava_token).mock(side_effect=slow_refresh)
    tokens = await asyncio.gather(*(access_token(kit, connection.id) for _ in range(2)))
    assert tokens == ["only-one", "only-one"]
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant"}),
        (401, {"message": "Authorization Error"}),
    ],
)
async def test_refused_refresh_degrades_the_connection(
    kit: ProviderKit,
    make_connection: Any,
    load: Any,
    fakes: Any,
    respx_mock: respx.MockRouter,
    status: int,
    body: dict[str, Any],
) -> None:
    connection = await make_connection(expires_at=NOW - timedelta(minutes=1))
    respx_mock.post(fakes.strava_token).respond(status, json=body)
    with pytest.raises(ConnectionUnusable) as raised:
        await access_token(kit, connection.id)
    assert isinstance(raised.value, JobCancelled)  # the jobs runner cancels, never retries
    stored = await load(connection.id)
    assert stored.status == "degraded"
    assert "token refresh refused" in (stored.status_reason or "")
    # Tokens are kept: a degraded connection is not revoked, a reconnect replaces them.
    assert stored.refresh_token_enc is not None
    # From now on nobody calls the provider for it.
    with pytest.raises(ConnectionUnusable):
        await access_token(kit, connection.id)
    assert respx_mock.calls.call_count == 1


@pytest.mark.parametrize(
    "effect",
    [
        httpx.Response(503, text="down"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, json={"token_type": "Bearer"}),
    ],
)
async def test_unavailable_provider_never_degrades(
    kit: ProviderKit,
    make_connection: Any,
    load: Any,
    fakes: Any,
    respx_mock: respx.MockRouter,
    effect: Any,
) -> None:
    connection = await make_connection(expires_at=NOW - timedelta(minutes=1))
    respx_mock.post(fakes.strava_token).mock(side_effect=[effect])
    with pytest.raises(ProviderUnavailable):
        await access_token(kit, connection.id)
    stored = await load(connection.id)
    assert stored.status == "active"
    assert kit.cipher.decrypt(stored.refresh_token_enc) == "old-refresh"


async def test_rate_limited_refresh_pauses_the_budget(
    kit: ProviderKit, make_connection: Any, load: Any, fakes: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW - timedelta(minutes=1))
    respx_mock.post(fakes.strava_token).respond(429, headers={"Retry-After": "60"})
    with pytest.raises(ProviderRateLimited) as raised:
        await access_token(kit, connection.id)
    assert (await load(connection.id)).status == "active"
    with pytest.raises(ProviderRateLimited) as paused:
        await kit.budgets["strava"].take()
    assert paused.value.retry_at >= raised.value.retry_at - timedelta(seconds=1)


async def test_connection_without_refresh_token_degrades(
    kit: ProviderKit, make_connection: Any, load: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(refresh=None, expires_at=NOW - timedelta(minutes=1))
    with pytest.raises(ConnectionUnusable, match="no refresh token"):
        await access_token(kit, connection.id)
    assert (await load(connection.id)).status == "degraded"
    assert not respx_mock.calls


@pytest.mark.parametrize("status", ["degraded", "revoked"])
async def test_unusable_connections(kit: ProviderKit, make_connection: Any, status: str) -> None:
    if status == "revoked":
        connection = await make_connection(access=None, refresh=None, status="active")
        async with kit.sessions() as session, session.begin():
            from aurora_ingest.connections.service import revoke_local

            row = await session.merge(connection)
            await revoke_local(session, row, reason="test")
    else:
        connection = await make_connection(status=status)
    with pytest.raises(ConnectionUnusable) as raised:
        await access_token(kit, connection.id)
    assert raised.value.status == status


async def test_unknown_connection_is_unusable(kit: ProviderKit) -> None:
    with pytest.raises(ConnectionUnusable, match="no longer exists"):
        await access_token(kit, uuid.uuid4())


async def test_undecryptable_token_is_loud_not_disconnected(
    kit: ProviderKit, make_connection: Any, load: Any
) -> None:
    connection = await make_connection()
    lost_key = Fernet.generate_key().decode()
    kit.cipher = TokenCipher([lost_key])
    with pytest.raises(TokenDecryptError):
        await access_token(kit, connection.id)
    assert (await load(connection.id)).status == "active"


async def test_undecryptable_refresh_token_is_loud_too(
    kit: ProviderKit, make_connection: Any, respx_mock: respx.MockRouter
) -> None:
    connection = await make_connection(expires_at=NOW - timedelta(minutes=1))
    kit.cipher = TokenCipher([Fernet.generate_key().decode()])
    with pytest.raises(TokenDecryptError):
        await access_token(kit, connection.id)
    assert not respx_mock.calls


async def test_reencrypt_all_moves_every_token_to_the_new_key(
    kit: ProviderKit, make_connection: Any, load: Any
) -> None:
    old_key = kit.settings.fernet_keys[0]
    rows = [
        await make_connection(provider_user_id=str(n), access=f"a{n}", refresh=f"r{n}")
        for n in range(5)
    ]
    rows.append(await make_connection(provider_user_id="no-refresh", access="a", refresh=None))
    new_key = Fernet.generate_key().decode()
    kit.cipher = TokenCipher([new_key, old_key])
    assert await reencrypt_all(kit, batch_size=2) == 6
    kit.cipher = TokenCipher([new_key])  # old key removed
    for n, row in enumerate(rows[:5]):
        stored = await load(row.id)
        assert kit.cipher.decrypt(stored.access_token_enc) == f"a{n}"
        assert kit.cipher.decrypt(stored.refresh_token_enc) == f"r{n}"
    assert (await load(rows[5].id)).refresh_token_enc is None
    assert await access_token(kit, rows[0].id) == "a0"


async def test_reencrypt_all_stops_loudly_on_a_token_no_key_opens(
    kit: ProviderKit, make_connection: Any
) -> None:
    await make_connection()
    kit.cipher = TokenCipher([Fernet.generate_key().decode()])
    with pytest.raises(TokenDecryptError):
        await reencrypt_all(kit)
