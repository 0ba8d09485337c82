"""GET /users/me/export: one archive from every service, at most once per 24 hours."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import respx

PASSWORD = "correct horse battery staple"
EXPORT_MAX_BYTES = 4096  # as set by this folder's conftest
INGEST = "http://127.0.0.1:8102/records/me/export"
DEDUP = "http://127.0.0.1:8103/timeline/me/export"
ANALYTICS = "http://127.0.0.1:8104/analytics/me/export"
Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sources() -> Iterator[respx.MockRouter]:
    """Every outbound request must match a route: no other host is ever contacted."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(INGEST).respond(200, json={"records": [{"id": "r1", "sport": "run"}]})
        router.get(DEDUP).respond(200, json={"timeline": []})
        router.get(ANALYTICS).respond(200, json={"zones": {"hr": [120, 140]}})
        yield router


async def test_export_assembles_every_service_with_the_callers_token(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, sources: respx.MockRouter
) -> None:
    token = await signup("exp@example.com")
    await client.patch("/users/me", headers=auth(token), json={"display_name": "Exporter"})
    user_id = await db.fetchval("SELECT id FROM identity.users")
    coach = uuid.uuid4()
    await db.execute(
        "INSERT INTO identity.users (id, email, password_hash) VALUES ($1, 'c@example.com', 'x')",
        coach,
    )
    await db.execute(
        "INSERT INTO identity.grants (id, athlete_id, coach_id, scopes, status, initiated_by) "
        "VALUES ($1, $2, $3, ARRAY['read'], 'active', $2)",
        uuid.uuid4(),
        user_id,
        coach,
    )

    response = await client.get("/users/me/export", headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment;")
    archive = response.json()
    assert archive["format"] == "aurora-export"
    assert archive["version"] == 1
    assert archive["user_id"] == str(user_id)
    assert archive["complete"] is True
    assert archive["identity"]["profile"]["email"] == "exp@example.com"
    assert archive["identity"]["profile"]["display_name"] == "Exporter"
    assert [g["coach_id"] for g in archive["identity"]["grants"]] == [str(coach)]
    sessions = archive["identity"]["sessions"]
    assert sessions and all(s["user_id"] == str(user_id) for s in sessions)
    assert all("token_hash" not in s for s in sessions)
    assert archive["services"] == {
        "ingest": {
            "status": "ok",
            "data": {"records": [{"id": "r1", "sport": "run"}]},
            "error": None,
        },
        "dedup": {"status": "ok", "data": {"timeline": []}, "error": None},
        "analytics": {"status": "ok", "data": {"zones": {"hr": [120, 140]}}, "error": None},
    }
    assert "password_hash" not in response.text
    assert "argon2" not in response.text
    # Each service was asked once, with the caller's own bearer token (never another's).
    for route in sources.routes:
        assert route.call_count == 1
        assert route.calls.last.request.headers["authorization"] == f"Bearer {token}"


async def test_second_export_within_24_hours_is_a_429_with_retry_after(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, sources: respx.MockRouter
) -> None:
    token = await signup("twice@example.com")
    assert (await client.get("/users/me/export", headers=auth(token))).status_code == 200
    again = await client.get("/users/me/export", headers=auth(token))
    assert again.status_code == 429
    assert again.headers["content-type"] == "application/problem+json"
    assert 86_000 <= int(again.headers["retry-after"]) <= 86_400
    # The refused request cost the other services nothing.
    assert all(route.call_count == 1 for route in sources.routes)
    # A day later it is allowed again.
    await db.execute(
        "UPDATE identity.export_requests SET requested_at = now() - interval '24 hours 1 second'"
    )
    assert (await client.get("/users/me/export", headers=auth(token))).status_code == 200


async def test_parallel_exports_take_one_slot(
    client: httpx.AsyncClient, signup: Login, sources: respx.MockRouter
) -> None:
    token = await signup("race@example.com")
    responses = await asyncio.gather(
        *(client.get("/users/me/export", headers=auth(token)) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 429, 429, 429]


async def test_the_limit_is_per_user(
    client: httpx.AsyncClient, signup: Login, sources: respx.MockRouter
) -> None:
    first = await signup("one@example.com")
    second = await signup("two@example.com")
    assert (await client.get("/users/me/export", headers=auth(first))).status_code == 200
    assert (await client.get("/users/me/export", headers=auth(second))).status_code == 200


async def slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return httpx.Response(200, json={})


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(500, json={"detail": "boom"}), "answered HTTP 500"),
        (httpx.Response(404), "answered HTTP 404"),
        (
            httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"}),
            "answered HTTP 302",
        ),
        (httpx.Response(200, content=b"{not json"), "answer is not valid JSON"),
        (httpx.Response(200, content=b"\xff\xfe"), "answer is not valid JSON"),
        (
            httpx.Response(200, json={"blob": "x" * (EXPORT_MAX_BYTES + 1)}),
            f"answer larger than {EXPORT_MAX_BYTES} bytes",
        ),
        (
            # Small on the wire, huge once decompressed: the cap counts decoded bytes.
            httpx.Response(
                200,
                content=gzip.compress(b"[" + b"0," * EXPORT_MAX_BYTES + b"0]"),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            ),
            f"answer larger than {EXPORT_MAX_BYTES} bytes",
        ),
        (httpx.ConnectError("refused"), "unreachable (ConnectError)"),
        (httpx.ReadTimeout("slow"), "timed out"),
        (slow, "timed out"),
    ],
)
async def test_a_failing_source_becomes_an_error_entry_not_a_500(
    client: httpx.AsyncClient,
    signup: Login,
    sources: respx.MockRouter,
    answer: httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]],
    error: str,
) -> None:
    token = await signup("flaky@example.com")
    route = sources.get(DEDUP)
    if isinstance(answer, httpx.Response):
        route.mock(return_value=answer)
    else:
        route.mock(side_effect=answer)
    started = datetime.now(UTC)
    response = await client.get("/users/me/export", headers=auth(token))
    assert response.status_code == 200, response.text
    assert (datetime.now(UTC) - started).total_seconds() < 4  # the 1 s bound held
    archive = response.json()
    assert archive["complete"] is False
    assert archive["services"]["dedup"] == {"status": "error", "data": None, "error": error}
    assert archive["services"]["ingest"]["status"] == "ok"
    assert archive["services"]["analytics"]["status"] == "ok"


async def test_export_needs_an_active_account(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, sources: respx.MockRouter
) -> None:
    assert (await client.get("/users/me/export")).status_code == 401
    token = await signup("gone@example.com")
    await db.execute("UPDATE identity.users SET deleted_at = now()")
    assert (await client.get("/users/me/export", headers=auth(token))).status_code == 401
    assert all(route.call_count == 0 for route in sources.routes)
    assert await db.fetchval("SELECT count(*) FROM identity.export_requests") == 0
