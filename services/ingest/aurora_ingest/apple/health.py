"""Daily vitals, sleep nights and activity rings: per source, per day, in bounded memory.

Decisions:
- Resting HR, HRV SDNN, VO2max and respiratory rate become one `daily` record per
  origin device per local day, not `recovery`: they are measurements, not a
  recovery score, and dedup elects one primary *recovery* per day, where an
  Apple vitals record must not compete with WHOOP's or Oura's scores.
- Sleep stages become one `sleep` record per origin device per night. Sources
  are never merged: the Watch, the iPhone's InBed and Oura overlap on the same
  night and stay separate records, and dedup picks by health priority.
  A stage belongs to the night of the local day on which `end + 6 h` falls:
  a night ending in the morning and an afternoon nap count for that day, a
  stage ending before midnight counts for the next morning.
- `ActivitySummary` (the rings) is computed by Apple Health itself, so its
  daily record has no origin device.

Only sums and counts are kept per (source, day), so memory grows with the
number of days in the export, never with the number of samples.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field

from aurora_ingest.apple.dates import offset_minutes, parse_date, parse_day
from aurora_ingest.apple.parser import Node
from aurora_ingest.records.rules import HealthFields

DAILY_METRICS = {
    "resting_hr": "resting_hr",
    "hrv_sdnn": "hrv_sdnn_ms",
    "vo2max": "vo2max",
    "respiratory_rate": "respiratory_rate",
}
SLEEP_PREFIX = "HKCategoryValueSleepAnalysis"
# Apple's stage value -> metric holding its seconds.
SLEEP_STAGES = {
    "InBed": "in_bed_s",
    "Asleep": "asleep_unspecified_s",
    "AsleepUnspecified": "asleep_unspecified_s",
    "AsleepCore": "core_s",
    "AsleepDeep": "deep_s",
    "AsleepREM": "rem_s",
    "Awake": "awake_s",
}
ASLEEP = ("asleep_unspecified_s", "core_s", "deep_s", "rem_s")
NIGHT_SHIFT = dt.timedelta(hours=6)


def external_id(*parts: str) -> str:
    """Stable across re-imports of the same or a newer export: a hash of what identifies it."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass
class _Daily:
    first_offset_min: int
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Night:
    start: dt.datetime
    end: dt.datetime
    seconds: dict[str, float] = field(default_factory=dict)
    samples: int = 0


