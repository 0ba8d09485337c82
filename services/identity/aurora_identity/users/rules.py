"""Pure rules of the profile: what a name, a birth date and a time zone may be."""

from __future__ import annotations

import unicodedata
import zoneinfo
from datetime import date
from functools import lru_cache

DISPLAY_NAME_MAX_LENGTH = 100
TIME_ZONE_MAX_LENGTH = 64
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


@lru_cache(maxsize=1)
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_problem(name: str) -> str | None:
    """Only names of the IANA database: `ZoneInfo` alone would also try odd keys as paths."""
    if not name or len(name) > TIME_ZONE_MAX_LENGTH or name not in _known_time_zones():
        return "time_zone must be an IANA time zone name, e.g. Europe/Berlin"
    return None


def birth_date_problem(born: date, today: date) -> str | None:
    if born < EARLIEST_BIRTH_DATE:
        return "birth_date must not be before 1900-01-01"
    if born > today:
        return "birth_date must not be in the future"
    return None


def display_name_problem(name: str) -> str | None:
    """`name` already stripped; control and format characters could spoof other text."""
    if not name:
        return "display_name must not be blank (send null to clear it)"
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        return f"display_name must be at most {DISPLAY_NAME_MAX_LENGTH} characters"
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in name):
        return "display_name must not contain control or invisible characters"
    return None
