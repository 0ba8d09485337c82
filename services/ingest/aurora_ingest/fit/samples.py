"""Per-second samples of a FIT activity: record columns, `hr` beats merged in, HRV.

Built column by column with list comprehensions over the records' field dicts:
a 100k-record ride is ten passes of C-speed iteration, never one Python object
per sample, since this sits on the path the decoder's speed target measures.

HR merge (pool swims, HRM-Pro/HRM-Tri straps store beats in `hr` messages, not
in records): beat times are rebuilt the way the FIT SDK's HR plug-in does, not
taken from the decoder's expanded `event_timestamp` values. An `hr` message
with a `timestamp` anchors the clock (timestamp + fractional_timestamp is the
moment of its first event_timestamp); the packed `event_timestamp_12` of the
following messages holds 8 beats of 12 bits in 1/1024 s, each one accumulated
onto the previous beat with 12-bit rollover. fitdecode's datetimes for those
expanded values drop the accumulation carry (beats land up to seconds off), so
they are not used. A record without heart_rate takes the bpm of the last beat
at or before it, when that beat is at most HR_MAX_GAP_S old.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Final

from aurora_ingest.records.rules import Samples

SEMICIRCLE_DEG: Final[float] = 180.0 / 2**31
HR_MAX_GAP_S: Final[float] = 5.0
FIT_EPOCH_S: Final[int] = 631065600  # 1989-12-31T00:00:00Z as a Unix time
_TICKS: Final[int] = 1024  # event_timestamp unit: 1/1024 s
_ROLL: Final[int] = 1 << 32

# Aurora channel -> record fields, preferred first (enhanced_* carry the wider range).
CHANNELS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("hr", ("heart_rate",)),
    ("power", ("power",)),
    ("cadence", ("cadence",)),
    ("speed", ("enhanced_speed", "speed")),
    ("distance", ("distance",)),
    ("altitude", ("enhanced_altitude", "altitude")),
    ("temp", ("temperature",)),
)

Rows = Sequence[Mapping[str, Any]]


def clean(column: list[Any]) -> list[float | None]:
    """Finite numbers and None only; anything else (a tuple from a hostile definition) is a gap.

    The fast path sums the column once: a str, tuple or datetime raises, a NaN or
    an infinity makes the sum non-finite; only then is every value inspected.
    """
    try:
        total = sum(filter(None, column))  # zeros and None add nothing; C speed
        if math.isfinite(total):
            return column
    except (TypeError, OverflowError):
        pass
    return [
        v if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None
        for v in column
    ]


def _values(rows: Rows, name: str) -> list[Any]:
    try:  # rows of one definition share their keys: a C-level pass when the field is everywhere
        return list(map(itemgetter(name), rows))
    except KeyError:
        return [r.get(name) for r in rows]


def _column(rows: Rows, names: tuple[str, ...]) -> list[Any]:
    column = _values(rows, names[0])
    for fallback in names[1:]:
        if None not in column:
            break
        other = _values(rows, fallback)
        column = [a if a is not None else b for a, b in zip(column, other, strict=True)]
    return column


def _degrees(column: list[float | None], limit: float) -> list[float | None]:
    bound = limit / SEMICIRCLE_DEG
    return [v * SEMICIRCLE_DEG if v is not None and -bound <= v <= bound else None for v in column]


def _has_data(column: list[Any]) -> bool:
    return column.count(None) != len(column)


def build(rows: Rows, times: list[float], start: float) -> Samples | None:
    """Columnar samples of records already in time order; None when no channel holds data."""
    if not rows:
        return None
    samples: Samples = {"t": [t - start for t in times]}
    for channel, names in CHANNELS:
        column = clean(_column(rows, names))
        if _has_data(column):
            samples[channel] = column
    lat = clean(_values(rows, "position_lat"))
    lng = clean(_values(rows, "position_long"))
    if _has_data(lat) and _has_data(lng):
        lat_deg, lng_deg = _degrees(lat, 90.0), _degrees(lng, 180.0)
        if None in lat_deg or None in lng_deg:
            # A point is a pair: half a position is no position.
            pairs = list(zip(lat_deg, lng_deg, strict=True))
            lat_deg = [a if b is not None else None for a, b in pairs]
            lng_deg = [b if a is not None else None for a, b in pairs]
        samples["lat"], samples["lng"] = lat_deg, lng_deg
    if len(samples) == 1:
        return None
    return samples


def _ticks(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return round(value * _TICKS)
    if isinstance(value, datetime):
        return round((value.timestamp() - FIT_EPOCH_S) * _TICKS)
    return None


def _many(value: Any) -> list[Any]:
    if isinstance(value, tuple | list):
        return list(value)
    return [value]


def _unpack12(packed: Any) -> list[int] | None:
    """The 12-bit beat times packed little-endian in event_timestamp_12 (12 bytes = 8 beats)."""
    if isinstance(packed, bytes | bytearray) or (
        isinstance(packed, tuple | list)
        and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in packed)
    ):
        raw = bytes(packed)
    else:
        return None
    bits = int.from_bytes(raw, "little")
    return [(bits >> (12 * i)) & 0xFFF for i in range(len(raw) * 8 // 12)]


def beats(hr_messages: Sequence[Mapping[str, Any]], to_epoch: Any) -> tuple[list[float], list[int]]:
    """(Unix times, bpm) of every beat the `hr` messages hold, sorted by time."""
    anchor_time: float | None = None
    anchor_ticks = 0
    last = 0
    out: list[tuple[float, int]] = []
    for fields in hr_messages:
        stamp = to_epoch(fields.get("timestamp"))
        events: list[int | None]
        packed = _unpack12(fields.get("event_timestamp_12"))
        if stamp is not None:
            first = _ticks(_many(fields.get("event_timestamp"))[0])
            if first is None:
                continue
            fraction = fields.get("fractional_timestamp")
            if not isinstance(fraction, int | float) or isinstance(fraction, bool):
                fraction = 0.0
            anchor_time, anchor_ticks, last = stamp + float(fraction), first, first
        if anchor_time is None:
            continue  # beats before any anchor have no clock
        if packed is not None and stamp is None:
            events = []
            for value in packed:
                last += (value - last) & 0xFFF
                events.append(last)
        else:
            events = [_ticks(v) for v in _many(fields.get("event_timestamp"))]
            known = [e for e in events if e is not None]
            if known:
                last = known[-1]
        for tick, bpm in zip(events, _many(fields.get("filtered_bpm")), strict=False):
            if tick is None or not isinstance(bpm, int) or isinstance(bpm, bool) or bpm <= 0:
                continue
            delta = (tick - anchor_ticks) % _ROLL
            if delta >= _ROLL // 2:
                delta -= _ROLL
            out.append((anchor_time + delta / _TICKS, bpm))
    out.sort()
    return [t for t, _ in out], [b for _, b in out]


def merge_hr(
    samples: Samples, times: list[float], beat_times: list[float], beat_bpm: list[int]
) -> int:
    """Fill the hr gaps from beats; returns how many samples were filled."""
    if not beat_times:
        return 0
    hr = samples.get("hr") or [None] * len(times)
    filled = 0
    for i, moment in enumerate(times):
        if hr[i] is not None:
            continue
        k = bisect_right(beat_times, moment) - 1
        if k >= 0 and moment - beat_times[k] <= HR_MAX_GAP_S:
            hr[i] = float(beat_bpm[k])
            filled += 1
    if filled:
        samples["hr"] = hr
    return filled


def rr_intervals(values: Any) -> list[float]:
    """The valid R-R intervals (s) of one `hrv` message; invalid slots arrive as None."""
    out: list[float] = []
    for v in _many(values):
        if isinstance(v, int | float) and not isinstance(v, bool) and 0.0 < v < 65.0:
            out.append(float(v))
    return out
