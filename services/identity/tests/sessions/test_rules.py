"""The verdict on a refresh token that could not be rotated, over every input class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora_identity.sessions.rules import spent_token_verdict

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=2)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("used_at", "revoked_at", "expected"),
    [
        (None, None, "refused"),  # expired or never used: not a reuse
        (NOW, None, "race"),
        (NOW - GRACE / 2, None, "race"),
        (NOW - GRACE, None, "race"),  # the boundary is still inside
        (NOW - GRACE - timedelta(microseconds=1), None, "reuse"),
        (NOW - 60 * S, None, "reuse"),
        (NOW + S, None, "race"),  # a clock step backwards is not evidence of a replay
        (None, NOW, "reuse"),  # revoked (logout, reuse, deletion): presenting it is a reuse
        (NOW, NOW, "reuse"),
        (NOW - 60 * S, NOW - 30 * S, "reuse"),
    ],
)
def test_verdicts(used_at: datetime | None, revoked_at: datetime | None, expected: str) -> None:
    assert (
        spent_token_verdict(used_at=used_at, revoked_at=revoked_at, now=NOW, grace=GRACE)
        == expected
    )


def test_zero_grace_makes_every_later_presentation_a_reuse() -> None:
    verdict = spent_token_verdict(
        used_at=NOW - timedelta(microseconds=1), revoked_at=None, now=NOW, grace=timedelta(0)
    )
    assert verdict == "reuse"


@given(
    age_ms=st.integers(min_value=-10_000, max_value=10_000_000),
    grace_ms=st.integers(min_value=0, max_value=60_000),
    revoked=st.booleans(),
)
def test_the_window_splits_race_from_reuse(age_ms: int, grace_ms: int, revoked: bool) -> None:
    used_at = NOW - timedelta(milliseconds=age_ms)
    verdict = spent_token_verdict(
        used_at=used_at,
        revoked_at=NOW if revoked else None,
        now=NOW,
        grace=timedelta(milliseconds=grace_ms),
    )
    if revoked or age_ms > grace_ms:
        assert verdict == "reuse"
    else:
        assert verdict == "race"
