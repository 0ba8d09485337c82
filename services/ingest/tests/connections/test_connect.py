"""The connect flow through the API: authorize, then the provider's callback."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import respx

from aurora_shared.testing.tokens import TestIssuer

User = tuple[uuid.UUID, dict[str, str]]


async def _state(client: httpx.AsyncClient, headers: dict[str, str], provider: str) -> str:
    response = await client.get(f"/connections/{provider}/authorize", headers=headers)
    assert response.status_code == 200, response.text
    url: str = response.json()["authorize_url"]
    return parse_qs(urlsplit(url).query)["state"][0]


async def _rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT * FROM ingest.connections ORDER BY created_at"
    )
    return rows


async def _jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT * FROM ingest.provider_jobs ORDER BY created_at"
    )
    return rows


async def test_authorize_gives_the_provider_url(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    response = await client.get("/connections/strava/authorize", headers=headers)
    assert response.status_code == 200
    url = urlsplit(response.json()["authorize_url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.strava.com", "/oauth/authorize")
    query = parse_qs(url.query)
    assert query["redirect_uri"] == ["https://aurora.test/connections/strava/callback"]
    assert query["scope"] == ["activity:read_all"]


async def test_strava_connect_stores_encrypted_tokens_and_queues_a_backfill(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    user_id, headers = user
    state = await _state(client, headers, "strava")
    token = respx_mock.post(fakes.strava_token).respond(200, json=fakes.strava_exchange())
    response = await client.get(
        "/connections/strava/callback",
        params={"code": "the-code", "state": state, "scope": "read,activity:read_all"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "strava"
    assert body["status"] == "active"
    assert body["reconnect_hint"] is None
    assert body["scopes"] == ["read", "activity:read_all"]
    assert "token" not in response.text.replace("_token", "")  # no token, in any field
    form = parse_qs(token.calls.last.request.content.decode())
    assert form["code"] == ["the-code"]
    assert form["grant_type"] == ["authorization_code"]
    assert form["client_secret"] == ["s3cr3t"]

    [row] = await _rows(db)
    assert row["user_id"] == user_id
    assert row["provider_user_id"] == str(fakes.strava_athlete)
    assert "a4b945687g" not in row["access_token_enc"]
    assert "e5n567567" not in row["refresh_token_enc"]
    assert row["expires_at"] is not None
    [job] = await _jobs(db)
    assert (job["provider"], job["kind"], job["key"]) == ("strava", "backfill", str(row["id"]))
    assert job["connection_id"] == row["id"]
    assert job["status"] == "pending"


async def test_whoop_connect_reads_the_user_id_from_the_profile(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    _, headers = user
    state = await _state(client, headers, "whoop")
    respx_mock.post(fakes.whoop_token).respond(200, json=fakes.whoop_tokens())
    profile = respx_mock.get(fakes.whoop_profile_url).respond(200, json=fakes.whoop_profile())
    response = await client.get("/connections/whoop/callback", params={"code": "c", "state": state})
    assert response.status_code == 200, response.text
    assert profile.calls.last.request.headers["Authorization"] == "Bearer w-access"
    [row] = await _rows(db)
    assert row["provider_user_id"] == str(fakes.whoop_user)
    assert "offline" in row["scopes"].split()


async def test_whoop_without_offline_scope_is_refused(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    _, headers = user
    state = await _state(client, headers, "whoop")
    answer = fakes.whoop_tokens()
    answer["scope"] = "read:workout read:sleep read:recovery read:cycles read:profile"
    respx_mock.post(fakes.whoop_token).respond(200, json=answer)
    response = await client.get("/connections/whoop/callback", params={"code": "c", "state": state})
    assert response.status_code == 400
    assert "offline" in response.json()["detail"]
    assert await _rows(db) == []


async def test_denied_consent_stores_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, user: User, respx_mock: respx.MockRouter
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    response = await client.get(
        "/connections/strava/callback", params={"state": state, "error": "access_denied"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "consent was denied" in response.json()["detail"]
    assert not respx_mock.calls
    assert await _rows(db) == []


async def test_other_provider_errors_are_not_echoed(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    response = await client.get(
        "/connections/whoop/callback", params={"error": "<script>alert(1)</script>"}
    )
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert "(unknown)" in response.json()["detail"]


async def test_unticked_strava_scope_is_refused_before_the_exchange(
    client: httpx.AsyncClient, db: asyncpg.Connection, user: User, respx_mock: respx.MockRouter
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    response = await client.get(
        "/connections/strava/callback",
        params={"code": "c", "state": state, "scope": "read,activity:read"},
    )
    assert response.status_code == 400
    assert "activity:read_all" in response.json()["detail"]
    assert not respx_mock.calls
    assert await _rows(db) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # signature altered
        lambda s: "x" + s,  # payload altered
        lambda s: "garbage",
        lambda s: "",
    ],
)
async def test_state_mismatch_is_refused(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    respx_mock: respx.MockRouter,
    mutate: Any,
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    response = await client.get(
        "/connections/strava/callback", params={"code": "c", "state": mutate(state)}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert not respx_mock.calls
    assert await _rows(db) == []


async def test_state_of_another_provider_is_refused(
    client: httpx.AsyncClient, user: User, respx_mock: respx.MockRouter
) -> None:
    _, headers = user
    state = await _state(client, headers, "whoop")
    response = await client.get(
        "/connections/strava/callback", params={"code": "c", "state": state}
    )
    assert response.status_code == 400
    assert "another provider" in response.json()["detail"]
    assert not respx_mock.calls


async def test_replayed_callback_is_refused(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    token = respx_mock.post(fakes.strava_token).respond(200, json=fakes.strava_exchange())
    params = {"code": "c", "state": state, "scope": "read,activity:read_all"}
    assert (await client.get("/connections/strava/callback", params=params)).status_code == 200
    replay = await client.get("/connections/strava/callback", params=params)
    assert replay.status_code == 400
    assert "already used" in replay.json()["detail"]
    assert token.call_count == 1
    assert len(await _rows(db)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "used"}),
        httpx.Response(
            400,
            json={
                "message": "Bad Request",
                "errors": [{"resource": "AuthorizationCode", "field": "code", "code": "invalid"}],
            },
        ),
    ],
)
async def test_code_reuse_is_a_400(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
    answer: httpx.Response,
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    respx_mock.post(fakes.strava_token).mock(return_value=answer)
    response = await client.get(
        "/connections/strava/callback", params={"code": "spent", "state": state}
    )
    assert response.status_code == 400
    assert "already used" in response.json()["detail"]
    assert await _rows(db) == []
    assert await _jobs(db) == []


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (httpx.Response(401, json={"error": "invalid_client"}), 502),
        (httpx.Response(503), 502),
        (httpx.Response(200, json={"access_token": "x"}), 502),  # no athlete
        (httpx.Response(429, headers={"Retry-After": "30"}), 503),
    ],
)
async def test_provider_failures_during_the_exchange(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
    answer: httpx.Response,
    status: int,
) -> None:
    _, headers = user
    state = await _state(client, headers, "strava")
    respx_mock.post(fakes.strava_token).mock(return_value=answer)
    response = await client.get(
        "/connections/strava/callback", params={"code": "c", "state": state}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if status == 503:
        assert int(response.headers["Retry-After"]) >= 1
    assert await _rows(db) == []


async def test_missing_code_or_state(client: httpx.AsyncClient) -> None:
    for params in ({"code": "c"}, {"state": "s"}, {}):
        response = await client.get("/connections/strava/callback", params=params)
        assert response.status_code == 400


async def test_reconnect_reuses_the_row_and_revives_it(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    user: User,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    _, headers = user
    route = respx_mock.post(fakes.strava_token)
    route.respond(200, json=fakes.strava_exchange(access="first"))
    params = {"code": "c1", "state": await _state(client, headers, "strava")}
    assert (await client.get("/connections/strava/callback", params=params)).status_code == 200
    [first] = await _rows(db)
    await db.execute(
        "UPDATE ingest.connections SET status = 'degraded', status_reason = 'refresh refused'"
    )
    route.respond(200, json=fakes.strava_exchange(access="second"))
    params = {"code": "c2", "state": await _state(client, headers, "strava")}
    response = await client.get("/connections/strava/callback", params=params)
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    [second] = await _rows(db)
    assert second["id"] == first["id"]
    assert second["status_reason"] is None
    assert second["access_token_enc"] != first["access_token_enc"]
    # A disconnect, then a reconnect: the same row comes back to life.
    deauth = respx_mock.post(fakes.strava_deauthorize).respond(200, json={})
    assert (await client.delete("/connections/strava", headers=headers)).status_code == 204
    assert deauth.called
    params = {"code": "c3", "state": await _state(client, headers, "strava")}
    response = await client.get("/connections/strava/callback", params=params)
    assert response.status_code == 200
    [third] = await _rows(db)
    assert third["id"] == first["id"]
    assert (third["status"], third["revoked_at"]) == ("active", None)
    assert third["connected_at"] > first["connected_at"]


async def test_a_provider_account_belongs_to_one_aurora_user(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    issuer: TestIssuer,
    fakes: Any,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(fakes.strava_token).respond(200, json=fakes.strava_exchange())
    first, second = issuer.headers(uuid.uuid4()), issuer.headers(uuid.uuid4())
    params = {"code": "c", "state": await _state(client, first, "strava")}
    assert (await client.get("/connections/strava/callback", params=params)).status_code == 200
    params = {"code": "c", "state": await _state(client, second, "strava")}
    response = await client.get("/connections/strava/callback", params=params)
    assert response.status_code == 409
    assert len(await _rows(db)) == 1


async def test_unknown_provider_and_anonymous_caller(client: httpx.AsyncClient, user: User) -> None:
    _, headers = user
    assert (await client.get("/connections/garmin/authorize", headers=headers)).status_code == 404
    assert (await client.get("/connections/garmin/callback")).status_code == 404
    assert (await client.get("/connections/strava/authorize")).status_code == 401
    assert (await client.get("/connections")).status_code == 401
