"""Which device or app recorded a sample: Apple's `sourceName` and `device` strings, normalised.

One watch appears under several spellings in one export ("Jane's Apple Watch"
with U+2019 and a NO-BREAK SPACE, then with ASCII), and the owner's name must
not become a device name, so names are normalised before they are keyed.

A workout written to Apple Health by Garmin Connect or Strava is a copy of that
provider's recording: its origin stays "Garmin Connect" / "Strava", so dedup
ranks it as that device (DESIGN.md §3: priority follows the recording device).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# (word in the normalised, lower-cased source name, origin device). Apps first:
# an app's name wins over the phone that carried it.
_APPS: tuple[tuple[str, str], ...] = (
    ("garmin", "Garmin Connect"),
    ("strava", "Strava"),
    ("whoop", "WHOOP"),
    ("oura", "Oura"),
    ("polar", "Polar Flow"),
    ("wahoo", "Wahoo"),
    ("zwift", "Zwift"),
)
# Garmin's iPhone app calls itself just "Connect" in Apple Health.
_EXACT: dict[str, str] = {"connect": "Garmin Connect"}
_HARDWARE: tuple[tuple[str, str], ...] = (
    ("apple watch", "Apple Watch"),
    ("watch", "Apple Watch"),
    ("iphone", "iPhone"),
)
_DEVICE_NAME = re.compile(r"(?:^|[<,]\s*)name:([^,>]*)")
_SPACES = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """NFKC (NBSP and U+202F become spaces), typographic quotes as ASCII, spaces collapsed."""
    text = unicodedata.normalize("NFKC", name)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")
    return _SPACES.sub(" ", text).strip()


def device_name(device: str | None) -> str | None:
    """`name:` of a stringified `<<HKDevice: 0x...>, name:Apple Watch, ...>`, if any."""
    if not device:
        return None
    match = _DEVICE_NAME.search(device)
    if match is None:
        return None
    return normalise_name(match.group(1)) or None


@lru_cache(maxsize=1024)
def _by_name(source_name: str) -> tuple[str, bool]:
    """(origin, decided): a source name decides alone unless it names no known device.

    Cached by name only: `device` strings differ record by record (a memory address).
    """
    source = normalise_name(source_name)
    lowered = source.lower()
    if lowered in _EXACT:
        return _EXACT[lowered], True
    for word, origin in _APPS + _HARDWARE:
        if word in lowered:
            return origin, True
    return source or "unknown", False


def origin_device(source_name: str, device: str | None = None) -> str:
    """The device or app that recorded it, in the words dedup's ranking understands."""
    origin, decided = _by_name(source_name)
    if decided or not device:
        return origin
    hardware = (device_name(device) or "").lower()
    for word, known in _HARDWARE:
        if word in hardware:
            return known
    return origin
