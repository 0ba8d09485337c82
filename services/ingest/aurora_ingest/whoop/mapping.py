"""WHOOP v2 payloads onto Aurora records: pure functions, no I/O, tested exhaustively.

Decisions worth knowing:

- External ids carry the kind ("workout:<uuid>", "sleep:<uuid>",
  "recovery:<sleep uuid>", "daily:<cycle id>") because (user, source,
  external_id) is unique across kinds and a recovery is identified by its
  sleep's UUID (that is what v2 `recovery.*` webhooks name).
- WHOOP recorded everything it sends, so origin_device is null (the source
  itself, DESIGN.md §3), never "WHOOP".
- Until WHOOP has scored an object (PENDING_SCORE, UNSCORABLE, or a state it
  adds later) the record keeps its timing with no score metrics, and
  details["score_state"] says why; a later scored update fills them in place.
- Days. A night's sleep (and a nap) counts for the local date it ends on, the
  convention of the other sleep sources. A WHOOP cycle starts when the athlete
  falls asleep, usually the evening before the day it describes and sometimes
  after midnight, so its day is the local date of its start plus 12 hours:
  any sleep onset between noon and the next noon lands on the morning after.
  (The plain local date of the start would flip between two dates for a
  bedtime around midnight.) Recovery and the daily view use the cycle's day.
- The daily view is keyed by cycle ("daily:<cycle id>"): the cycle is WHOOP's
  own unit of a day, its id is stable while its end and score still change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from aurora_ingest.records.rules import SPORTS, HealthFields, WorkoutFields
from aurora_ingest.whoop.schemas import SCORED, Cycle, Recovery, Sleep, Workout


class WhoopMappingError(ValueError):
    """A payload that validates but cannot be a record (e.g. it ends before it starts)."""


# WHOOP v2 sport names (lower case; "-"/"_" read as spaces) onto records.SPORTS.
WHOOP_SPORTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "running": "run",
        "trail running": "trail_run",
        "cycling": "ride",
        "road cycling": "ride",
        # Indoor bike classes: "ride" (the parent) matches a Zwift or trainer
        # recording of the same session from another source.
        "spin": "ride",
        "indoor cycling": "ride",
        "mountain biking": "mountain_bike",
        "swimming": "swim",
        "walking": "walk",
        "hiking/rucking": "hike",
        "hiking": "hike",
        "rucking": "hike",
        "rowing": "row",
        "weightlifting": "strength",
        "powerlifting": "strength",
        "functional fitness": "strength",
        "strength trainer": "strength",
        "yoga": "yoga",
        "hot yoga": "yoga",
        "skiing": "ski",
        "cross country skiing": "nordic_ski",
        "elliptical": "elliptical",
    }
)
# The deprecated numeric sport ids, only used when a payload has no sport_name.
WHOOP_SPORT_IDS: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "run",
        1: "ride",
        18: "row",
        29: "ski",
        33: "swim",
        44: "yoga",
        45: "strength",
        47: "nordic_ski",
        48: "strength",
        52: "hike",
        57: "mountain_bike",
        59: "strength",
        63: "walk",
        65: "elliptical",
        97: "ride",
    }
)
assert set(WHOOP_SPORTS.values()) <= set(SPORTS)
assert set(WHOOP_SPORT_IDS.values()) <= set(SPORTS)

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
MIN_OFFSET_MIN = -12 * 60
MAX_OFFSET_MIN = 14 * 60
# Shifts a cycle's start (sleep onset) onto the day it describes; see the module doc.
CYCLE_DAY_SHIFT = timedelta(hours=12)
_MS = 1000.0


def workout_external_id(workout_id: object) -> str:
    return f"workout:{workout_id}"


def sleep_external_id(sleep_id: object) -> str:
    return f"sleep:{sleep_id}"


def recovery_external_id(sleep_id: object) -> str:
    return f"recovery:{sleep_id}"


def daily_external_id(cycle_id: int) -> str:
    return f"daily:{cycle_id}"


def normalise_sport_name(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def sport_of(sport_name: str | None, sport_id: int | None) -> tuple[str, str | None]:
    """(Aurora sport, WHOOP's own label); unknown sports are "other", never rejected."""
    if sport_name and sport_name.strip():
        return WHOOP_SPORTS.get(normalise_sport_name(sport_name), "other"), sport_name.strip()
    if sport_id is not None:
        return WHOOP_SPORT_IDS.get(sport_id, "other"), f"sport_id:{sport_id}"
    return "other", None


def offset_minutes(value: str | None) -> int | None:
    """WHOOP's time zone designator ('+hh:mm', '-hh:mm' or 'Z') in minutes; None when unusable."""
    if value is None:
        return None
    text = value.strip()
    if text in ("Z", "z"):
        return 0
    match = _OFFSET.match(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        return None
    total = int(hours) * 60 + int(minutes)
    total = -total if sign == "-" else total
    return total if MIN_OFFSET_MIN <= total <= MAX_OFFSET_MIN else None


def utc(moment: datetime) -> datetime:
    """UTC; WHOOP documents UTC for a time without an offset."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_date(moment: datetime, offset_min: int | None) -> date:
    return (utc(moment) + timedelta(minutes=offset_min or 0)).date()


def cycle_day(cycle: Cycle) -> date:
    return local_date(utc(cycle.start) + CYCLE_DAY_SHIFT, offset_minutes(cycle.timezone_offset))


def sleep_day(sleep: Sleep) -> date:
    return local_date(sleep.end or sleep.start, offset_minutes(sleep.timezone_offset))


def _timing(start: datetime, end: datetime | None, what: str) -> tuple[datetime, datetime | None]:
    start_at = utc(start)
    end_at = utc(end) if end is not None else None
    if end_at is not None and end_at <= start_at:
        raise WhoopMappingError(f"{what} ends at or before its start")
    return start_at, end_at


def _put(metrics: dict[str, float], name: str, value: float | None, scale: float = 1.0) -> None:
    if value is not None:
        metrics[name] = float(value) / scale


def _scored(state: str, score: object) -> bool:
    return state == SCORED and score is not None


ZONE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("zone_zero_milli", "hr_zone_0_s"),
    ("zone_one_milli", "hr_zone_1_s"),
    ("zone_two_milli", "hr_zone_2_s"),
    ("zone_three_milli", "hr_zone_3_s"),
    ("zone_four_milli", "hr_zone_4_s"),
    ("zone_five_milli", "hr_zone_5_s"),
)


def map_workout(workout: Workout) -> WorkoutFields:
    start_at, end_at = _timing(workout.start, workout.end, "workout")
    assert end_at is not None  # a workout always has an end in v2
    sport, label = sport_of(workout.sport_name, workout.sport_id)
    metrics: dict[str, float] = {}
    score = workout.score
    if _scored(workout.score_state, score) and score is not None:
        _put(metrics, "strain", score.strain)
        _put(metrics, "avg_hr", score.average_heart_rate)
        _put(metrics, "max_hr", score.max_heart_rate)
        # Energy expenditure (metabolic), unlike Strava's mechanical "kilojoules".
        _put(metrics, "energy_kj", score.kilojoule)
        _put(metrics, "distance_m", score.distance_meter)
        _put(metrics, "elevation_gain_m", score.altitude_gain_meter)
        _put(metrics, "altitude_change_m", score.altitude_change_meter)
        _put(metrics, "percent_recorded", score.percent_recorded)
        if score.zone_durations is not None:
            for field, name in ZONE_FIELDS:
                _put(metrics, name, getattr(score.zone_durations, field), _MS)
    details: dict[str, Any] = {"score_state": workout.score_state}
    if label is not None:
        details["provider_sport"] = label
    if workout.v1_id is not None:
        details["v1_id"] = workout.v1_id
    return WorkoutFields(
        sport=sport,
        start_at=start_at,
        end_at=end_at,
        duration_s=(end_at - start_at).total_seconds(),
        tz_offset_min=offset_minutes(workout.timezone_offset),
        metrics=metrics,
        origin_device=None,
        details=details,
    )


STAGE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("total_in_bed_time_milli", "in_bed_s"),
    ("total_awake_time_milli", "awake_s"),
    ("total_no_data_time_milli", "no_data_s"),
    ("total_light_sleep_time_milli", "light_sleep_s"),
    ("total_slow_wave_sleep_time_milli", "deep_sleep_s"),
    ("total_rem_sleep_time_milli", "rem_sleep_s"),
)
NEED_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("baseline_milli", "baseline_s"),
    ("need_from_sleep_debt_milli", "from_sleep_debt_s"),
    ("need_from_recent_strain_milli", "from_recent_strain_s"),
    ("need_from_recent_nap_milli", "from_recent_nap_s"),
)


def sleep_metrics(sleep: Sleep) -> tuple[dict[str, float], dict[str, Any]]:
    """Score metrics (empty until scored) and the sleep-need breakdown for details."""
    metrics: dict[str, float] = {}
    extra: dict[str, Any] = {}
    score = sleep.score
    if not _scored(sleep.score_state, score) or score is None:
        return metrics, extra
    stages = score.stage_summary
    if stages is not None:
        for field, name in STAGE_FIELDS:
            _put(metrics, name, getattr(stages, field), _MS)
        parts = ("light_sleep_s", "deep_sleep_s", "rem_sleep_s")
        if all(part in metrics for part in parts):
            metrics["asleep_s"] = sum(metrics[part] for part in parts)
        _put(metrics, "sleep_cycles", stages.sleep_cycle_count)
        _put(metrics, "disturbances", stages.disturbance_count)
    _put(metrics, "respiratory_rate", score.respiratory_rate)
    _put(metrics, "sleep_performance_pct", score.sleep_performance_percentage)
    _put(metrics, "sleep_consistency_pct", score.sleep_consistency_percentage)
    _put(metrics, "sleep_efficiency_pct", score.sleep_efficiency_percentage)
    need = score.sleep_needed
    if need is not None:
        breakdown: dict[str, float] = {}
        for field, name in NEED_FIELDS:
            _put(breakdown, name, getattr(need, field), _MS)
        if breakdown:
            metrics["sleep_need_s"] = sum(breakdown.values())
            extra["sleep_need"] = breakdown
    return metrics, extra


def map_sleep(sleep: Sleep) -> HealthFields:
    """A sleep or a nap; a nap stays its own record (metrics["nap"] = 1) and never feeds a day."""
    start_at, end_at = _timing(sleep.start, sleep.end, "sleep")
    metrics, extra = sleep_metrics(sleep)
    all_metrics: dict[str, float | None] = {"nap": 1.0 if sleep.nap else 0.0, **metrics}
    details: dict[str, Any] = {"score_state": sleep.score_state, "nap": sleep.nap, **extra}
    if sleep.cycle_id is not None:
        details["cycle_id"] = sleep.cycle_id
    return HealthFields(
        kind="sleep",
        date=sleep_day(sleep),
        start_at=start_at,
        end_at=end_at,
        tz_offset_min=offset_minutes(sleep.timezone_offset),
        metrics=all_metrics,
        origin_device=None,
        details=details,
    )


def recovery_metrics(recovery: Recovery) -> dict[str, float]:
    metrics: dict[str, float] = {}
    score = recovery.score
    if not _scored(recovery.score_state, score) or score is None:
        return metrics
    _put(metrics, "recovery_score", score.recovery_score)
    _put(metrics, "resting_hr", score.resting_heart_rate)
    _put(metrics, "hrv_rmssd_ms", score.hrv_rmssd_milli)
    _put(metrics, "spo2_pct", score.spo2_percentage)
    _put(metrics, "skin_temp_c", score.skin_temp_celsius)
    return metrics


def map_recovery(recovery: Recovery, cycle: Cycle) -> HealthFields:
    """A recovery has no time of its own: it describes its cycle's day, so it takes the cycle's."""
    if recovery.cycle_id != cycle.id:
        raise WhoopMappingError("recovery and cycle do not belong together")
    start_at, end_at = _timing(cycle.start, cycle.end, "cycle")
    details: dict[str, Any] = {
        "score_state": recovery.score_state,
        "cycle_id": cycle.id,
        "sleep_id": str(recovery.sleep_id),
    }
    if recovery.score is not None and recovery.score.user_calibrating is not None:
        details["user_calibrating"] = recovery.score.user_calibrating
    return HealthFields(
        kind="recovery",
        date=cycle_day(cycle),
        start_at=start_at,
        end_at=end_at,
        tz_offset_min=offset_minutes(cycle.timezone_offset),
        metrics=dict(recovery_metrics(recovery)),
        origin_device=None,
        details=details,
    )


def cycle_metrics(cycle: Cycle) -> dict[str, float]:
    """The day's strain and energy; an in-progress cycle's score is provisional but shown."""
    metrics: dict[str, float] = {}
    score = cycle.score
    if score is None or cycle.score_state != SCORED:
        return metrics
    _put(metrics, "day_strain", score.strain)
    _put(metrics, "energy_kj", score.kilojoule)
    _put(metrics, "avg_hr", score.average_heart_rate)
    _put(metrics, "max_hr", score.max_heart_rate)
    return metrics


# Sleep metrics that make sense in a one-line view of the day.
DAILY_SLEEP_METRICS: Final[tuple[str, ...]] = (
    "asleep_s",
    "in_bed_s",
    "sleep_need_s",
    "sleep_performance_pct",
    "sleep_efficiency_pct",
    "sleep_consistency_pct",
    "respiratory_rate",
)


def merge_daily(cycle: Cycle, recovery: Recovery | None, sleep: Sleep | None) -> HealthFields:
    """WHOOP's day in one record (DESIGN.md §3): cycle strain, its recovery, its main sleep.

    Parts that do not belong to this cycle, and naps, are left out rather than
    trusted: a nap never starts a cycle nor earns a recovery. What is missing
    or unscored simply leaves its metrics out; details["parts"] says which
    parts the view was built from.
    """
    start_at, end_at = _timing(cycle.start, cycle.end, "cycle")
    metrics: dict[str, float | None] = dict(cycle_metrics(cycle))
    parts = ["cycle"]
    states: dict[str, str] = {"cycle": cycle.score_state}
    details: dict[str, Any] = {"cycle_id": cycle.id}
    if recovery is not None and recovery.cycle_id == cycle.id:
        metrics.update(recovery_metrics(recovery))
        parts.append("recovery")
        states["recovery"] = recovery.score_state
        details["recovery_sleep_id"] = str(recovery.sleep_id)
    if sleep is not None and not sleep.nap and sleep.cycle_id in (None, cycle.id):
        scored, _ = sleep_metrics(sleep)
        metrics.update({k: scored[k] for k in DAILY_SLEEP_METRICS if k in scored})
        parts.append("sleep")
        states["sleep"] = sleep.score_state
        details["sleep_id"] = str(sleep.id)
    details["parts"] = parts
    details["score_state"] = states
    return HealthFields(
        kind="daily",
        date=cycle_day(cycle),
        start_at=start_at,
        end_at=end_at,
        tz_offset_min=offset_minutes(cycle.timezone_offset),
        metrics=metrics,
        origin_device=None,
        details=details,
    )
