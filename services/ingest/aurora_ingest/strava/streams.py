"""Strava streams (GET /activities/{id}/streams) onto columnar Samples.

Streams come from the network and are trusted no more than a webhook: every
channel must be as long as the time channel, every value a finite number (or
null), and the whole set bounded, so a hostile or broken answer is refused
with a MappingError instead of being stored half-right.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from aurora_ingest.records.rules import Samples, samples_problem
from aurora_ingest.strava.errors import MappingError

# Strava stream type -> Aurora sample channel. "latlng" is split into two channels;
# "moving" and "grade_smooth" are derived data Aurora does not keep.
CHANNELS: Final[Mapping[str, str]] = {
    "heartrate": "hr",
    "watts": "power",
    "cadence": "cadence",
    "velocity_smooth": "speed",
    "distance": "distance",
    "altitude": "altitude",
    "temp": "temp",
}
# The stream keys the client asks for (time is the index every other channel follows).
REQUESTED: Final[tuple[str, ...]] = ("time", *CHANNELS, "latlng")
# 1 Hz for 72 hours: longer than any single activity Strava records, small
# enough that one activity's samples stay a few MB of JSON.
MAX_POINTS: Final[int] = 72 * 3600


def _by_type(streams: Any) -> dict[str, Any]:
    """Accept both answer forms: key_by_type=true (an object) and the default array."""
    if isinstance(streams, Mapping):
        return dict(streams)
    if isinstance(streams, list):
        keyed: dict[str, Any] = {}
        for stream in streams:
            if not isinstance(stream, Mapping) or not isinstance(stream.get("type"), str):
                raise MappingError("stream without a type")
            if stream["type"] in keyed:
                raise MappingError(f"stream {stream['type']!r} appears twice")
            keyed[stream["type"]] = stream
        return keyed
    raise MappingError("streams must be an object or an array")


def _data(name: str, stream: Any) -> list[Any]:
    if not isinstance(stream, Mapping) or not isinstance(stream.get("data"), list):
        raise MappingError(f"stream {name!r} has no data array")
    data: list[Any] = stream["data"]
    if len(data) > MAX_POINTS:
        raise MappingError(f"stream {name!r} has {len(data)} points, more than {MAX_POINTS}")
    return data


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    # bool is an int subclass; a boolean where a number belongs is a broken stream.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(f"stream {name!r} holds a non-number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise MappingError(f"stream {name!r} holds a non-finite number")
    return number


def _latlng(value: Any) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    if not isinstance(value, list) or len(value) != 2:
        raise MappingError(f"latlng point is not a [lat, lng] pair: {value!r}")
    lat, lng = _number("latlng", value[0]), _number("latlng", value[1])
    if lat is None or lng is None:
        return None, None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0):
        raise MappingError(f"latlng point out of range: {value!r}")
    return lat, lng


def samples_from_streams(streams: Any) -> Samples | None:
    """Columnar samples, or None when the activity has no streams (manual entries).

    Raises MappingError for a stream set that cannot be trusted as a whole:
    channels without a time channel, lengths that differ from it, time that
    runs backwards, non-numbers, or more than MAX_POINTS points.
    """
    keyed = _by_type(streams)
    known = {name: stream for name, stream in keyed.items() if name in REQUESTED}
    if not known:
        return None
    if "time" not in known:
        raise MappingError("streams have no time stream")
    times = [_number("time", v) for v in _data("time", known["time"])]
    if not times:
        return None
    previous = -math.inf
    for moment in times:
        if moment is None or moment < 0 or moment < previous:
            raise MappingError("time stream must be non-negative and never decrease")
        previous = moment
    samples: Samples = {"t": times}
    for name, stream in known.items():
        if name == "time":
            continue
        data = _data(name, stream)
        if len(data) != len(times):
            raise MappingError(
                f"stream {name!r} has {len(data)} points, the time stream {len(times)}"
            )
        if name == "latlng":
            pairs = [_latlng(v) for v in data]
            samples["lat"] = [lat for lat, _ in pairs]
            samples["lng"] = [lng for _, lng in pairs]
        else:
            samples[CHANNELS[name]] = [_number(name, v) for v in data]
    problem = samples_problem(samples)
    if problem is not None:  # pragma: no cover - guarded above; kept as the contract's check
        raise MappingError(problem)
    return samples
