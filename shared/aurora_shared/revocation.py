"""The Redis revocation cache that every service reads on each authenticated request.

Identity's PostgreSQL holds the truth (logouts, revoked refresh-token families,
per-user cutoffs); Redis holds a copy so that a service can refuse a revoked
access token without calling identity. A copy can be lost (Redis restarted
without persistence), and a lost copy must never read as "nothing is revoked":
identity sets `READY_KEY` only after loading every unexpired revocation, and a
service that does not see the marker answers 503 instead of trusting the token.

Key layout (shared by the writer, identity, and every reader):
- `aurora:revoked:sid:<sid>`: the session (refresh-token family) is logged out;
- `aurora:revoked:user:<user_id>`: unix time; tokens with `iat <= cutoff` are dead.
Each lives for the access-token lifetime plus a margin: no token outlives that.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from aurora_shared.errors import ProblemError

READY_KEY = "aurora:revocations:ready"
SID_PREFIX = "aurora:revoked:sid:"
USER_PREFIX = "aurora:revoked:user:"
# Added to the access-token lifetime for every cache entry and every PostgreSQL row.
MARGIN_S = 60
# A Redis that hangs must not hang every request for the client's socket timeout.
CHECK_TIMEOUT_S = 2.0

log = logging.getLogger("aurora.revocation")


def sid_key(sid: str | uuid.UUID) -> str:
    return f"{SID_PREFIX}{sid}"


def user_key(user_id: str | uuid.UUID) -> str:
    return f"{USER_PREFIX}{user_id}"


def unavailable() -> ProblemError:
    # Never "accept because we could not check": a lost cache would revive every token.
    return ProblemError(503, "revocation state unavailable", headers={"Retry-After": "1"})


def revoked() -> ProblemError:
    return ProblemError(401, "token revoked", headers={"WWW-Authenticate": "Bearer"})


Verdict = Literal["valid", "revoked", "unknown"]


def verdict(
    ready: str | None, user_cutoff: str | None, sid_revoked: str | None, issued_at: object
) -> Verdict:
    """What the cache says of a token: pure, from the MGET's values.

    "unknown" (answer 503) when the cache is not complete or an entry is unreadable:
    neither is evidence that the token is fine.
    """
    if ready is None:
        return "unknown"
    if sid_revoked is not None:
        return "revoked"
    if user_cutoff is None:
        return "valid"
    try:
        revoked_up_to = float(user_cutoff)
        issued = float(issued_at)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "unknown"
    if not (math.isfinite(revoked_up_to) and math.isfinite(issued)):
        return "unknown"  # NaN compares false to everything; inf is no time either
    return "revoked" if issued <= revoked_up_to else "valid"


async def check_not_revoked(redis: Redis, user_id: uuid.UUID, claims: dict[str, Any]) -> None:
    """One MGET of [ready marker, user cutoff, sid]; raises 503 or 401, returns if valid.

    Tokens without `sid` (minted by tests or tools, never by identity's login) are
    still checked against the user's cutoff, so a deleted user is refused anyway.
    """
    keys = [READY_KEY, user_key(user_id)]
    sid = claims.get("sid")
    if sid is not None:
        keys.append(sid_key(str(sid)))
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            values = await redis.mget(keys)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("revocation cache unreachable: %s", type(exc).__name__)
        raise unavailable() from exc
    sid_value = values[2] if sid is not None else None
    found = verdict(values[0], values[1], sid_value, claims.get("iat"))
    if found == "unknown":
        raise unavailable()
    if found == "revoked":
        raise revoked()
