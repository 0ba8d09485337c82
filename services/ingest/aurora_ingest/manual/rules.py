"""Pure rules of a hand-entered workout: when it happened and for how long.

Kept free of I/O (the clock is an argument) so that every boundary can be
tested directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_DURATION_S = 1.0
MAX_DURATION_S = 48 * 3600.0
MIN_OFFSET_MIN = -12 * 60  # UTC-12:00, the westernmost offset in use
MAX_OFFSET_MIN = 14 * 60  # UTC+14:00, the easternmost
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
# A workout may be entered a little "in the future" because of a wrong clock or
# offset, but not days ahead.
MAX_FUTURE = timedelta(days=1)
# Moving time may be shorter than elapsed time; allow rounding on top.
DURATION_SLACK_S = 1.0

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


def rfc3339_text(value: object) -> object:
    """Only RFC 3339 strings with an explicit offset; no epoch numbers, no naive times."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-05-01T07:30:00+02:00"
        )
    return value


def offset_minutes(moment: datetime) -> int:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("date-time needs a UTC offset")
    minutes, seconds = divmod(int(offset.total_seconds()), 60)
    if seconds:
        raise ValueError("UTC offset must be whole minutes")
    if not MIN_OFFSET_MIN <= minutes <= MAX_OFFSET_MIN:
        raise ValueError("UTC offset must lie between -12:00 and +14:00")
    return minutes


@dataclass(frozen=True)
class Timing:
    start_at: datetime  # UTC
    end_at: datetime | None  # UTC
    duration_s: float
    tz_offset_min: int


def resolve_timing(
    start: datetime, end: datetime | None, duration_s: float | None, *, now: datetime
) -> Timing:
    """Normalise to UTC, keep the local offset, and refuse impossible sessions.

    With only `end`, the duration is the elapsed time. With only `duration_s`,
    there is no end: consumers use start + duration (DESIGN.md §3). With both,
    the duration may be shorter than elapsed time (pauses) but not longer.
    """
    tz_offset_min = offset_minutes(start)
    start_utc = start.astimezone(UTC)
    if start_utc < EARLIEST_START:
        raise ValueError("start is before 1970")
    if start_utc > now + MAX_FUTURE:
        raise ValueError("start is more than a day in the future")
    if end is None and duration_s is None:
        raise ValueError("give end or duration_s")
    end_utc = None
    if end is not None:
        offset_minutes(end)
        end_utc = end.astimezone(UTC)
        if end_utc <= start_utc:
            raise ValueError("end must be after start")
        elapsed = (end_utc - start_utc).total_seconds()
        if elapsed > MAX_DURATION_S:
            raise ValueError("a workout lasts at most 48 hours")
        if duration_s is None:
            duration_s = elapsed
        elif duration_s > elapsed + DURATION_SLACK_S:
            raise ValueError("duration_s is longer than the time between start and end")
    assert duration_s is not None
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ValueError("duration must be between 1 second and 48 hours")
    return Timing(start_utc, end_utc, float(duration_s), tz_offset_min)
