"""The pure timing rules of a manual workout, boundary by boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aurora_ingest.manual.rules import offset_minutes, resolve_timing, rfc3339_text

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))
START = datetime(2026, 11, 20, 7, 0, tzinfo=PLUS2)


def test_end_gives_elapsed_duration_and_utc_times() -> None:
    timing = resolve_timing(START, START + timedelta(hours=1), None, now=NOW)
    assert timing.start_at == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    assert timing.start_at.utcoffset() == timedelta(0)
    assert timing.end_at == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert timing.duration_s == 3600.0
    assert timing.tz_offset_min == 120


def test_duration_alone_leaves_end_empty() -> None:
    timing = resolve_timing(START, None, 1800, now=NOW)
    assert timing.end_at is None
    assert timing.duration_s == 1800.0


def test_moving_time_may_be_shorter_than_elapsed() -> None:
    timing = resolve_timing(START, START + timedelta(hours=1), 3000, now=NOW)
    assert timing.duration_s == 3000.0
    assert resolve_timing(START, START + timedelta(hours=1), 3601, now=NOW).duration_s == 3601


@pytest.mark.parametrize(
    ("end", "duration_s", "message"),
    [
        (None, None, "give end or duration_s"),
        (START, None, "end must be after start"),
        (START - timedelta(seconds=1), None, "end must be after start"),
        (START + timedelta(hours=48, seconds=1), None, "at most 48 hours"),
        (None, 0.5, "between 1 second and 48 hours"),
        (None, 48 * 3600 + 1, "between 1 second and 48 hours"),
        (START + timedelta(hours=1), 3602, "longer than the time between"),
    ],
)
def test_impossible_sessions_are_refused(
    end: datetime | None, duration_s: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_timing(START, end, duration_s, now=NOW)


def test_boundaries_are_inclusive() -> None:
    assert resolve_timing(START, None, 1, now=NOW).duration_s == 1
    assert resolve_timing(START, None, 48 * 3600, now=NOW).duration_s == 48 * 3600
    longest = resolve_timing(START, START + timedelta(hours=48), None, now=NOW)
    assert longest.duration_s == 48 * 3600


def test_start_must_be_plausible() -> None:
    with pytest.raises(ValueError, match="before 1970"):
        resolve_timing(datetime(1969, 12, 31, tzinfo=UTC), None, 60, now=NOW)
    assert resolve_timing(NOW + timedelta(hours=23), None, 60, now=NOW)
    with pytest.raises(ValueError, match="in the future"):
        resolve_timing(NOW + timedelta(days=1, seconds=1), None, 60, now=NOW)


@pytest.mark.parametrize(
    ("offset", "minutes"),
    [
        (timedelta(0), 0),
        (timedelta(hours=-12), -720),
        (timedelta(hours=14), 840),
        (timedelta(hours=5, minutes=45), 345),
        (timedelta(hours=-3, minutes=-30), -210),
    ],
)
def test_offsets_in_use_are_kept(offset: timedelta, minutes: int) -> None:
    assert offset_minutes(datetime(2026, 1, 1, tzinfo=timezone(offset))) == minutes


@pytest.mark.parametrize(
    "offset", [timedelta(hours=-13), timedelta(hours=15), timedelta(minutes=1, seconds=30)]
)
def test_offsets_not_in_use_are_refused(offset: timedelta) -> None:
    with pytest.raises(ValueError):
        offset_minutes(datetime(2026, 1, 1, tzinfo=timezone(offset)))


@pytest.mark.parametrize(
    "text", ["2026-11-20T07:00:00+01:00", "2026-11-20T07:00:00Z", "2026-11-20t07:00:00.123456z"]
)
def test_rfc3339_text_accepted(text: str) -> None:
    assert rfc3339_text(text) == text


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T07:00:00",
        "2026-11-20 07:00:00+01:00",
        "2026-11-20",
        "20261120T070000Z",
        "2026-11-20T07:00+01:00",
        "2026-11-20T07:00:00.1234567Z",
        1763622000,
        None,
    ],
)
def test_rfc3339_text_refused(value: object) -> None:
    with pytest.raises(ValueError):
        rfc3339_text(value)
