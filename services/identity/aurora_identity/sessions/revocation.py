"""Revocations: written to PostgreSQL (the truth), then to the Redis cache every service reads.

`revoke_user` and `revoke_sid` write the row in the caller's transaction and the
cache entry at once, before the commit: a revocation is in force when the
request that made it answers. A Redis failure raises a 503 problem, so the
caller's transaction rolls back rather than committing a revocation the cache
does not know. A commit that fails after the cache write leaves a spurious entry
that only dies with its TTL, which errs on the safe side.

The cache is rebuilt from PostgreSQL by `resync`: at identity's startup when the
ready marker is missing, and periodically from identity's relay process. A
rebuild sets the marker in the same MULTI as the entries, under WATCH of a
"seeding" key that it set itself: if Redis restarts or is flushed between reading
PostgreSQL and EXEC, the key vanishes, EXEC fails, and the marker is not set over
an incomplete cache. The periodic full rewrite also heals the one race WATCH
cannot see (a revocation cached just before a restart and committed just after
the reseed read), within one sync interval.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.config import IdentitySettings
from aurora_identity.sessions import repository
from aurora_shared.bus.runtime import Component, every
from aurora_shared.revocation import MARGIN_S, READY_KEY, sid_key, unavailable, user_key
from aurora_shared.service import Runtime

log = logging.getLogger("aurora.identity.revocation")

SEEDING_KEY = "aurora:revocations:seeding"
SEEDING_TTL_MS = 60_000
# The longest access-token lifetime the settings allow: the safe default when a caller
# does not say which lifetime the tokens it revokes were issued with.
MAX_ACCESS_TTL_S = 3600
PRUNE_INTERVAL_S = 300.0
# Expired refresh tokens are kept a day, so a late replay still finds (and rejects) them.
TOKEN_PRUNE_GRACE = timedelta(days=1)

# A user's cutoff only ever moves forward, in Redis as in PostgreSQL: a resync that read
# an older cutoff must not overwrite a newer one written meanwhile.
_SET_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1') or -1
local cutoff = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if current > cutoff then cutoff = current end
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], tostring(cutoff), 'PX', ttl)
return cutoff
"""


def _ttl_ms(expires_at: datetime, now: datetime) -> int:
    return math.ceil((expires_at - now).total_seconds() * 1000)


def cutoff_seconds(cutoff: datetime) -> int:
    """The cache's unit is a JWT's: whole seconds, rounded down (iat <= this is dead)."""
    return math.floor(cutoff.timestamp())


async def revoke_sid(
    session: AsyncSession,
    redis: Redis,
    family_id: uuid.UUID,
    *,
    reason: str,
    access_ttl_s: int = MAX_ACCESS_TTL_S,
    cache_required: bool = True,
) -> None:
    """Logs a session out: its refresh tokens die in PostgreSQL, its access tokens in Redis.

    `cache_required=False` (reuse detection) commits the PostgreSQL revocation even if
    Redis cannot be written: the periodic resync copies it within one interval.
    """
    await repository.lock_family(session, family_id)
    now = datetime.now(UTC)
    await repository.revoke_family(session, family_id, reason, now)
    expires_at = now + timedelta(seconds=access_ttl_s + MARGIN_S)
    await repository.upsert_sid_revocation(session, family_id, expires_at)
    await session.flush()
    try:
        await redis.set(sid_key(family_id), "1", px=_ttl_ms(expires_at, now))
    except (RedisError, OSError) as exc:
        if cache_required:
            raise unavailable() from exc
        log.warning("revocation not cached (resync will): %s", type(exc).__name__)


