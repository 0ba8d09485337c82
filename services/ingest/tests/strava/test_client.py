"""strava.client: the 429 retry moment (pure) and the budgeted API calls (respx)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from aurora_ingest.providers.http import ProviderNotFound, ProviderRateLimited
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.strava.client import (
    MAX_PER_PAGE,
    StravaClient,
    next_midnight,
    next_quarter,
    retry_at,
    spent_windows,
)
from aurora_ingest.strava.streams import REQUESTED

API = "https://www.strava.com/api/v3"
NOW = datetime(2026, 3, 10, 10, 7, 30, tzinfo=UTC)


def limited(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(429, headers=headers or {}, json={"message": "Rate Limit Exceeded"})


# -- retry moment (pure) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW, datetime(2026, 3, 10, 10, 15, tzinfo=UTC)),
        (datetime(2026, 3, 10, 10, 15, tzinfo=UTC), datetime(2026, 3, 10, 10, 30, tzinfo=UTC)),
        (datetime(2026, 3, 10, 10, 44, 59, tzinfo=UTC), datetime(2026, 3, 10, 10, 45, tzinfo=UTC)),
        (datetime(2026, 3, 10, 23, 50, tzinfo=UTC), datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_quarter_is_the_next_window_start(now: datetime, expected: datetime) -> None:
    assert next_quarter(now) == expected


def test_next_midnight_is_utc() -> None:
    assert next_midnight(NOW) == datetime(2026, 3, 11, tzinfo=UTC)
    assert next_midnight(datetime(2026, 3, 10, tzinfo=UTC)) == datetime(2026, 3, 11, tzinfo=UTC)


def test_429_without_headers_waits_for_the_next_quarter() -> None:
    assert retry_at(limited(), NOW) == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)


def test_429_with_the_15_minute_window_spent_waits_for_the_quarter() -> None:
    response = limited({"X-RateLimit-Limit": "100,1000", "X-RateLimit-Usage": "101,500"})
    assert retry_at(response, NOW) == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "200,2000", "X-RateLimit-Usage": "20,2000"},
        {
            "X-RateLimit-Limit": "200,2000",
            "X-RateLimit-Usage": "20,1500",
            "X-ReadRateLimit-Limit": "100,1000",
            "X-ReadRateLimit-Usage": "20,1001",
        },
    ],
)
def test_429_with_the_daily_window_spent_waits_for_midnight(headers: dict[str, str]) -> None:
    assert retry_at(limited(headers), NOW) == datetime(2026, 3, 11, tzinfo=UTC)


def test_retry_after_seconds_is_honoured() -> None:
    assert retry_at(limited({"Retry-After": "120"}), NOW) == NOW + timedelta(seconds=120)


def test_retry_after_date_is_honoured() -> None:
    response = limited({"Retry-After": "Tue, 10 Mar 2026 10:09:00 GMT"})
    assert retry_at(response, NOW) == datetime(2026, 3, 10, 10, 9, tzinfo=UTC)


def test_retry_after_never_shortens_a_daily_wait() -> None:
    headers = {"Retry-After": "60", "X-RateLimit-Limit": "100,1000", "X-RateLimit-Usage": "5,1000"}
    assert retry_at(limited(headers), NOW) == datetime(2026, 3, 11, tzinfo=UTC)
    later = {**headers, "Retry-After": str(20 * 3600)}
    assert retry_at(limited(later), NOW) == NOW + timedelta(hours=20)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "soon"},
        {"Retry-After": "Mon, 09 Mar 2026 10:00:00 GMT"},  # in the past
        {"X-RateLimit-Limit": "lots", "X-RateLimit-Usage": "1,2"},
        {"X-RateLimit-Limit": "100,1000,5", "X-RateLimit-Usage": "1,2,3"},
        {"X-RateLimit-Limit": "100,1000"},
    ],
)
def test_unreadable_headers_fall_back_to_the_quarter(headers: dict[str, str]) -> None:
    assert retry_at(limited(headers), NOW) == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)


def test_naive_retry_after_date_is_utc() -> None:
    response = limited({"Retry-After": "Tue, 10 Mar 2026 10:09:00 -0000"})
    assert retry_at(response, NOW) == datetime(2026, 3, 10, 10, 9, tzinfo=UTC)


def test_spent_windows_reads_both_header_pairs() -> None:
    fine = httpx.Headers({"X-RateLimit-Limit": "200,2000", "X-RateLimit-Usage": "10,100"})
    assert spent_windows(fine) == (False, False)
    read_quarter = httpx.Headers(
        {"X-ReadRateLimit-Limit": "100,1000", "X-ReadRateLimit-Usage": "100,100"}
    )
    assert spent_windows(read_quarter) == (True, False)


# -- calls ----------------------------------------------------------------------------------


@pytest.fixture
def fixed_kit(kit: ProviderKit) -> ProviderKit:
    kit.clock = lambda: NOW
    return kit


async def test_get_activity_sends_the_token_and_pays_the_budget(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/activities/42").respond(200, json={"id": 42})
    response = await StravaClient(fixed_kit).get_activity(42, "tok-1")
    assert response.json() == {"id": 42}
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.url.params["include_all_efforts"] == "false"
    assert await fixed_kit.budgets["strava"].used(NOW) == [1, 1]


async def test_get_streams_asks_for_every_stream_keyed_by_type(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/activities/42/streams").respond(200, json={})
    await StravaClient(fixed_kit).get_streams(42, "tok")
    params = route.calls.last.request.url.params
    assert params["key_by_type"] == "true"
    assert params["keys"].split(",") == list(REQUESTED)
    assert set(params["keys"].split(",")) == {
        "time",
        "heartrate",
        "watts",
        "cadence",
        "velocity_smooth",
        "altitude",
        "distance",
        "latlng",
        "temp",
    }


async def test_get_laps_and_a_404(fixed_kit: ProviderKit, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{API}/activities/42/laps").respond(200, json=[])
    respx_mock.get(f"{API}/activities/43/laps").respond(404, json={"message": "Record Not Found"})
    client = StravaClient(fixed_kit)
    assert (await client.get_laps(42, "tok")).json() == []
    with pytest.raises(ProviderNotFound):
        await client.get_laps(43, "tok")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"page": 1}, {"page": "1", "per_page": str(MAX_PER_PAGE)}),
        (
            {"page": 3, "per_page": 1000, "after": 100, "before": 200},
            {"page": "3", "per_page": "200", "after": "100", "before": "200"},
        ),
        ({"page": 2, "per_page": 0}, {"page": "2", "per_page": "1"}),
    ],
)
async def test_list_activities_params(
    fixed_kit: ProviderKit,
    respx_mock: respx.MockRouter,
    kwargs: dict[str, Any],
    expected: dict[str, str],
) -> None:
    route = respx_mock.get(f"{API}/athlete/activities").respond(200, json=[])
    await StravaClient(fixed_kit).list_activities("tok", **kwargs)
    assert dict(route.calls.last.request.url.params) == expected


async def test_429_pauses_every_process_until_the_window_opens(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/activities/42").mock(return_value=limited())
    client = StravaClient(fixed_kit)
    with pytest.raises(ProviderRateLimited) as first:
        await client.get_activity(42, "tok")
    assert first.value.retry_at.second == 0 and first.value.retry_at.minute % 15 == 0
    # Nobody asks Strava again before then: the budget refuses without a call.
    with pytest.raises(ProviderRateLimited) as second:
        await client.get_activity(42, "tok")
    assert route.call_count == 1
    assert second.value.retry_at == first.value.retry_at


async def test_usage_headers_at_the_limit_pause_before_strava_refuses(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/activities/42").respond(
        200,
        json={"id": 42},
        headers={"X-ReadRateLimit-Limit": "100,1000", "X-ReadRateLimit-Usage": "100,400"},
    )
    client = StravaClient(fixed_kit)
    await client.get_activity(42, "tok")
    with pytest.raises(ProviderRateLimited) as paused:
        await client.get_activity(42, "tok")
    assert paused.value.retry_at == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)
    assert route.call_count == 1


async def test_daily_usage_at_the_limit_pauses_until_midnight(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/activities/42").respond(
        200, json={}, headers={"X-RateLimit-Limit": "100,1000", "X-RateLimit-Usage": "10,1000"}
    )
    client = StravaClient(fixed_kit)
    await client.get_activity(42, "tok")
    with pytest.raises(ProviderRateLimited) as paused:
        await client.get_activity(42, "tok")
    assert paused.value.retry_at == datetime(2026, 3, 11, tzinfo=UTC)


async def test_spent_budget_sends_nothing(
    fixed_kit: ProviderKit, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/activities/42").respond(200, json={})
    budget = fixed_kit.budgets["strava"]
    for _ in range(fixed_kit.settings.strava_budget_15min):
        await budget.take(NOW)
    with pytest.raises(ProviderRateLimited) as spent:
        await StravaClient(fixed_kit).get_activity(42, "tok")
    assert spent.value.retry_at == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)
    assert route.call_count == 0
