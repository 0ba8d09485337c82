"""Export elements onto Aurora's records: pure, no I/O, exhaustively tested.

`Normaliser` is fed the elements as they stream: heart rate and the other
vitals become rows for the sample table (COPY text, built here so the hot path
allocates one string per sample), workouts become `WorkoutDraft`s, and sleep,
vitals and rings accumulate per source and day (apple.health).
Record source is always "apple_health"; `origin_device` says who recorded it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aurora_ingest.apple.dates import check_date, offset_minutes, parse_date
from aurora_ingest.apple.errors import ExportError, excerpt
from aurora_ingest.apple.health import HealthAccumulator, external_id
from aurora_ingest.apple.parser import Node
from aurora_ingest.apple.sources import normalise_name, origin_device
from aurora_ingest.apple.sports import sport_of
from aurora_ingest.records.rules import Samples, WorkoutFields

SOURCE = "apple_health"
HK = "HKQuantityTypeIdentifier"
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
# Record type -> (sample kind, unit -> factor onto the stored unit).
SAMPLE_TYPES: dict[str, tuple[str, dict[str, float]]] = {
    HK + "HeartRate": ("hr", {"count/min": 1.0, "count/s": 60.0}),
    HK + "RestingHeartRate": ("resting_hr", {"count/min": 1.0}),
    HK + "HeartRateVariabilitySDNN": ("hrv_sdnn", {"ms": 1.0, "s": 1000.0}),
    HK + "VO2Max": ("vo2max", {"mL/min·kg": 1.0, "mL/(kg·min)": 1.0, "ml/(kg*min)": 1.0}),
    HK + "RespiratoryRate": ("respiratory_rate", {"count/min": 1.0}),
}
DAILY_KINDS = frozenset({"resting_hr", "hrv_sdnn", "vo2max", "respiratory_rate"})
DURATION_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "hr": 3600.0, "h": 3600.0}
DISTANCE_UNITS = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "yd": 0.9144, "ft": 0.3048}
ENERGY_UNITS = {"kcal": 4.184, "Cal": 4.184, "kJ": 1.0, "J": 0.001}
PAUSES = {"Pause", "Resume", "MotionPaused", "MotionResumed"}
MAX_METADATA = 64


@lru_cache(maxsize=1024)
def _copy_source(source_name: str) -> str:
    """The origin as a COPY text field (backslash is COPY's escape character)."""
    return origin_device(source_name).replace("\\", "\\\\")


@dataclass(frozen=True)
class RoutePoint:
    at: dt.datetime
    lat: float
    lng: float
    altitude: float | None = None


@dataclass(frozen=True)
class WorkoutDraft:
    """A workout before its samples are joined: heart rate comes from the sample table."""

    external_id: str
    fields: WorkoutFields
    route_file: str | None = None
    route: tuple[RoutePoint, ...] = ()


def _number(value: str | None, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise ExportError(f"{where} is {excerpt(value)}, not a number") from None
    if not math.isfinite(number):
        raise ExportError(f"{where} is {excerpt(value)}, not a finite number")
    return number


def _in_unit(value: float | None, unit: str | None, table: dict[str, float]) -> float | None:
    if value is None:
        return None
    factor = table.get(unit or "")
    return None if factor is None else value * factor


def _seconds(attrs: dict[str, str], where: str) -> float | None:
    value = _number(attrs.get("duration"), f"{where} duration")
    return _in_unit(value, attrs.get("durationUnit", "min"), DURATION_UNITS)


def _statistics(node: Node, metrics: dict[str, float], stats: dict[str, Any]) -> None:
    for child in node[2]:
        if child[0] != "WorkoutStatistics":
            continue
        attrs = child[1]
        kind = attrs.get("type", "").removeprefix(HK)
        where = f"WorkoutStatistics {kind}"
        values = {
            name: _number(attrs.get(name), f"{where} {name}")
            for name in ("average", "minimum", "maximum", "sum")
        }
        unit = attrs.get("unit")
        stats[kind] = {**{k: v for k, v in values.items() if v is not None}, "unit": unit}
        if kind == "HeartRate" and unit == "count/min":
            for name, metric in (
                ("average", "avg_hr"),
                ("minimum", "min_hr"),
                ("maximum", "max_hr"),
            ):
                if values[name] is not None:
                    metrics[metric] = float(values[name] or 0.0)
        elif kind.startswith("Distance"):
            distance = _in_unit(values["sum"], unit, DISTANCE_UNITS)
            if distance is not None:
                metrics["distance_m"] = round(distance, 3)
        elif kind == "ActiveEnergyBurned":
            energy = _in_unit(values["sum"], unit, ENERGY_UNITS)
            if energy is not None:
                metrics["energy_kj"] = round(energy, 3)


def _events(node: Node, start: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for child in node[2]:
        if child[0] != "WorkoutEvent":
            continue
        attrs = child[1]
        kind = attrs.get("type", "").removeprefix("HKWorkoutEventType") or "Unknown"
        at = parse_date(attrs.get("date", ""), f"WorkoutEvent {kind} date")
        event: dict[str, Any] = {"offset_s": (at - start).total_seconds()}
        elapsed = _seconds(attrs, f"WorkoutEvent {kind}")
        if elapsed is not None:
            event["elapsed_s"] = round(elapsed, 3)
        meta = _metadata(child)
        if meta:
            event["metadata"] = meta
        group = (
            "pauses"
            if kind in PAUSES
            else {"Lap": "laps", "Segment": "segments"}.get(kind, "markers")
        )
        if group in ("pauses", "markers"):
            event["type"] = kind
        grouped.setdefault(group, []).append(event)
    return grouped


def _metadata(node: Node) -> dict[str, str]:
    meta: dict[str, str] = {}
    for child in node[2]:
        if child[0] == "MetadataEntry" and len(meta) < MAX_METADATA:
            key = child[1].get("key", "")[:100]
            if key:
                meta[key] = child[1].get("value", "")[:200]
    return meta


def _legs(node: Node, start: dt.datetime) -> list[dict[str, Any]]:
    legs = []
    for child in node[2]:
        if child[0] != "WorkoutActivity":
            continue
        attrs = child[1]
        leg_start = parse_date(attrs.get("startDate", ""), "WorkoutActivity startDate")
        leg_end = parse_date(attrs.get("endDate", ""), "WorkoutActivity endDate")
        metrics: dict[str, float] = {}
        stats: dict[str, Any] = {}
        _statistics(child, metrics, stats)
        leg: dict[str, Any] = {
            "uuid": attrs.get("uuid"),
            "offset_s": (leg_start - start).total_seconds(),
            "elapsed_s": (leg_end - leg_start).total_seconds(),
            "metrics": metrics,
        }
        if "workoutActivityType" in attrs:
            leg["sport"], leg["provider_sport"] = sport_of(attrs["workoutActivityType"])
        leg.update(_events(child, start))
        legs.append(leg)
    return legs


def _route(node: Node) -> tuple[str | None, tuple[RoutePoint, ...]]:
    for child in node[2]:
        if child[0] != "WorkoutRoute":
            continue
        for part in child[2]:
            if part[0] == "FileReference" and part[1].get("path"):
                return part[1]["path"], ()
        points = []
        for part in child[2]:
            if part[0] != "Location":
                continue
            attrs = part[1]
            lat = _number(attrs.get("latitude"), "Location latitude")
            lng = _number(attrs.get("longitude"), "Location longitude")
            if lat is None or lng is None:
                continue
            points.append(
                RoutePoint(
                    parse_date(attrs.get("date", ""), "Location date"),
                    lat,
                    lng,
                    _number(attrs.get("altitude"), "Location altitude"),
                )
            )
        return None, tuple(points)
    return None, ()


def map_workout(node: Node) -> WorkoutDraft | None:
    """The workout, or None when its times make no session (an end before its start)."""
    attrs = node[1]
    start = parse_date(attrs.get("startDate", ""), "Workout startDate")
    end = parse_date(attrs.get("endDate", ""), "Workout endDate")
    if end <= start:
        return None
    sport, label = sport_of(attrs.get("workoutActivityType", ""))
    source_name = normalise_name(attrs.get("sourceName", ""))
    origin = origin_device(attrs.get("sourceName", ""), attrs.get("device"))
    duration = _seconds(attrs, "Workout") or (end - start).total_seconds()
    metrics: dict[str, float] = {}
    stats: dict[str, Any] = {}
    # Before iOS 16 totals are attributes; later exports keep them in WorkoutStatistics.
    distance = _in_unit(
        _number(attrs.get("totalDistance"), "Workout totalDistance"),
        attrs.get("totalDistanceUnit"),
        DISTANCE_UNITS,
    )
    if distance is not None:
        metrics["distance_m"] = round(distance, 3)
    energy = _in_unit(
        _number(attrs.get("totalEnergyBurned"), "Workout totalEnergyBurned"),
        attrs.get("totalEnergyBurnedUnit"),
        ENERGY_UNITS,
    )
    if energy is not None:
        metrics["energy_kj"] = round(energy, 3)
    _statistics(node, metrics, stats)
    meta = _metadata(node)
    ascent = meta.get("HKElevationAscended", "")
    if ascent.endswith(" cm"):
        metrics["elevation_gain_m"] = round(
            float(_number(ascent[:-3], "HKElevationAscended") or 0) / 100, 2
        )
    details: dict[str, Any] = {"provider_sport": label, "source_name": source_name}
    if meta:
        details["metadata"] = meta
    if stats:
        details["statistics"] = stats
    details.update(_events(node, start))
    legs = _legs(node, start)
    if legs:
        details["activities"] = legs
    route_file, route = _route(node)
    if route_file:
        details["route_file"] = route_file
    fields = WorkoutFields(
        sport=sport,
        start_at=start,
        end_at=end,
        duration_s=duration if duration > 0 else (end - start).total_seconds(),
        tz_offset_min=offset_minutes(start),
        metrics=metrics,
        origin_device=origin,
        details=details,
    )
    key = external_id(
        "workout",
        attrs.get("workoutActivityType", ""),
        source_name,
        attrs["startDate"],
        attrs["endDate"],
    )
    return WorkoutDraft(key, fields, route_file, route)


def merge_samples(
    start: dt.datetime,
    heart_rate: Iterable[tuple[dt.datetime, float]],
    route: Iterable[RoutePoint] = (),
) -> Samples | None:
    """Columnar samples at whole seconds from the start; None when there are none.

    Heart rate (every few seconds) and GPS (every second) rarely share a
    timestamp, so each second present in either gets a row, None where a
    channel has no value; a second holding two values keeps the last.
    """
    rows: dict[int, dict[str, float | None]] = {}
    for at, bpm in heart_rate:
        rows.setdefault(round((at - start).total_seconds()), {})["hr"] = bpm
    for point in route:
        row = rows.setdefault(round((point.at - start).total_seconds()), {})
        row["lat"], row["lng"] = point.lat, point.lng
        if point.altitude is not None:
            row["altitude"] = point.altitude
    if not rows:
        return None
    seconds = sorted(t for t in rows if t >= 0)
    channels = sorted({name for t in seconds for name in rows[t]})
    samples: Samples = {"t": [float(t) for t in seconds]}
    for name in channels:
        samples[name] = [rows[t].get(name) for t in seconds]
    return samples if seconds else None


@dataclass
class Normaliser:
    """Streams elements into sample rows, workout drafts and health accumulators."""

    user_id: uuid.UUID
    import_id: uuid.UUID
    rows: list[str] = field(default_factory=list)
    workouts: list[WorkoutDraft] = field(default_factory=list)
    health: HealthAccumulator = field(default_factory=HealthAccumulator)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._prefix = f"{self.user_id}\t{self.import_id}\t"

    def feed(self, items: list[Node]) -> None:
        counts, rows, prefix, health = self.counts, self.rows, self._prefix, self.health
        for name, attrs, _ in items:
            if name != "Record":
                self._other(name, (name, attrs, _))
                continue
            kind_type = attrs.get("type", "")
            counts[kind_type] = counts.get(kind_type, 0) + 1
            known = SAMPLE_TYPES.get(kind_type)
            if known is None:
                if kind_type == SLEEP_TYPE:
                    origin = origin_device(attrs.get("sourceName", ""), attrs.get("device"))
                    if not health.add_sleep(origin, (name, attrs, _)):
                        self._skip(kind_type)
                else:
                    self._skip(kind_type)
                continue
            kind, units = known
            factor = units.get(attrs.get("unit", ""))
            raw = attrs.get("value")
            if factor is None or raw is None:
                self._skip(kind_type)
                continue
            value = _number(raw, f"{kind_type.removeprefix(HK)} value")
            start = check_date(attrs.get("startDate", ""), "Record startDate")
            end = check_date(attrs.get("endDate", ""), "Record endDate")
            source = _copy_source(attrs.get("sourceName", ""))
            value = (value or 0.0) * factor
            rows.append(f"{prefix}{kind}\t{source}\t{start}\t{end}\t{value!r}\n")
            if kind in DAILY_KINDS:
                health.add_daily(origin_device(attrs.get("sourceName", "")), kind, start, value)

    def _skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def _other(self, name: str, node: Node) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        if name == "Workout":
            draft = map_workout(node)
            if draft is None:
                self._skip("Workout")
            else:
                self.workouts.append(draft)
        elif name == "ActivitySummary":
            self.health.add_summary(node)
        elif name not in ("ExportDate", "Me"):
            self._skip(name)