async def revoke_user(
    session: AsyncSession,
    redis: Redis,
    user_id: uuid.UUID,
    cutoff: datetime | None = None,
    *,
    access_ttl_s: int = MAX_ACCESS_TTL_S,
    reason: str = "user_revoked",
) -> datetime:
    """Kills every token of the user issued up to now (or up to `cutoff`, if later).

    For account deletion, deactivation, password and role changes. Refresh tokens
    die in PostgreSQL; access tokens with `iat <= cutoff` die in every service via
    the cache. Returns the cutoff in force. Takes the user's row lock, so call it in
    the transaction that changes the user; it raises a 503 problem if Redis cannot
    be written (roll the change back: PostgreSQL and the cache must agree).
    """
    await repository.lock_user_for_revocation(session, user_id)
    now = datetime.now(UTC)
    # Never earlier than now: a token issued between the caller's timestamp (say a
    # transaction's now()) and this moment must die too.
    wanted = max(cutoff or now, now)
    await repository.revoke_user_tokens(session, user_id, wanted, reason, now)
    expires_at = wanted + timedelta(seconds=access_ttl_s + MARGIN_S)
    stored, stored_expiry = await repository.upsert_user_revocation(
        session, user_id, wanted, expires_at
    )
    await session.flush()
    try:
        await _cache_user(redis, str(user_id), stored, stored_expiry, now)
    except (RedisError, OSError) as exc:
        raise unavailable() from exc
    return stored


async def _cache_user(
    redis: Redis, user_id: str, cutoff: datetime, expires_at: datetime, now: datetime
) -> None:
    await redis.eval(  # type: ignore[misc]
        _SET_MAX, 1, user_key(user_id), str(cutoff_seconds(cutoff)), str(_ttl_ms(expires_at, now))
    )


async def resync(sessions: async_sessionmaker[AsyncSession], redis: Redis) -> bool:
    """Writes every unexpired revocation into Redis and sets the ready marker.

    False when another resync (or a flush) intervened; the caller tries again later.
    """
    token = uuid.uuid4().hex
    await redis.set(SEEDING_KEY, token, px=SEEDING_TTL_MS)
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(SEEDING_KEY)
        if await pipe.get(SEEDING_KEY) != token:
            return False
        now = datetime.now(UTC)
        async with sessions() as session:
            rows = await repository.unexpired_revocations(session, now)
        pipe.multi()  # type: ignore[no-untyped-call]
        for row in rows:
            ttl_ms = _ttl_ms(row.expires_at, now)
            if row.kind == "sid":
                pipe.set(sid_key(row.key), "1", px=ttl_ms)
            elif row.cutoff is not None:
                cutoff = str(cutoff_seconds(row.cutoff))
                pipe.eval(_SET_MAX, 1, user_key(row.key), cutoff, str(ttl_ms))
        pipe.delete(SEEDING_KEY)
        pipe.set(READY_KEY, "1")
        try:
            await pipe.execute()
        except WatchError:
            log.info("revocation resync raced a flush or another resync; retrying later")
            return False
    log.debug("revocation cache synced", extra={"revocations": len(rows)})
    return True


async def reseed_if_needed(sessions: async_sessionmaker[AsyncSession], redis: Redis) -> bool:
    """Rebuilds the cache only when the ready marker is missing (Redis lost its data)."""
    if await redis.exists(READY_KEY):
        return False
    log.warning("revocation cache not ready; reseeding from PostgreSQL")
    return await resync(sessions, redis)


async def prune_expired(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await repository.prune(
            session, revocations_before=now, tokens_before=now - TOKEN_PRUNE_GRACE
        )


async def reseed_at_startup(runtime: Runtime) -> None:
    """The API's startup hook: a Redis that is down must not keep identity from starting
    (requests answer 503 meanwhile, and the relay reseeds when Redis is back)."""
    try:
        await reseed_if_needed(runtime.sessionmaker, runtime.redis)
    except (RedisError, OSError) as exc:
        log.warning("revocation reseed at startup failed: %s", type(exc).__name__)


def relay_extras(runtime: Runtime) -> Sequence[Component]:
    """Identity's relay keeps the cache complete and the tables small."""
    settings = runtime.settings
    interval = (
        settings.revocation_sync_interval_s if isinstance(settings, IdentitySettings) else 5.0
    )

    async def sync() -> None:
        await resync(runtime.sessionmaker, runtime.redis)

    async def prune() -> None:
        await prune_expired(runtime.sessionmaker)

    return [
        lambda stop: every(stop, interval, sync, "revocation-sync"),
        lambda stop: every(stop, PRUNE_INTERVAL_S, prune, "revocation-prune"),
    ]
