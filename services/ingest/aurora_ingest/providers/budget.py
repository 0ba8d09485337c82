"""Rate budgets shared by every ingest process: our side of a provider's rate limits.

A provider's 429 costs the whole application (Strava counts per app, not per
athlete), so every request first takes a unit from each window here, and the
window that is spent tells the job exactly when to come back. Windows align to
the epoch, as Strava's do: 15-minute windows reset at :00/:15/:30/:45 and the
daily one at 00:00 UTC. The check and the increments run in one Lua script, so
two workers can never both take the last unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from aurora_ingest.providers.http import ProviderRateLimited

KEY_PREFIX = "aurora:ingest:budget"

# KEYS[1] = pause key, KEYS[2..] = window counters; ARGV[1] = now (epoch s),
# ARGV[2..] = limit and ttl of each window, interleaved. Returns 0 when a unit was
# taken, -1 when paused (then the pause end), or the 1-based number of the spent window.
_TAKE = """
local paused = redis.call('GET', KEYS[1])
if paused and tonumber(paused) > tonumber(ARGV[1]) then
  return {-1, paused}
end
for i = 2, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[i * 2 - 2]) then
    return {i - 1, '0'}
  end
end
for i = 2, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[i * 2 - 1])
end
return {0, '0'}
"""


@dataclass(frozen=True)
class Window:
    seconds: int
    limit: int

    def start(self, now: datetime) -> int:
        epoch = int(now.timestamp())
        return epoch - epoch % self.seconds

    def end(self, now: datetime) -> datetime:
        return datetime.fromtimestamp(self.start(now) + self.seconds, UTC)


class RateBudget:
    def __init__(self, redis: Redis, name: str, windows: Sequence[Window]) -> None:
        if not windows:
            raise ValueError("a rate budget needs at least one window")
        self.redis = redis
        self.name = name
        self.windows = tuple(windows)
        self._take = redis.register_script(_TAKE)

    def _pause_key(self) -> str:
        return f"{KEY_PREFIX}:{self.name}:pause"

    async def take(self, now: datetime | None = None) -> None:
        """One request's worth, or ProviderRateLimited saying when the budget opens again."""
        now = now or datetime.now(UTC)
        keys = [self._pause_key()]
        args: list[int] = [int(now.timestamp())]
        for window in self.windows:
            keys.append(f"{KEY_PREFIX}:{self.name}:{window.seconds}:{window.start(now)}")
            args.extend([window.limit, window.seconds + 60])
        outcome, paused_until = await self._take(keys=keys, args=args)
        outcome = int(outcome)
        if outcome == 0:
            return
        if outcome == -1:
            retry_at = datetime.fromtimestamp(float(paused_until), UTC)
            raise ProviderRateLimited(f"{self.name} paused after a 429", retry_at=retry_at)
        window = self.windows[outcome - 1]
        raise ProviderRateLimited(
            f"{self.name} budget of {window.limit} per {window.seconds} s is spent",
            retry_at=window.end(now),
        )

    async def pause_until(self, retry_at: datetime, now: datetime | None = None) -> None:
        """After a provider's 429: nobody in any process asks again before `retry_at`."""
        now = now or datetime.now(UTC)
        seconds = max(int((retry_at - now).total_seconds()) + 1, 1)
        key = self._pause_key()
        current = await self.redis.get(key)
        if current is not None and float(current) >= retry_at.timestamp():
            return
        await self.redis.set(key, str(retry_at.timestamp()), ex=seconds)

    async def used(self, now: datetime | None = None) -> list[int]:
        """Units taken in each current window (metrics and tests)."""
        now = now or datetime.now(UTC)
        keys = [f"{KEY_PREFIX}:{self.name}:{w.seconds}:{w.start(now)}" for w in self.windows]
        values = await self.redis.mget(keys)
        return [int(v) if v is not None else 0 for v in values]


def strava_windows(per_15min: int, per_day: int) -> list[Window]:
    return [Window(15 * 60, per_15min), Window(86_400, per_day)]


def whoop_windows(per_minute: int, per_day: int) -> list[Window]:
    return [Window(60, per_minute), Window(86_400, per_day)]


__all__ = ["RateBudget", "Window", "strava_windows", "whoop_windows"]
