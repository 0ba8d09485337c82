"""WHOOP API v2 over the kit's guarded HTTP client, inside our shared rate budget.

Every request first takes a unit of the `whoop` budget (100/min, 10,000/day by
default, per application); a 429 from WHOOP pauses the budget for every worker
until its `X-RateLimit-Reset` has passed, and the error goes up to the jobs
runner, which re-queues the work for that moment without spending an attempt.

Collections page with `nextToken`. A provider that keeps paging (a token that
repeats, or more pages than `sync_max_pages`) is cut off: a sync must end.
"""

from __future__ import annotations

import email.utils
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from aurora_ingest.providers.http import (
    ProviderNotFound,
    ProviderRateLimited,
    ProviderResponse,
    ProviderUnavailable,
)
from aurora_ingest.whoop.schemas import Cycle, Page, Recovery, Sleep, Workout

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.whoop")

PROVIDER = "whoop"
# WHOOP's documented maximum page size for every collection.
PAGE_LIMIT = 25
# When WHOOP answers 429 without telling us how long to wait: its shortest window.
DEFAULT_RETRY_S = 60
# Never trust a header to park our work for longer than a day (the longest window).
MAX_RETRY_S = 86_400

CollectionName = Literal["workouts", "sleeps", "recoveries", "cycles"]
COLLECTION_PATHS: Mapping[str, str] = {
    "workouts": "/v2/activity/workout",
    "sleeps": "/v2/activity/sleep",
    "recoveries": "/v2/recovery",
    "cycles": "/v2/cycle",
}

ModelT = TypeVar("ModelT", bound=BaseModel)
TokenSource = Callable[[], Awaitable[str]]


def _seconds(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    return None


def retry_at(response: httpx.Response, now: datetime) -> datetime:
    """When a request may be sent again after WHOOP's 429 (checklist 19).

    WHOOP sends `X-RateLimit-Reset` as seconds until the window resets; an RFC
    9110 `Retry-After` (seconds or an HTTP date) is honoured too. The later of
    the two wins, bounded to a day; with neither we wait a minute.
    """
    candidates: list[datetime] = []
    reset = _seconds(response.headers.get("X-RateLimit-Reset"))
    if reset is not None:
        candidates.append(now + timedelta(seconds=reset))
    retry_after = response.headers.get("Retry-After")
    seconds = _seconds(retry_after)
    if seconds is not None:
        candidates.append(now + timedelta(seconds=seconds))
    elif retry_after:
        try:
            moment = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            candidates.append(moment.astimezone(UTC))
    if not candidates:
        return now + timedelta(seconds=DEFAULT_RETRY_S)
    latest = max(*candidates, now)
    return min(latest, now + timedelta(seconds=MAX_RETRY_S))


@dataclass(frozen=True)
class Fetched(Generic[ModelT]):
    """A validated object and the exact bytes it came in (kept raw, hashed as sent)."""

    item: ModelT
    body: bytes


@dataclass(frozen=True)
class FetchedPage:
    records: list[Any]
    next_token: str | None
    body: bytes


class WhoopClient:
    """One connection's view of the WHOOP API.

    The token comes from `token()` before each request: the connections module
    refreshes it when it is about to expire, so a long backfill never runs on a
    stale token.
    """

    def __init__(self, kit: ProviderKit, token: TokenSource) -> None:
        self._kit = kit
        self._token = token
        self._base = kit.settings.whoop_api_base.rstrip("/")

    @classmethod
    def for_connection(cls, kit: ProviderKit, connection_id: uuid.UUID) -> WhoopClient:
        from aurora_ingest.connections.tokens import access_token

        async def token() -> str:
            return await access_token(kit, connection_id)

        return cls(kit, token)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> ProviderResponse:
        budget = self._kit.budgets[PROVIDER]
        await budget.take(self._kit.clock())
        bearer = await self._token()
        try:
            return await self._kit.http[PROVIDER].request(
                "GET", f"{self._base}{path}", bearer=bearer, params=params
            )
        except ProviderRateLimited as exc:
            # One 429 stops every worker until the window opens (≤ 1 retry in flight).
            await budget.pause_until(exc.retry_at)
            raise

    async def _one(self, path: str, model: type[ModelT]) -> Fetched[ModelT]:
        response = await self._get(path)
        try:
            item = model.model_validate_json(response.body)
        except ValidationError as exc:
            raise ProviderUnavailable(
                f"unexpected WHOOP {model.__name__} payload: {exc.error_count()} error(s)"
            ) from exc
        return Fetched(item=item, body=response.body)

    async def _maybe(self, path: str, model: type[ModelT]) -> Fetched[ModelT] | None:
        try:
            return await self._one(path, model)
        except ProviderNotFound:
            return None

    async def workout(self, workout_id: uuid.UUID) -> Fetched[Workout]:
        return await self._one(f"/v2/activity/workout/{workout_id}", Workout)

    async def sleep(self, sleep_id: uuid.UUID) -> Fetched[Sleep]:
        return await self._one(f"/v2/activity/sleep/{sleep_id}", Sleep)

    async def cycle(self, cycle_id: int) -> Fetched[Cycle]:
        return await self._one(f"/v2/cycle/{int(cycle_id)}", Cycle)

    async def recovery_for_cycle(self, cycle_id: int) -> Fetched[Recovery] | None:
        """None while the cycle has no recovery yet (WHOOP answers 404 until it is scored)."""
        return await self._maybe(f"/v2/cycle/{int(cycle_id)}/recovery", Recovery)

    async def sleep_for_cycle(self, cycle_id: int) -> Fetched[Sleep] | None:
        return await self._maybe(f"/v2/cycle/{int(cycle_id)}/sleep", Sleep)

    async def page(
        self,
        collection: CollectionName,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        next_token: str | None = None,
        limit: int = PAGE_LIMIT,
    ) -> FetchedPage:
        params: dict[str, Any] = {"limit": max(1, min(limit, PAGE_LIMIT))}
        if start is not None:
            params["start"] = _iso(start)
        if end is not None:
            params["end"] = _iso(end)
        if next_token:
            params["nextToken"] = next_token
        response = await self._get(COLLECTION_PATHS[collection], params)
        try:
            page = Page.model_validate_json(response.body)
        except ValidationError as exc:
            raise ProviderUnavailable(f"unexpected WHOOP {collection} page") from exc
        return FetchedPage(records=page.records, next_token=page.next_token, body=response.body)

    async def pages(
        self,
        collection: CollectionName,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        next_token: str | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[FetchedPage]:
        """Every page from `next_token` on, within the safety limits."""
        limit = max_pages if max_pages is not None else self._kit.settings.sync_max_pages
        seen: set[str] = set()
        token = next_token
        for _ in range(limit):
            page = await self.page(collection, start=start, end=end, next_token=token)
            yield page
            following = following_token(token, page.next_token, seen, collection=collection)
            if following is None:
                return
            if token is not None:
                seen.add(token)
            token = following
        log.warning("WHOOP paging hit the page limit", extra={"collection": collection})


def following_token(
    sent: str | None, received: str | None, seen: Collection[str], *, collection: str
) -> str | None:
    """The token to ask for next, or None when paging ends: no token, or one seen before.

    A token that comes back again would page in a circle forever; stopping
    there loses nothing a later sync could not fetch.
    """
    if not received:
        return None
    if received == sent or received in seen:
        log.warning("WHOOP repeated a page token; stopping", extra={"collection": collection})
        return None
    return received


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
