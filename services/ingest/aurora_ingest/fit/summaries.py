"""Session metrics, laps, lengths and developer fields of a FIT activity, JSON-ready.

Everything here ends up in a JSONB column and an event, so only finite
numbers, short NUL-free strings, booleans and lists of those get through:
PostgreSQL refuses "\\u0000" in jsonb, and a hostile file must not be able to
make a store fail. Names follow the Strava mapping's metric vocabulary where
the meaning is the same (distance_m, avg_hr...), so analytics reads one set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

# (Aurora name, FIT fields preferred first, factor): SI units, energy in kJ/kcal.
SESSION_METRICS: Final[tuple[tuple[str, tuple[str, ...], float], ...]] = (
    ("elapsed_time_s", ("total_elapsed_time",), 1.0),
    ("moving_time_s", ("total_timer_time",), 1.0),
    ("distance_m", ("total_distance",), 1.0),
    ("elevation_gain_m", ("total_ascent",), 1.0),
    ("elevation_loss_m", ("total_descent",), 1.0),
    ("avg_speed", ("enhanced_avg_speed", "avg_speed"), 1.0),
    ("max_speed", ("enhanced_max_speed", "max_speed"), 1.0),
    ("avg_hr", ("avg_heart_rate",), 1.0),
    ("max_hr", ("max_heart_rate",), 1.0),
    ("min_hr", ("min_heart_rate",), 1.0),
    ("avg_cadence", ("avg_cadence",), 1.0),
    ("max_cadence", ("max_cadence",), 1.0),
    ("avg_power", ("avg_power",), 1.0),
    ("max_power", ("max_power",), 1.0),
    ("normalized_power", ("normalized_power",), 1.0),
    ("kilojoules", ("total_work",), 0.001),
    ("calories", ("total_calories",), 1.0),
    ("avg_temp", ("avg_temperature",), 1.0),
    ("max_temp", ("max_temperature",), 1.0),
    ("training_stress_score", ("training_stress_score",), 1.0),
    ("intensity_factor", ("intensity_factor",), 1.0),
    ("strokes", ("total_strokes",), 1.0),
    ("pool_length_m", ("pool_length",), 1.0),
    ("lengths", ("num_lengths",), 1.0),
    ("active_lengths", ("num_active_lengths",), 1.0),
    ("elevation_high_m", ("enhanced_max_altitude", "max_altitude"), 1.0),
    ("elevation_low_m", ("enhanced_min_altitude", "min_altitude"), 1.0),
)
# Laps carry a subset of the session's metrics, read the same way, in this order.
LAP_METRIC_NAMES: Final[tuple[str, ...]] = (
    "elapsed_time_s",
    "moving_time_s",
    "distance_m",
    "elevation_gain_m",
    "elevation_loss_m",
    "avg_speed",
    "max_speed",
    "avg_hr",
    "max_hr",
    "avg_cadence",
    "avg_power",
    "max_power",
    "calories",
    "lengths",
    "strokes",
)
LAP_METRICS: Final[tuple[tuple[str, tuple[str, ...], float], ...]] = tuple(
    next(m for m in SESSION_METRICS if m[0] == name) for name in LAP_METRIC_NAMES
)
LAP_LABELS: Final[tuple[str, ...]] = ("lap_trigger", "intensity", "swim_stroke")
LENGTH_METRICS: Final[tuple[tuple[str, tuple[str, ...], float], ...]] = (
    ("elapsed_time_s", ("total_elapsed_time",), 1.0),
    ("moving_time_s", ("total_timer_time",), 1.0),
    ("strokes", ("total_strokes",), 1.0),
    ("avg_speed", ("avg_speed",), 1.0),
    ("cadence", ("avg_swimming_cadence",), 1.0),
)
LENGTH_LABELS: Final[tuple[str, ...]] = ("swim_stroke", "length_type")
MAX_TEXT: Final[int] = 200
MAX_LIST: Final[int] = 64


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """A value fit for jsonb, or None: numbers finite, text short and NUL-free, lists bounded."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")[:MAX_TEXT]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value[:MAX_LIST]).hex()
    if isinstance(value, tuple | list):
        return [json_safe(v) for v in value[:MAX_LIST]]
    return json_safe(str(value))


def _pick(
    fields: Mapping[str, Any], table: Sequence[tuple[str, tuple[str, ...], float]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for ours, theirs, factor in table:
        for name in theirs:
            value = number(fields.get(name))
            if value is not None:
                out[ours] = value * factor if factor != 1.0 else value
                break
    return out


def metrics_of(session: Mapping[str, Any]) -> dict[str, float]:
    return _pick(session, SESSION_METRICS)


def _labelled(fields: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = fields.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            out[name] = json_safe(value)
    return out


def _entries(
    items: Sequence[tuple[float | None, Mapping[str, Any]]],
    start: float,
    table: Sequence[tuple[str, tuple[str, ...], float]],
    labels: Sequence[str],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for position, (moment, fields) in enumerate(sorted(items, key=lambda i: i[0] or 0.0)):
        entry: dict[str, Any] = {"index": position}
        if moment is not None:
            entry["start_offset_s"] = round(moment - start, 3)
        entry.update(_pick(fields, table))
        entry.update(_labelled(fields, labels))
        out.append(entry)
    return out


def lap_entries(
    laps: Sequence[tuple[float | None, Mapping[str, Any]]], start: float
) -> list[dict[str, Any]]:
    """Laps in time order, each with its start as seconds from the workout's start."""
    return _entries(laps, start, LAP_METRICS, LAP_LABELS)


def length_entries(
    lengths: Sequence[tuple[float | None, Mapping[str, Any]]], start: float
) -> list[dict[str, Any]]:
    """Pool lengths (active and rest) in time order."""
    return _entries(lengths, start, LENGTH_METRICS, LENGTH_LABELS)


def developer_summary(
    counts: Mapping[str, Counter[str]], session_values: Mapping[str, Any]
) -> dict[str, Any]:
    """Which developer fields the file carries, per message type, and the session's values."""
    if not counts:
        return {}
    summary: dict[str, Any] = {
        "fields": {
            json_safe(message): {json_safe(name): n for name, n in sorted(names.items())}
            for message, names in sorted(counts.items())
        }
    }
    values = {json_safe(str(k)): json_safe(v) for k, v in session_values.items()}
    if values:
        summary["session"] = values
    return summary


def record_metrics(
    samples: Mapping[str, list[float | None]] | None, duration: float, timer: float | None
) -> dict[str, float]:
    """Summary metrics of a workout that has no session message, from its samples."""
    metrics: dict[str, float] = {"elapsed_time_s": duration}
    if timer is not None and timer > 0:
        metrics["moving_time_s"] = timer
    if samples is None:
        return metrics
    for channel, avg_name, max_name in (
        ("hr", "avg_hr", "max_hr"),
        ("power", "avg_power", "max_power"),
        ("cadence", "avg_cadence", None),
        ("speed", "avg_speed", "max_speed"),
    ):
        values = [v for v in samples.get(channel) or () if v is not None]
        if values:
            metrics[avg_name] = round(sum(values) / len(values), 3)
            if max_name is not None:
                metrics[max_name] = max(values)
    distances = [v for v in samples.get("distance") or () if v is not None]
    if distances:
        metrics["distance_m"] = max(distances)
    return metrics
