"""Strava activities (DetailedActivity, laps, streams) onto WorkoutFields. Pure: no I/O.

Decisions worth knowing:
- Time: `start_date` is UTC; the local offset comes from `utc_offset` (seconds),
  or, in older payloads without it, from `start_date_local` - `start_date`
  (Strava writes local wall time with a misleading "Z"). Duration is
  `elapsed_time`, so end = start + elapsed time; moving time is a metric.
- Origin device: `device_name` as Strava reports it ("Garmin Edge 530",
  "WHOOP", "Zwift"), since the recording device decides priority (DESIGN.md §3).
  A manual entry (`manual: true`) was recorded by no device: its origin is
  "manual", so it never outranks a real recording of the same session; an
  upload without a device name keeps null (Strava itself is the origin).
- Power: when `device_watts` is false Strava estimated the power; the estimate
  stays in details and out of the metrics, which analytics trusts as measured.
- Laps and per-km splits are stored as reported (the last split is usually a
  partial kilometre); nothing is re-derived from streams.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aurora_ingest.records.rules import WorkoutFields
from aurora_ingest.strava.errors import MappingError
from aurora_ingest.strava.sports import aurora_sport
from aurora_ingest.strava.streams import samples_from_streams

# Strava field -> Aurora metric name (SI units; heart rate bpm, cadence rpm/spm, energy kJ/kcal).
METRICS: Final[tuple[tuple[str, str], ...]] = (
    ("distance", "distance_m"),
    ("moving_time", "moving_time_s"),
    ("elapsed_time", "elapsed_time_s"),
    ("total_elevation_gain", "elevation_gain_m"),
    ("elev_high", "elevation_high_m"),
    ("elev_low", "elevation_low_m"),
    ("average_speed", "avg_speed"),
    ("max_speed", "max_speed"),
    ("average_heartrate", "avg_hr"),
    ("max_heartrate", "max_hr"),
    ("average_cadence", "avg_cadence"),
    ("average_watts", "avg_power"),
    ("weighted_average_watts", "weighted_avg_power"),
    ("max_watts", "max_power"),
    ("kilojoules", "kilojoules"),
    ("calories", "calories"),
    ("average_temp", "avg_temp"),
)
POWER_METRICS: Final[frozenset[str]] = frozenset(
    {"avg_power", "weighted_avg_power", "max_power", "kilojoules"}
)
LAP_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("elapsed_time", "elapsed_time_s"),
    ("moving_time", "moving_time_s"),
    ("distance", "distance_m"),
    ("total_elevation_gain", "elevation_gain_m"),
    ("average_speed", "avg_speed"),
    ("max_speed", "max_speed"),
    ("average_heartrate", "avg_hr"),
    ("max_heartrate", "max_hr"),
    ("average_cadence", "avg_cadence"),
    ("average_watts", "avg_power"),
    ("start_index", "start_index"),
    ("end_index", "end_index"),
)
SPLIT_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("distance", "distance_m"),
    ("elapsed_time", "elapsed_time_s"),
    ("moving_time", "moving_time_s"),
    ("elevation_difference", "elevation_difference_m"),
    ("average_speed", "avg_speed"),
    ("average_grade_adjusted_speed", "avg_grade_adjusted_speed"),
    ("average_heartrate", "avg_hr"),
    ("pace_zone", "pace_zone"),
)
# Fields a SummaryActivity (list page) and a DetailedActivity share: when none of
# them changed, the stored record is current and the detail need not be fetched.
FINGERPRINT_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "sport_type",
    "type",
    "start_date",
    "elapsed_time",
    "moving_time",
    "distance",
    "total_elevation_gain",
    "manual",
)
MAX_ELAPSED_S: Final[float] = 30 * 24 * 3600.0
MIN_OFFSET_MIN, MAX_OFFSET_MIN = -12 * 60, 14 * 60
MAX_TEXT: Final[int] = 200


def _number(value: Any) -> float | None:
    """A finite JSON number, else None: one odd summary field never rejects a workout."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_TEXT]


