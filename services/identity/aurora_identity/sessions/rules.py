"""Pure rule: what presenting a refresh token that could not be rotated means.

A refresh token that was already used is normally proof that two parties hold
the family (RFC 9700 §4.14), and the family dies. Two tabs or a retrying client
refreshing at the same moment look exactly the same, though, and revoking the
family there would kill the winner's brand-new tokens: of two parallel
refreshes, exactly one must succeed. So a second presentation within a short
grace window after the token's first use is refused without revoking anything.
The window is short enough that a thief replaying a stolen token later is still
caught; within it, the thief gets a 401 and nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Spent = Literal["race", "reuse", "refused"]


def spent_token_verdict(
    *,
    used_at: datetime | None,
    revoked_at: datetime | None,
    now: datetime,
    grace: timedelta,
) -> Spent:
    """ "race": 401 only; "reuse": 401 and the family is revoked; "refused": 401 only.

    - revoked: the family (or the user) is already revoked, presenting it again is a
      reuse all the same (and is audited as such);
    - used within `grace` of its first use (a clock step backwards counts as
      within): a parallel refresh that lost the race;
    - used longer ago: a replay;
    - neither used nor revoked (expired, or unknown): refused, nothing more.
    """
    if revoked_at is not None:
        return "reuse"
    if used_at is None:
        return "refused"
    if now - used_at <= grace:
        return "race"
    return "reuse"
