"""Apple Health's date formats: `YYYY-MM-DD HH:MM:SS ±HHMM`, local wall clock plus offset.

The offset is the device's at write time (one export mixes DST and travel
offsets), so it is kept: records store UTC plus the original offset in minutes.
"""

from __future__ import annotations

import datetime as dt
import re

from aurora_ingest.apple.errors import ExportError, excerpt

APPLE_FORMAT = "YYYY-MM-DD HH:MM:SS ±HHMM"
_APPLE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def check_date(value: str, where: str) -> str:
    """The value itself when it has Apple's shape; cheap enough for every heart-rate sample.

    PostgreSQL parses the text during COPY; this only makes sure it gets Apple's
    format and nothing else (an ISO `T` or `Z` would be read with another meaning).
    """
    if _APPLE.fullmatch(value) is None:
        raise ExportError(f"{where} is {excerpt(value)}, not a date like {APPLE_FORMAT}")
    return value


def parse_date(value: str, where: str) -> dt.datetime:
    """An aware datetime with the export's own offset."""
    check_date(value, where)
    try:
        # "2023-05-02 07:45:12 -0700" -> "2023-05-02 07:45:12-0700": fromisoformat's fast path.
        return dt.datetime.fromisoformat(value[:19] + value[20:])
    except ValueError:
        raise ExportError(
            f"{where} is {excerpt(value)}, which is not a real date and time"
        ) from None


def parse_day(value: str, where: str) -> dt.date:
    """`ActivitySummary@dateComponents`: a bare calendar date."""
    if _DAY.fullmatch(value) is None:
        raise ExportError(f"{where} is {excerpt(value)}, not a date like YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{where} is {excerpt(value)}, which is not a real date") from None


def offset_minutes(moment: dt.datetime) -> int:
    offset = moment.utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def parse_iso(value: str, where: str) -> dt.datetime:
    """GPX route times: ISO 8601 with `Z` or an offset (a different format from export.xml)."""
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{where} is {excerpt(value)}, not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ExportError(f"{where} is {excerpt(value)}, a time without an offset")
    return moment
