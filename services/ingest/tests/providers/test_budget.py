"""Rate budgets: aligned windows, atomic take, pauses after a provider's 429."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from aurora_ingest.providers.budget import RateBudget, Window, strava_windows, whoop_windows
from aurora_ingest.providers.http import ProviderRateLimited

T0 = datetime(2026, 11, 22, 10, 7, 30, tzinfo=UTC)


def test_windows_align_to_quarter_hours_and_midnight() -> None:
    quarter, day = strava_windows(100, 1000)
    assert quarter.end(T0) == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert quarter.end(datetime(2026, 11, 22, 10, 59, 59, tzinfo=UTC)) == datetime(
        2026, 11, 22, 11, 0, tzinfo=UTC
    )
    assert day.end(T0) == datetime(2026, 11, 23, tzinfo=UTC)
    minute, _ = whoop_windows(100, 10_000)
    assert minute.end(T0) == datetime(2026, 11, 22, 10, 8, tzinfo=UTC)


def test_a_budget_needs_a_window(redis: Redis) -> None:
    with pytest.raises(ValueError):
        RateBudget(redis, "none", [])


async def test_the_spent_window_says_when_to_come_back(redis: Redis) -> None:
    budget = RateBudget(redis, "strava", [Window(900, 3), Window(86_400, 1000)])
    for _ in range(3):
        await budget.take(T0)
    with pytest.raises(ProviderRateLimited) as caught:
        await budget.take(T0)
    assert caught.value.retry_at == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert await budget.used(T0) == [3, 3]  # the refused request took nothing
    # The next window opens at the boundary, the daily count carries on.
    await budget.take(T0 + timedelta(minutes=8))
    assert await budget.used(T0 + timedelta(minutes=8)) == [1, 4]


async def test_the_daily_window_holds_across_quarters(redis: Redis) -> None:
    budget = RateBudget(redis, "strava", strava_windows(100, 2))
    await budget.take(T0)
    await budget.take(T0 + timedelta(minutes=20))
    with pytest.raises(ProviderRateLimited) as caught:
        await budget.take(T0 + timedelta(minutes=40))
    assert caught.value.retry_at == datetime(2026, 11, 23, tzinfo=UTC)


async def test_concurrent_takers_never_overspend(redis: Redis) -> None:
    budget = RateBudget(redis, "strava", strava_windows(100, 1000))

    async def take() -> bool:
        try:
            await budget.take(T0)
        except ProviderRateLimited:
            return False
        return True

    outcomes = await asyncio.gather(*(take() for _ in range(150)))
    assert outcomes.count(True) == 100
    assert await budget.used(T0) == [100, 100]


async def test_a_pause_stops_every_taker_until_it_ends(redis: Redis) -> None:
    budget = RateBudget(redis, "whoop", whoop_windows(100, 10_000))
    resume = T0 + timedelta(seconds=42)
    await budget.pause_until(resume, now=T0)
    # A shorter pause never shortens a longer one.
    await budget.pause_until(T0 + timedelta(seconds=5), now=T0)
    with pytest.raises(ProviderRateLimited) as caught:
        await budget.take(T0 + timedelta(seconds=10))
    assert caught.value.retry_at == resume
    await budget.take(resume + timedelta(seconds=1))
    assert await budget.used(resume + timedelta(seconds=1)) == [1, 1]
