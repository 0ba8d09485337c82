"""The login back-off as pure rules: counting, blocking, doubling, capping, forgiving."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora_identity.throttle.rules import (
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    block_duration,
    email_key,
    is_stale,
    retry_after_s,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = ThrottlePolicy()  # 10 failures / 15 min, 1 min doubling to 15 min
S = timedelta(seconds=1)


def fail_n(n: int, start: datetime = T0, step: timedelta = S) -> ThrottleState:
    state: ThrottleState | None = None
    for i in range(n):
        state = after_failure(state, start + i * step, POLICY)
    assert state is not None
    return state


SECRET = b"s" * 32


def test_email_key_is_an_hmac_of_the_normal_form_and_hides_the_address() -> None:
    key = email_key(SECRET, "ann@example.com")
    assert key == hmac.new(SECRET, b"ann@example.com", hashlib.sha256).hexdigest()
    assert "ann" not in key
    assert len(key) == 64
    assert email_key(SECRET, "bob@example.com") != key
    # Without the secret a list of candidate addresses does not find it.
    assert key != hashlib.sha256(b"ann@example.com").hexdigest()
    assert email_key(b"t" * 32, "ann@example.com") != key


def test_email_key_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        email_key(b"", "ann@example.com")


@given(st.binary(min_size=1, max_size=64), st.text(max_size=80), st.text(max_size=80))
def test_email_key_is_deterministic_and_separates_addresses(
    secret: bytes, first: str, second: str
) -> None:
    assert email_key(secret, first) == email_key(secret, first)
    if first != second:
        assert email_key(secret, first) != email_key(secret, second)


def test_nine_failures_do_not_block() -> None:
    state = fail_n(9)
    assert state.failures == 9
    assert state.blocked_until is None
    assert retry_after_s(state, T0 + 9 * S) is None


def test_the_tenth_failure_blocks_for_the_base_duration() -> None:
    state = fail_n(10)
    tenth = T0 + 9 * S
    assert state.blocked_until == tenth + timedelta(minutes=1)
    assert state.blocks == 1
    assert retry_after_s(state, tenth) == 60
    assert retry_after_s(state, tenth + timedelta(seconds=59.2)) == 1  # rounded up, never 0
    assert retry_after_s(state, tenth + timedelta(minutes=1)) is None  # temporary


def test_each_further_failure_in_the_window_doubles_the_block_up_to_the_cap() -> None:
    state = fail_n(10)
    durations = []
    for _ in range(6):
        assert state.blocked_until is not None
        now = state.blocked_until  # the earliest moment the key may try again
        if now >= state.window_started_at + POLICY.window:
            break
        state = after_failure(state, now, POLICY)
        assert state.blocked_until is not None
        durations.append(state.blocked_until - now)
    assert durations[:3] == [timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8)]


def test_block_duration_doubles_and_is_capped() -> None:
    assert [block_duration(n, POLICY) for n in range(6)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15)
    ]
    assert block_duration(10_000, POLICY) == POLICY.max_block


def test_a_new_window_restarts_the_count() -> None:
    state = fail_n(5)
    later = T0 + POLICY.window + S
    state = after_failure(state, later, POLICY)
    assert state.failures == 1
    assert state.window_started_at == later


def test_blocks_already_served_still_count_until_a_quiet_window_has_passed() -> None:
    state = fail_n(10)  # blocked 1 min, blocks=1
    assert state.blocked_until is not None
    # Right after the window, a new round of 10 failures blocks for 2 minutes, not 1.
    start = T0 + POLICY.window
    for i in range(10):
        state = after_failure(state, start + i * S, POLICY)
    assert state.blocks == 2
    assert state.blocked_until == start + 9 * S + timedelta(minutes=2)
    # After a whole quiet window following the block, it starts from 1 minute again.
    assert state.blocked_until is not None
    quiet = state.blocked_until + POLICY.window
    for i in range(10):
        state = after_failure(state, quiet + i * S, POLICY)
    assert state.blocked_until == quiet + 9 * S + timedelta(minutes=1)
    assert state.blocks == 1


def test_staleness() -> None:
    state = fail_n(3)
    assert not is_stale(state, T0 + timedelta(minutes=5), POLICY)
    assert is_stale(state, T0 + POLICY.window, POLICY)
    blocked = fail_n(10)
    assert blocked.blocked_until is not None
    assert not is_stale(blocked, T0 + POLICY.window, POLICY)
    assert is_stale(blocked, blocked.blocked_until + POLICY.window, POLICY)


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_the_limit_is_configurable(limit: int) -> None:
    policy = ThrottlePolicy(max_failures=limit)
    state: ThrottleState | None = None
    for i in range(limit - 1):
        state = after_failure(state, T0 + i * S, policy)
        assert retry_after_s(state, T0 + i * S) is None
    state = after_failure(state, T0 + limit * S, policy)
    assert retry_after_s(state, T0 + limit * S) == 60


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=60),
)
def test_blocks_are_always_temporary_and_bounded(gaps: list[int]) -> None:
    """Whatever the timing of failures: never blocked longer than the cap, never more
    than `max_failures - 1` failures in one window without a block."""
    state: ThrottleState | None = None
    now = T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        if retry_after_s(state, now) is not None:
            continue  # a blocked key's attempts are refused before any password check
        state = after_failure(state, now, POLICY)
        wait = retry_after_s(state, now)
        assert wait is None or 1 <= wait <= POLICY.max_block.total_seconds()
        if state.failures >= POLICY.max_failures:
            assert state.blocked_until is not None and state.blocked_until > now