def _moment(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise MappingError(f"{field} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MappingError(f"{field} is not a date-time: {value[:40]!r}") from exc
    if moment.tzinfo is None:  # Strava's UTC fields always end in Z; be lenient but exact
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def activity_id(activity: Mapping[str, Any]) -> int:
    value = activity.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MappingError("activity has no valid id")
    return value


def athlete_id(activity: Mapping[str, Any]) -> str | None:
    """The owner's athlete id as text (the form connections store it in), if present."""
    athlete = activity.get("athlete")
    if isinstance(athlete, Mapping):
        value = athlete.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def tz_offset_minutes(activity: Mapping[str, Any]) -> int | None:
    offset_s = _number(activity.get("utc_offset"))
    if offset_s is None:
        local = activity.get("start_date_local")
        utc = activity.get("start_date")
        if not isinstance(local, str) or not isinstance(utc, str):
            return None
        try:
            local_naive = datetime.fromisoformat(local).replace(tzinfo=None)
            utc_naive = datetime.fromisoformat(utc).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            return None
        offset_s = (local_naive - utc_naive).total_seconds()
    minutes = round(offset_s / 60)
    return minutes if MIN_OFFSET_MIN <= minutes <= MAX_OFFSET_MIN else None


def provider_sport(activity: Mapping[str, Any]) -> str | None:
    """`sport_type` when present (the current list), else the legacy `type`."""
    return _text(activity.get("sport_type")) or _text(activity.get("type"))


def origin_device(activity: Mapping[str, Any]) -> str | None:
    if activity.get("manual") is True:
        return "manual"
    return _text(activity.get("device_name"))


def fingerprint(activity: Mapping[str, Any]) -> str:
    """Stable digest of the fields a list page and a detail share (see FINGERPRINT_FIELDS)."""
    picked = [activity.get(name) for name in FINGERPRINT_FIELDS]
    canonical = json.dumps(picked, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _pick(source: Mapping[str, Any], fields: Sequence[tuple[str, str]]) -> dict[str, float]:
    picked: dict[str, float] = {}
    for theirs, ours in fields:
        number = _number(source.get(theirs))
        if number is not None:
            picked[ours] = number
    return picked


def _items(value: Any, what: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise MappingError(f"{what} must be an array of objects")
    return value


def map_laps(laps: Any, start_at: datetime) -> list[dict[str, Any]]:
    """Laps as reported, each with its start as an offset in seconds from the activity's start."""
    mapped: list[dict[str, Any]] = []
    for position, lap in enumerate(_items(laps, "laps"), start=1):
        index = lap.get("lap_index")
        entry: dict[str, Any] = {
            "index": index if isinstance(index, int) and not isinstance(index, bool) else position
        }
        name = _text(lap.get("name"))
        if name is not None:
            entry["name"] = name
        if isinstance(lap.get("start_date"), str):
            offset = (_moment(lap["start_date"], "lap start_date") - start_at).total_seconds()
            entry["start_offset_s"] = offset
        entry.update(_pick(lap, LAP_FIELDS))
        mapped.append(entry)
    return mapped


def map_splits(splits: Any) -> list[dict[str, Any]]:
    """Per-km splits exactly as Strava reports them, the partial last one included."""
    mapped: list[dict[str, Any]] = []
    for position, split in enumerate(_items(splits, "splits_metric"), start=1):
        number = split.get("split")
        entry: dict[str, Any] = {
            "split": number
            if isinstance(number, int) and not isinstance(number, bool)
            else position
        }
        entry.update(_pick(split, SPLIT_FIELDS))
        mapped.append(entry)
    return mapped


def _details(
    activity: Mapping[str, Any], start_at: datetime, laps: Any, label: str | None
) -> dict[str, Any]:
    details: dict[str, Any] = {"provider_sport": label, "fingerprint": fingerprint(activity)}
    name = _text(activity.get("name"))
    if name is not None:
        details["name"] = name
    for flag in ("trainer", "commute", "manual", "device_watts"):
        if isinstance(activity.get(flag), bool):
            details[flag] = activity[flag]
    workout_type = activity.get("workout_type")
    if isinstance(workout_type, int) and not isinstance(workout_type, bool):
        details["workout_type"] = workout_type
    timezone = _text(activity.get("timezone"))
    if timezone is not None:
        details["timezone"] = timezone
    mapped_laps = map_laps(laps if laps is not None else activity.get("laps"), start_at)
    if mapped_laps:
        details["laps"] = mapped_laps
    splits = map_splits(activity.get("splits_metric"))
    if splits:
        details["splits_metric"] = splits
    return details


def workout_fields(
    activity: Mapping[str, Any], *, laps: Any = None, streams: Any = None
) -> WorkoutFields:
    """One Strava activity as a workout.

    `laps` (GET /activities/{id}/laps) is only needed when the detail came
    without them; `streams` (GET /activities/{id}/streams, either form) may be
    None. Raises MappingError when the activity or its streams cannot be
    trusted as a whole.
    """
    if not isinstance(activity, Mapping):
        raise MappingError("activity must be an object")
    activity_id(activity)
    start_at = _moment(activity.get("start_date"), "start_date")
    elapsed = _number(activity.get("elapsed_time"))
    if elapsed is None or elapsed <= 0:
        raise MappingError("elapsed_time must be a positive number")
    if elapsed > MAX_ELAPSED_S:
        raise MappingError("elapsed_time is longer than 30 days")
    metrics = _pick(activity, METRICS)
    label = provider_sport(activity)
    details = _details(activity, start_at, laps, label)
    if activity.get("device_watts") is False:
        estimated = {k: metrics.pop(k) for k in sorted(POWER_METRICS) if k in metrics}
        if estimated:
            details["estimated_power"] = estimated
    return WorkoutFields(
        sport=aurora_sport(label),
        start_at=start_at,
        end_at=start_at + timedelta(seconds=elapsed),
        duration_s=elapsed,
        tz_offset_min=tz_offset_minutes(activity),
        metrics=metrics,
        origin_device=origin_device(activity),
        details=details,
        samples=samples_from_streams(streams) if streams is not None else None,
    )


@dataclass(frozen=True)
class ActivitySummary:
    """What a list page (SummaryActivity) says, enough to decide on a detail fetch."""

    activity_id: int
    athlete_id: str | None
    start_at: datetime
    fingerprint: str

    def needs_fetch(self, stored_fingerprint: str | None) -> bool:
        """Unknown, or changed since it was stored (renamed, re-typed, cropped...)."""
        return stored_fingerprint != self.fingerprint


def summary_of(item: Any) -> ActivitySummary:
    if not isinstance(item, Mapping):
        raise MappingError("activity list item must be an object")
    return ActivitySummary(
        activity_id=activity_id(item),
        athlete_id=athlete_id(item),
        start_at=_moment(item.get("start_date"), "start_date"),
        fingerprint=fingerprint(item),
    )
