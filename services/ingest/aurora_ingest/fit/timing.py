"""FIT time onto Unix seconds: the wall clock, device-relative clocks, record order.

FIT `date_time` values below 0x10000000 count seconds since the device powered
on (the FR70 writes nothing else). The only wall-clock value such files hold is
activity.local_timestamp, local time of an unknown zone, so it anchors the
relative clock approximately and the zone stays unknown; a file without it
cannot be placed on a timeline and is refused with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any, Final, TypeGuard

from aurora_ingest.fit.messages import FitDecodeError

RELATIVE_LIMIT: Final[int] = 0x10000000
MIN_OFFSET_MIN, MAX_OFFSET_MIN = -12 * 60, 14 * 60


class Clock:
    """Turns FIT times into Unix seconds; device-relative ones through the activity's anchor."""

    def __init__(self, activity: Mapping[str, Any] | None) -> None:
        self.anchor: float | None = None
        self.relative_seen = False
        if activity is not None:
            local, stamp = activity.get("local_timestamp"), activity.get("timestamp")
            if isinstance(local, datetime) and relative(stamp):
                self.anchor = local.timestamp() - float(stamp)

    def __call__(self, value: Any) -> float | None:
        if isinstance(value, datetime):
            return value.timestamp()
        if relative(value):
            self.relative_seen = True
            if self.anchor is None:
                raise FitDecodeError(
                    "timestamps are relative to the device's power-on and the file holds "
                    "no wall-clock time to place them"
                )
            return self.anchor + float(value)
        return None


def relative(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < RELATIVE_LIMIT


def tz_offset(activity: Mapping[str, Any] | None) -> int | None:
    if activity is None:
        return None
    local, stamp = activity.get("local_timestamp"), activity.get("timestamp")
    if not isinstance(local, datetime) or not isinstance(stamp, datetime):
        return None
    minutes = round((local - stamp).total_seconds() / 60)
    return minutes if MIN_OFFSET_MIN <= minutes <= MAX_OFFSET_MIN else None


def timeline(records: list[Mapping[str, Any]], clock: Clock) -> tuple[list[Any], list[float]]:
    """Records with a time, in time order, and their Unix times."""
    try:
        raw = list(map(itemgetter("timestamp"), records))
    except KeyError:
        raw = [r.get("timestamp") for r in records]
    try:  # the usual case, every record on the wall clock
        stamps: list[float | None] = [moment.timestamp() for moment in raw]
    except AttributeError:
        stamps = [clock(moment) for moment in raw]
    if None in stamps:
        kept = [(t, r) for t, r in zip(stamps, records, strict=True) if t is not None]
        records, stamps = [r for _, r in kept], [t for t, _ in kept]
    times: list[float] = stamps  # type: ignore[assignment]  # None removed above
    if times != sorted(times):  # timsort on sorted data is one C-level pass
        order = sorted(range(len(times)), key=times.__getitem__)
        records, times = [records[i] for i in order], [times[i] for i in order]
    return records, times
