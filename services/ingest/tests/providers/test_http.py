"""ProviderHttp against hostile providers (checklist 45): size, JSON, redirects, time, hosts."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from aurora_ingest.providers.http import (
    ProviderAuthError,
    ProviderError,
    ProviderHostRefusedError,
    ProviderHttp,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderResponse,
    ProviderUnavailable,
)

API = "https://www.strava.com/api/v3"
NOW = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
MIB = 1024 * 1024


def _retry_at(response: httpx.Response, now: datetime) -> datetime:
    return now + timedelta(seconds=int(response.headers.get("Retry-After", "60")))


@pytest.fixture
async def http() -> AsyncIterator[ProviderHttp]:
    client = ProviderHttp(
        allowed_hosts=frozenset({"www.strava.com"}),
        timeout_s=0.5,
        max_body_bytes=MIB,
        retry_at=_retry_at,
        clock=lambda: NOW,
    )
    yield client
    await client.aclose()


async def test_json_answer_with_bearer_and_params(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/athlete/activities", params={"page": "2"}).respond(
        200, json=[{"id": 1}]
    )
    response = await http.request(
        "GET", f"{API}/athlete/activities", bearer="tok-123", params={"page": 2}
    )
    assert isinstance(response, ProviderResponse)
    assert response.status == 200
    assert response.json() == [{"id": 1}]
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok-123"
    assert sent.headers["User-Agent"].startswith("aurora-ingest")


async def test_form_post(http: ProviderHttp, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://www.strava.com/oauth/token").respond(200, json={"ok": 1})
    await http.request("POST", "https://www.strava.com/oauth/token", data={"code": "c"})
    assert route.calls.last.request.content == b"code=c"


async def test_ten_megabyte_body_declared_is_refused(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/activities/1").respond(200, content=b"x" * (10 * MIB))
    with pytest.raises(ProviderUnavailable, match="exceeds"):
        await http.request("GET", f"{API}/activities/1")


async def test_streamed_body_without_length_is_cut_at_the_cap(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10 * 16):  # 10 MiB in 64 KiB chunks, unless we stop reading
            sent += 64 * 1024
            yield b"[" * (64 * 1024)

    respx_mock.get(f"{API}/activities/2").mock(
        side_effect=lambda request: httpx.Response(200, content=endless())
    )
    with pytest.raises(ProviderUnavailable, match="exceeds"):
        await http.request("GET", f"{API}/activities/2")
    assert sent <= 2 * MIB  # we stopped reading soon after the cap


async def test_gzip_bomb_is_capped_after_inflation(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    bomb = gzip.compress(b"0" * (10 * MIB))
    assert len(bomb) < MIB
    respx_mock.get(f"{API}/activities/3").respond(
        200, content=bomb, headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(ProviderUnavailable, match="exceeds"):
        await http.request("GET", f"{API}/activities/3")


async def test_malformed_json_is_unavailable(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/athlete").respond(200, content=b'{"id": 1,')
    response = await http.request("GET", f"{API}/athlete")
    with pytest.raises(ProviderUnavailable, match="malformed JSON"):
        response.json()


async def test_redirect_to_localhost_is_not_followed(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/athlete").respond(302, headers={"Location": "http://127.0.0.1/admin"})
    internal = respx_mock.get("http://127.0.0.1/admin").respond(200, json={"secret": True})
    with pytest.raises(ProviderUnavailable, match="redirect refused"):
        await http.request("GET", f"{API}/athlete")
    assert not internal.called


async def test_read_timeout_is_unavailable(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/athlete").mock(side_effect=httpx.ReadTimeout)
    with pytest.raises(ProviderUnavailable, match="timeout"):
        await http.request("GET", f"{API}/athlete")


async def test_a_provider_taking_30_s_is_cut_at_the_deadline(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    respx_mock.get(f"{API}/athlete").mock(side_effect=slow)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="timeout"):
        await http.request("GET", f"{API}/athlete")
    assert time.monotonic() - started < 5


async def test_network_error_is_unavailable(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/athlete").mock(side_effect=httpx.ConnectError)
    with pytest.raises(ProviderUnavailable, match="network error"):
        await http.request("GET", f"{API}/athlete")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/steal",
        "http://www.strava.com/api/v3/athlete",  # right host, plain http
        "https://127.0.0.1/admin",
        "https://www.strava.com.evil.example/api",
        "not a url at all",
    ],
)
async def test_hosts_off_the_allow_list_are_never_called(
    http: ProviderHttp, respx_mock: respx.MockRouter, url: str
) -> None:
    anything = respx_mock.route().respond(200)
    with pytest.raises(ProviderHostRefusedError):
        await http.request("GET", url, bearer="tok-123")
    assert not anything.called


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderNotFound),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
    ],
)
async def test_status_mapping(
    http: ProviderHttp, respx_mock: respx.MockRouter, status: int, error: type[ProviderError]
) -> None:
    respx_mock.get(f"{API}/activities/9").respond(status, json={"message": "no"})
    with pytest.raises(error) as raised:
        await http.request("GET", f"{API}/activities/9")
    assert raised.value.status == status


async def test_429_tells_when_to_retry(http: ProviderHttp, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{API}/athlete").respond(429, headers={"Retry-After": "120"})
    with pytest.raises(ProviderRateLimited) as raised:
        await http.request("GET", f"{API}/athlete")
    assert raised.value.retry_at == NOW + timedelta(seconds=120)


async def test_other_4xx_carries_the_oauth_error_code(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post("https://www.strava.com/oauth/token").respond(
        400, json={"error": "invalid_grant", "error_description": "code already used"}
    )
    with pytest.raises(ProviderError) as raised:
        await http.request("POST", "https://www.strava.com/oauth/token", data={"code": "x"})
    assert type(raised.value) is ProviderError
    assert raised.value.status == 400
    assert raised.value.error_code == "invalid_grant"


async def test_4xx_without_json_has_no_error_code(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/athlete").respond(422, content=b"<html>")
    with pytest.raises(ProviderError) as raised:
        await http.request("GET", f"{API}/athlete")
    assert raised.value.error_code is None
    assert raised.value.reason == "provider answered 422"


async def test_tokens_never_reach_the_log(
    http: ProviderHttp, respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    respx_mock.get(f"{API}/athlete").mock(side_effect=httpx.ConnectError)
    respx_mock.get(f"{API}/slow").mock(side_effect=httpx.ReadTimeout)
    respx_mock.get(f"{API}/ok").respond(200, json={})
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own included
    for path in ("athlete", "slow", "ok"):
        with contextlib.suppress(ProviderUnavailable):
            await http.request("GET", f"{API}/{path}?access_token=SECRET-Q", bearer="SECRET-B")
    assert caplog.records
    for record in caplog.records:
        assert "SECRET" not in str(record.__dict__)
