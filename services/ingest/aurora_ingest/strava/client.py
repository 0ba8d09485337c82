"""Strava API v3 calls, each paid for from the shared rate budget first.

Strava limits per application, in windows that reset at :00/:15/:30/:45 and at
00:00 UTC (developers.strava.com/docs/rate-limits). Every request takes a unit
from our Redis budget before it is sent; a 429 pauses the budget for every
process until the moment `retry_at` computes, so one worker's bad luck is not
repeated by the others. Usage headers on successful answers are read too: when
they say a window is spent (other apps share the client id, or our budget is
set higher than Strava's), we stop before Strava has to tell us.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

import httpx

from aurora_ingest.providers.http import ProviderRateLimited, ProviderResponse
from aurora_ingest.strava.streams import REQUESTED

if TYPE_CHECKING:  # kit.py imports this module for `retry_at`
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.strava.client")

QUARTER: Final[int] = 15 * 60
DAY: Final[int] = 86_400
# Strava's maximum page size for the athlete's activity list.
MAX_PER_PAGE: Final[int] = 200
# (limit header, usage header): the overall pair and the newer "non-upload" read pair.
RATE_HEADERS: Final[tuple[tuple[str, str], ...]] = (
    ("x-ratelimit-limit", "x-ratelimit-usage"),
    ("x-readratelimit-limit", "x-readratelimit-usage"),
)


def next_quarter(now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % QUARTER + QUARTER, UTC)


def next_midnight(now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % DAY + DAY, UTC)


def _pair(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def spent_windows(headers: httpx.Headers) -> tuple[bool, bool]:
    """(15-minute window spent, daily window spent) per any of Strava's header pairs."""
    quarter = daily = False
    for limit_name, usage_name in RATE_HEADERS:
        limit, usage = _pair(headers.get(limit_name)), _pair(headers.get(usage_name))
        if limit is None or usage is None:
            continue
        quarter = quarter or usage[0] >= limit[0]
        daily = daily or usage[1] >= limit[1]
    return quarter, daily


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def retry_at(response: httpx.Response, now: datetime) -> datetime:
    """When a request may be sent again after Strava's 429.

    A spent daily window waits for 00:00 UTC whatever else is said. Otherwise a
    Retry-After header (Strava does not document one, but a proxy in between
    may send it) is honoured as given; without it, the 15-minute window that
    was exceeded resets at the next quarter hour.
    """
    _, daily = spent_windows(response.headers)
    after = _retry_after(response.headers.get("retry-after"), now)
    if daily:
        midnight = next_midnight(now)
        return max(midnight, after) if after is not None else midnight
    if after is not None and after > now:
        return after
    return next_quarter(now)


class StravaClient:
    def __init__(self, kit: ProviderKit) -> None:
        self._kit = kit
        self._http = kit.http["strava"]
        self._budget = kit.budgets["strava"]
        self._base = kit.settings.strava_api_base.rstrip("/")

    async def _get(
        self, path: str, token: str, params: Mapping[str, Any] | None = None
    ) -> ProviderResponse:
        now = self._kit.clock()
        await self._budget.take(now)
        try:
            response = await self._http.request(
                "GET", f"{self._base}{path}", bearer=token, params=params
            )
        except ProviderRateLimited as exc:
            await self._budget.pause_until(exc.retry_at, now)
            log.warning("strava rate limited", extra={"retry_at": exc.retry_at.isoformat()})
            raise
        quarter, daily = spent_windows(response.headers)
        if daily or quarter:
            await self._budget.pause_until(next_midnight(now) if daily else next_quarter(now), now)
        return response

    async def get_activity(self, activity_id: int, token: str) -> ProviderResponse:
        """DetailedActivity; include_all_efforts=false keeps the body small (segments unused)."""
        return await self._get(
            f"/activities/{activity_id}", token, {"include_all_efforts": "false"}
        )

    async def get_streams(self, activity_id: int, token: str) -> ProviderResponse:
        return await self._get(
            f"/activities/{activity_id}/streams",
            token,
            {"keys": ",".join(REQUESTED), "key_by_type": "true"},
        )

    async def get_laps(self, activity_id: int, token: str) -> ProviderResponse:
        return await self._get(f"/activities/{activity_id}/laps", token)

    async def list_activities(
        self,
        token: str,
        *,
        page: int,
        per_page: int = MAX_PER_PAGE,
        after: int | None = None,
        before: int | None = None,
    ) -> ProviderResponse:
        """One page of the athlete's SummaryActivity list; `after`/`before` are epoch seconds."""
        params: dict[str, Any] = {"page": page, "per_page": min(max(per_page, 1), MAX_PER_PAGE)}
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        return await self._get("/athlete/activities", token, params)