@dataclass
class HealthAccumulator:
    """Fed sample by sample while the file streams; turned into records at the end."""

    daily: dict[tuple[str, str], _Daily] = field(default_factory=dict)
    nights: dict[tuple[str, dt.date], _Night] = field(default_factory=dict)
    rings: dict[dt.date, HealthFields] = field(default_factory=dict)

    def add_daily(self, origin: str, kind: str, start: str, value: float) -> None:
        """`start` is Apple's local date string; its first ten characters are the local day."""
        key = (origin, start[:10])
        entry = self.daily.get(key)
        if entry is None:
            sign = -1 if start[20] == "-" else 1
            minutes = sign * (int(start[21:23]) * 60 + int(start[23:25]))
            entry = self.daily[key] = _Daily(minutes)
        entry.sums[kind] = entry.sums.get(kind, 0.0) + value
        entry.counts[kind] = entry.counts.get(kind, 0) + 1

    def add_sleep(self, origin: str, node: Node) -> bool:
        """False for a sleep value this import does not know (kept out, counted as skipped)."""
        attrs = node[1]
        stage = SLEEP_STAGES.get(attrs.get("value", "").removeprefix(SLEEP_PREFIX))
        if stage is None:
            return False
        start = parse_date(attrs.get("startDate", ""), "SleepAnalysis startDate")
        end = parse_date(attrs.get("endDate", ""), "SleepAnalysis endDate")
        if end < start:
            return False
        key = (origin, (end + NIGHT_SHIFT).date())
        night = self.nights.get(key)
        if night is None:
            night = self.nights[key] = _Night(start, end)
        night.start = min(night.start, start)
        night.end = max(night.end, end)
        night.seconds[stage] = night.seconds.get(stage, 0.0) + (end - start).total_seconds()
        night.samples += 1
        return True

    def add_summary(self, node: Node) -> None:
        attrs = node[1]
        day = parse_day(attrs.get("dateComponents", ""), "ActivitySummary dateComponents")
        metrics: dict[str, float | None] = {}
        for attr, name in (
            ("activeEnergyBurned", "active_energy_kj"),
            ("activeEnergyBurnedGoal", "active_energy_goal_kj"),
            ("appleMoveTime", "move_time_s"),
            ("appleMoveTimeGoal", "move_time_goal_s"),
            ("appleExerciseTime", "exercise_s"),
            ("appleExerciseTimeGoal", "exercise_goal_s"),
            ("appleStandHours", "stand_hours"),
            ("appleStandHoursGoal", "stand_hours_goal"),
        ):
            metrics[name] = _number(attrs.get(attr))
        energy_unit = attrs.get("activeEnergyBurnedUnit", "kcal")
        scale = 1.0 if energy_unit == "kJ" else 4.184  # "kcal" and "Cal" are the same unit
        for name in ("active_energy_kj", "active_energy_goal_kj"):
            if metrics[name] is not None:
                metrics[name] = round(float(metrics[name] or 0.0) * scale, 3)
        for name in ("move_time_s", "move_time_goal_s", "exercise_s", "exercise_goal_s"):
            if metrics[name] is not None:
                metrics[name] = float(metrics[name] or 0.0) * 60.0  # minutes in the export
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        self.rings[day] = HealthFields(
            kind="daily",
            date=day,
            start_at=start,
            end_at=start + dt.timedelta(days=1),
            tz_offset_min=None,
            metrics={k: v for k, v in metrics.items() if v is not None},
            origin_device=None,
            details={"apple_type": "ActivitySummary"},
        )

    def records(self) -> list[tuple[str, HealthFields]]:
        """(external id, fields) of every daily, sleep and rings record gathered."""
        out: list[tuple[str, HealthFields]] = []
        for (origin, day_text), daily in sorted(self.daily.items()):
            day = dt.date.fromisoformat(day_text)
            zone = dt.timezone(dt.timedelta(minutes=daily.first_offset_min))
            start = dt.datetime.combine(day, dt.time(), zone)
            metrics: dict[str, float | None] = {
                DAILY_METRICS[kind]: round(total / daily.counts[kind], 3)
                for kind, total in sorted(daily.sums.items())
            }
            out.append(
                (
                    external_id("daily", origin, day_text),
                    HealthFields(
                        kind="daily",
                        date=day,
                        start_at=start,
                        end_at=start + dt.timedelta(days=1),
                        tz_offset_min=daily.first_offset_min,
                        metrics=metrics,
                        origin_device=origin,
                        details={"samples": dict(sorted(daily.counts.items()))},
                    ),
                )
            )
        for (origin, day), night in sorted(self.nights.items()):
            if night.end <= night.start:
                continue
            metrics = {name: night.seconds[name] for name in sorted(night.seconds)}
            asleep = [night.seconds[name] for name in ASLEEP if name in night.seconds]
            if asleep:
                metrics["asleep_s"] = sum(asleep)
            out.append(
                (
                    external_id("sleep", origin, day.isoformat()),
                    HealthFields(
                        kind="sleep",
                        date=day,
                        start_at=night.start,
                        end_at=night.end,
                        tz_offset_min=offset_minutes(night.end),
                        metrics=metrics,
                        origin_device=origin,
                        details={"stages_sampled": night.samples},
                    ),
                )
            )
        for day, fields in sorted(self.rings.items()):
            out.append((external_id("activity-summary", day.isoformat()), fields))
        return out


def _number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
