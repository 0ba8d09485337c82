"""whoop.client: requests inside the budget, 429 handling, pagination and its safety limits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from aurora_ingest.providers.budget import RateBudget, Window
from aurora_ingest.providers.http import (
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
)
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop.client import PAGE_LIMIT, WhoopClient, following_token, retry_at

W = Any
NOW = datetime(2025, 5, 26, 12, 0, tzinfo=UTC)


def _response(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


def test_retry_at_follows_x_ratelimit_reset_seconds() -> None:
    assert retry_at(_response(**{"X-RateLimit-Reset": "3"}), NOW) == NOW + timedelta(seconds=3)


def test_retry_at_honours_retry_after_seconds_and_http_dates() -> None:
    assert retry_at(_response(**{"Retry-After": "120"}), NOW) == NOW + timedelta(seconds=120)
    date = "Mon, 26 May 2025 12:05:00 GMT"
    assert retry_at(_response(**{"Retry-After": date}), NOW) == NOW + timedelta(minutes=5)


def test_retry_at_takes_the_later_of_both_headers() -> None:
    both = _response(**{"X-RateLimit-Reset": "30", "Retry-After": "90"})
    assert retry_at(both, NOW) == NOW + timedelta(seconds=90)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-RateLimit-Reset": "soon"}, {"Retry-After": "not a date"}, {"X-RateLimit-Reset": "-5"}],
)
def test_retry_at_without_a_usable_header_waits_a_minute(headers: dict[str, str]) -> None:
    assert retry_at(_response(**headers), NOW) == NOW + timedelta(seconds=60)


def test_retry_at_is_never_in_the_past_nor_beyond_a_day() -> None:
    past = _response(**{"Retry-After": "Mon, 26 May 2025 11:00:00 GMT"})
    assert retry_at(past, NOW) == NOW
    huge = _response(**{"X-RateLimit-Reset": str(10**9)})
    assert retry_at(huge, NOW) == NOW + timedelta(days=1)


def test_following_token_stops_on_end_and_repeats() -> None:
    assert following_token(None, "a", [], collection="x") == "a"
    assert following_token("a", "b", [], collection="x") == "b"
    assert following_token("a", None, [], collection="x") is None
    assert following_token("a", "", [], collection="x") is None
    assert following_token("a", "a", [], collection="x") is None
    assert following_token("b", "a", ["a"], collection="x") is None


async def _token() -> str:
    return "whoop-access-token"


@pytest.fixture
def whoop(kit: ProviderKit) -> WhoopClient:
    return WhoopClient(kit, _token)


async def test_get_by_id_sends_the_bearer_and_keeps_the_exact_body(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    body = json.dumps(w.workout(), indent=2).encode()
    route = respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").mock(
        return_value=httpx.Response(200, content=body)
    )
    fetched = await whoop.workout(uuid.UUID(w.WORKOUT_ID))
    assert str(fetched.item.id) == w.WORKOUT_ID
    assert fetched.body == body
    assert route.calls.last.request.headers["Authorization"] == "Bearer whoop-access-token"


async def test_each_object_endpoint(whoop: WhoopClient, w: W, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{w.API}/v2/activity/sleep/{w.SLEEP_ID}").respond(json=w.sleep())
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}").respond(json=w.cycle())
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}/recovery").respond(json=w.recovery())
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}/sleep").respond(json=w.sleep())
    assert (await whoop.sleep(uuid.UUID(w.SLEEP_ID))).item.cycle_id == w.CYCLE_ID
    assert (await whoop.cycle(w.CYCLE_ID)).item.id == w.CYCLE_ID
    recovery = await whoop.recovery_for_cycle(w.CYCLE_ID)
    assert recovery is not None and recovery.item.cycle_id == w.CYCLE_ID
    sleep = await whoop.sleep_for_cycle(w.CYCLE_ID)
    assert sleep is not None and str(sleep.item.id) == w.SLEEP_ID


async def test_recovery_not_scored_yet_is_none(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}/recovery").respond(404)
    respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}/sleep").respond(404)
    assert await whoop.recovery_for_cycle(w.CYCLE_ID) is None
    assert await whoop.sleep_for_cycle(w.CYCLE_ID) is None


async def test_missing_workout_raises_not_found(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(404)
    with pytest.raises(ProviderNotFound):
        await whoop.workout(uuid.UUID(w.WORKOUT_ID))


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"id": "nope"}', b"[]", json.dumps({"records": 5}).encode()]
)
async def test_unexpected_payload_is_a_clean_provider_error(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter, content: bytes
) -> None:
    respx_mock.get(f"{w.API}/v2/activity/workout/{w.WORKOUT_ID}").respond(200, content=content)
    respx_mock.get(f"{w.API}/v2/cycle").respond(200, content=content)
    with pytest.raises(ProviderUnavailable):
        await whoop.workout(uuid.UUID(w.WORKOUT_ID))
    if content != b'{"id": "nope"}':  # a page ignores unknown fields
        with pytest.raises(ProviderUnavailable):
            await whoop.page("cycles")


async def test_429_pauses_the_budget_until_the_reset(
    whoop: WhoopClient, kit: ProviderKit, w: W, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}").mock(
        return_value=httpx.Response(429, headers={"X-RateLimit-Reset": "42"})
    )
    before = datetime.now(UTC)
    with pytest.raises(ProviderRateLimited) as first:
        await whoop.cycle(w.CYCLE_ID)
    expected = before + timedelta(seconds=42)
    assert (
        expected - timedelta(seconds=1) <= first.value.retry_at <= expected + timedelta(seconds=5)
    )
    # Nobody asks WHOOP again before the reset: the budget refuses without a request.
    with pytest.raises(ProviderRateLimited) as second:
        await whoop.cycle(w.CYCLE_ID)
    assert route.call_count == 1
    assert abs((second.value.retry_at - first.value.retry_at).total_seconds()) < 1


async def test_spent_budget_refuses_before_any_request(
    kit: ProviderKit, w: W, respx_mock: respx.MockRouter
) -> None:
    kit.budgets = {"whoop": RateBudget(kit.redis, "whoop-test", [Window(60, 2)])}
    route = respx_mock.get(f"{w.API}/v2/cycle/{w.CYCLE_ID}").respond(json=w.cycle())
    whoop = WhoopClient(kit, _token)
    await whoop.cycle(w.CYCLE_ID)
    await whoop.cycle(w.CYCLE_ID)
    with pytest.raises(ProviderRateLimited):
        await whoop.cycle(w.CYCLE_ID)
    assert route.call_count == 2


async def test_page_parameters(whoop: WhoopClient, w: W, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(f"{w.API}/v2/activity/workout").respond(
        json=w.page([w.workout()], "tok-2")
    )
    page = await whoop.page(
        "workouts",
        start=datetime(2025, 1, 1, 1, tzinfo=UTC),
        end=datetime(2025, 2, 1, tzinfo=UTC),
        next_token="tok-1",
        limit=500,
    )
    params = route.calls.last.request.url.params
    assert params["limit"] == str(PAGE_LIMIT)
    assert params["start"] == "2025-01-01T01:00:00.000Z"
    assert params["end"] == "2025-02-01T00:00:00.000Z"
    assert params["nextToken"] == "tok-1"
    assert page.next_token == "tok-2"
    assert len(page.records) == 1


async def test_pages_follow_next_token_to_the_end(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("nextToken")
        following = {None: "p2", "p2": "p3", "p3": None}[token]
        return httpx.Response(200, json=w.page([w.cycle()], following))

    route = respx_mock.get(f"{w.API}/v2/cycle").mock(side_effect=answer)
    pages = [page async for page in whoop.pages("cycles")]
    assert len(pages) == 3
    assert [c.request.url.params.get("nextToken") for c in route.calls] == [None, "p2", "p3"]


async def test_a_repeating_token_stops_paging(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{w.API}/v2/activity/sleep").respond(json=w.page([w.sleep()], "same"))
    pages = [page async for page in whoop.pages("sleeps")]
    assert len(pages) == 2  # the first page, then "same" once; its echo ends it
    assert route.call_count == 2


async def test_a_token_cycle_stops_paging(
    whoop: WhoopClient, w: W, respx_mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("nextToken")
        return httpx.Response(200, json=w.page([], {None: "a", "a": "b", "b": "a"}[token]))

    route = respx_mock.get(f"{w.API}/v2/recovery").mock(side_effect=answer)
    assert len([page async for page in whoop.pages("recoveries")]) == 3
    assert route.call_count == 3


async def test_paging_stops_at_the_page_limit(
    whoop: WhoopClient, kit: ProviderKit, w: W, respx_mock: respx.MockRouter
) -> None:
    counter = iter(range(10_000))

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=w.page([], f"t{next(counter)}"))

    route = respx_mock.get(f"{w.API}/v2/cycle").mock(side_effect=endless)
    assert len([page async for page in whoop.pages("cycles", max_pages=4)]) == 4
    assert route.call_count == 4
    kit.settings.sync_max_pages = 3
    assert len([page async for page in whoop.pages("cycles")]) == 3
