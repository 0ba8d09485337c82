"""Pure rules of the login back-off (checklist 27).

Failures are counted per account key within a fixed window. Reaching the limit
blocks the key for a back-off that doubles with each further block, up to a cap:
the block is always temporary (a permanent lockout would let anyone lock a
victim out), yet an attacker gets only about `max_failures` guesses per window.
A block is forgiven once a whole window has passed after it ended.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 10
    window: timedelta = timedelta(minutes=15)
    base_block: timedelta = timedelta(minutes=1)
    max_block: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    window_started_at: datetime
    blocked_until: datetime | None
    blocks: int


def email_key(secret: bytes, normalised_email: str) -> str:
    """The row key: HMAC-SHA256 under a server secret, so unknown addresses are keyed
    alike, none is stored in clear, and a leaked table cannot be reversed by hashing a
    list of candidate addresses (a plain SHA-256 could, in seconds)."""
    if not secret:
        raise ValueError("the throttle key needs a secret")
    return hmac.new(secret, normalised_email.encode(), hashlib.sha256).hexdigest()


def block_duration(blocks_so_far: int, policy: ThrottlePolicy) -> timedelta:
    """base, 2*base, 4*base ... capped; `blocks_so_far` blocks preceded this one."""
    if blocks_so_far >= 32:  # 2**32 minutes is past any sane cap; avoids a huge multiplier
        return policy.max_block
    grown: timedelta = policy.base_block * (2**blocks_so_far)
    return min(grown, policy.max_block)


def retry_after_s(state: ThrottleState | None, now: datetime) -> int | None:
    """Whole seconds until the key may try again, or None when it is not blocked."""
    if state is None or state.blocked_until is None or state.blocked_until <= now:
        return None
    return max(1, math.ceil((state.blocked_until - now).total_seconds()))


def after_failure(
    state: ThrottleState | None, now: datetime, policy: ThrottlePolicy
) -> ThrottleState:
    """The state once one more failed attempt at `now` is counted."""
    if state is None:
        state = ThrottleState(failures=0, window_started_at=now, blocked_until=None, blocks=0)
    if state.blocked_until is not None and now >= state.blocked_until + policy.window:
        state = replace(state, blocks=0)
    if now >= state.window_started_at + policy.window:
        state = replace(state, failures=0, window_started_at=now)
    state = replace(state, failures=state.failures + 1)
    if state.failures >= policy.max_failures:
        state = replace(
            state,
            blocked_until=now + block_duration(state.blocks, policy),
            blocks=state.blocks + 1,
        )
    return state


def is_stale(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> bool:
    """Nothing left to remember: the window is over and any block was forgiven."""
    window_over = now >= state.window_started_at + policy.window
    block_forgiven = state.blocked_until is None or now >= state.blocked_until + policy.window
    return window_over and block_forgiven
