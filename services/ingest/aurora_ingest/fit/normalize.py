"""A decoded FIT activity onto workouts: one per session. Pure: no I/O.

Decisions worth knowing:
- File type: a stream is an activity when any of its chained files' `file_id`
  says so (an activity chained with a settings file is an activity); otherwise
  NotAnActivityError names what it is. A stream whose file_ids name no type at
  all (or that has none) is accepted only when it holds sessions or records.
- One workout per session, sessions ordered by start time, so a file whose
  summaries come before its records (Garmin triathlons) gives the same result
  as one with summaries last. Transitions stay workouts, sport "other" with
  details["transition"]; every session carries session_index, sessions_total
  and parent_activity (the file key) so a multisport's legs group.
- external_id is "<file key>:<session index>". The key comes from file_id
  (manufacturer, product, serial, time_created), which survive re-exports that
  change the bytes; without time_created, the file's SHA-256 is the key.
- A session's samples, laps, lengths and HRV are those timed inside it: from its
  start to the next session's start (and no later than its own end). Records
  after the last session's end still belong to it (the records are the data, a
  summary can be stale: details["samples_after_end"]); records before the first
  session's start stay out, counted in details["records_before_start"].
- No session message (a recording never finalised: SDK "activity_truncated",
  WithGearChangeData): one workout spans the records, flagged salvaged with
  the reason; its sport comes from a `sport` message when there is one.
- Device-relative clocks (FR70): see timing.py; such workouts have no zone and
  details["time_reference"] says their times are approximate.
- tz_offset_min is activity.local_timestamp - activity.timestamp.
- Developer fields are summarised (field name -> how many messages carry it, and
  the session's own values); the raw file keeps every value.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aurora_ingest.fit import samples as sampling
from aurora_ingest.fit.devices import Device, device_of, is_creator
from aurora_ingest.fit.messages import FitDecodeError, FitFile
from aurora_ingest.fit.sports import aurora_sport, is_transition, labels
from aurora_ingest.fit.summaries import (
    developer_summary,
    json_safe,
    lap_entries,
    length_entries,
    metrics_of,
    record_metrics,
)
from aurora_ingest.fit.timing import Clock, relative, timeline, tz_offset
from aurora_ingest.records.rules import WorkoutFields

_UNIX_EPOCH: Final[datetime] = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ELAPSED_S: Final[float] = 30 * 24 * 3600.0
END_TOLERANCE_S: Final[float] = 1.0  # start_time is whole seconds, elapsed time is not
NO_SESSION_REASON: Final[str] = (
    "the file holds no session message (the recording was not finalised); "
    "the workout spans its records"
)


class NotAnActivityError(Exception):
    """A valid FIT file that records no activity (monitoring, settings, a workout plan...)."""

    def __init__(self, file_type: str) -> None:
        super().__init__(f"this is a {file_type} file, not an activity")
        self.file_type = file_type


@dataclass(frozen=True)
class FitWorkout:
    external_id: str
    fields: WorkoutFields


@dataclass
class _Parts:
    """The messages the normaliser reads, bucketed in one pass over the file."""

    file_ids: list[Mapping[str, Any]]
    creator: Mapping[str, Any] | None
    activity: Mapping[str, Any] | None
    sport: Mapping[str, Any] | None
    sessions: list[tuple[Mapping[str, Any], Mapping[str, Any]]]  # (fields, developer fields)
    laps: list[Mapping[str, Any]]
    lengths: list[Mapping[str, Any]]
    records: list[Mapping[str, Any]]
    hr: list[Mapping[str, Any]]
    hrv: list[tuple[int, Any]]  # (records seen before it, R-R values)
    developer: dict[str, Counter[str]]


def _collect(fit: FitFile) -> _Parts:
    parts = _Parts([], None, None, None, [], [], [], [], [], [], {})
    records = parts.records
    for message in fit.messages:
        name = message.name
        if name == "record":
            records.append(message.fields)
        elif name == "hr":
            parts.hr.append(message.fields)
        elif name == "hrv":
            # hrv messages carry no timestamp: they belong where they sit in the stream.
            parts.hrv.append((len(records), message.fields.get("time")))
        elif name == "lap":
            parts.laps.append(message.fields)
        elif name == "length":
            parts.lengths.append(message.fields)
        elif name == "session":
            parts.sessions.append((message.fields, message.developer_fields))
        elif name == "file_id":
            parts.file_ids.append(message.fields)
        elif name == "device_info":
            if parts.creator is None and is_creator(message.fields):
                parts.creator = message.fields
        elif name == "activity":
            parts.activity = parts.activity or message.fields
        elif name == "sport":
            parts.sport = parts.sport or message.fields
        if message.developer_fields:
            counts = parts.developer.setdefault(name, Counter())
            counts.update(str(key) for key in message.developer_fields)
    return parts


def _check_activity(parts: _Parts) -> None:
    types = [f.get("type") for f in parts.file_ids]
    if "activity" in types:
        return
    named = [str(t) for t in types if t is not None]
    if not named and (parts.sessions or parts.records):
        return  # no file says what it is, but it recorded something
    raise NotAnActivityError(named[0] if named else "unknown")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _file_key(parts: _Parts, device: Device, sha256: str, clock: Clock) -> str:
    file_id = next((f for f in parts.file_ids if f.get("type") == "activity"), None)
    created = file_id.get("time_created") if file_id is not None else None
    if isinstance(created, datetime):
        moment = str(int(created.timestamp()))
    elif relative(created):
        moment = f"r{created}"
    else:
        return f"sha256-{sha256}"
    serial = str(device.serial) if device.serial is not None else "-"
    return f"{device.manufacturer or '-'}-{device.product or '-'}-{serial}-{moment}"


@dataclass(frozen=True)
class _Window:
    fields: Mapping[str, Any]
    developer: Mapping[str, Any]
    start: float
    end: float


def _windows(parts: _Parts, clock: Clock, times: list[float]) -> list[_Window]:
    found: list[_Window] = []
    for fields, developer in parts.sessions:
        stamp = clock(fields.get("timestamp"))
        elapsed = _number(fields.get("total_elapsed_time"))
        if elapsed is not None and not 0 < elapsed <= MAX_ELAPSED_S:
            elapsed = None
        start = clock(fields.get("start_time"))
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        if start is None:
            continue
        end = start + elapsed if elapsed is not None else stamp
        if end is None or end <= start:
            continue
        found.append(_Window(fields, developer, start, end))
    found.sort(key=lambda w: w.start)
    return found


def _span(times: list[float], window: _Window, next_start: float | None) -> tuple[int, int]:
    lo = bisect_left(times, window.start)
    hi = bisect_right(times, window.end + END_TOLERANCE_S)
    if next_start is not None:
        hi = min(hi, bisect_left(times, next_start))
    return lo, max(lo, hi)


def _session_of(starts: list[float], moment: float | None) -> int | None:
    if moment is None:
        return None
    index = bisect_right(starts, moment) - 1
    return index if index >= 0 else None


def _group(items: list[Mapping[str, Any]], starts: list[float], clock: Clock) -> list[list[Any]]:
    """Laps or lengths per session, by their own start time."""
    grouped: list[list[Any]] = [[] for _ in starts]
    for fields in items:
        start = clock(fields.get("start_time"))
        if start is None:
            stamp, elapsed = (
                clock(fields.get("timestamp")),
                _number(fields.get("total_elapsed_time")),
            )
            start = stamp - elapsed if stamp is not None and elapsed is not None else stamp
        index = _session_of(starts, start)
        if index is not None:
            grouped[index].append((start, fields))
    return grouped


@dataclass(frozen=True)
class _Shared:
    """What every session of the file shares."""

    key: str
    device: Device
    tz_offset: int | None
    total: int
    developer: dict[str, Any]
    time_reference: dict[str, Any] | None
    salvage_reason: str | None


def _details(
    shared: _Shared, index: int, sport: str | None, sub_sport: str | None
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "provider_sport": sport,
        "provider_sub_sport": sub_sport,
        "session_index": index,
        "sessions_total": shared.total,
        "parent_activity": shared.key,
        "transition": is_transition(sport, sub_sport),
        "device": shared.device.as_details(),
    }
    if shared.developer:
        details["developer_fields"] = shared.developer
    if shared.time_reference is not None:
        details["time_reference"] = shared.time_reference
    if shared.salvage_reason is not None:
        details["salvaged"] = True
        details["salvage_reason"] = shared.salvage_reason
    return details


def _moment(unix: float) -> datetime:
    return _UNIX_EPOCH + timedelta(seconds=unix)


def _with_samples(
    details: dict[str, Any],
    rows: list[Any],
    times: list[float],
    start: float,
    beats: tuple[list[float], list[int]],
) -> Any:
    built = sampling.build(rows, times, start)
    if built is not None and beats[0]:
        filled = sampling.merge_hr(built, times, *beats)
        if filled:
            details["hr_merged_samples"] = filled
    return built


def workouts_of(
    fit: FitFile, *, sha256: str, salvage_reason: str | None = None
) -> list[FitWorkout]:
    """Every session of an activity file as a workout, in start order.

    Raises NotAnActivityError for other file types and FitDecodeError for an
    activity that cannot become a workout (nothing recorded, no wall clock).
    `salvage_reason` marks workouts built from a readable prefix of a broken file.
    """
    parts = _collect(fit)
    _check_activity(parts)
    clock = Clock(parts.activity)
    records, times = timeline(parts.records, clock)
    windows = _windows(parts, clock, times)
    device = device_of(next(iter(parts.file_ids), {}), parts.creator)
    if not windows and not records:
        raise FitDecodeError("the activity holds no session and no timed record")
    time_reference = None
    if clock.relative_seen:
        time_reference = {
            "clock": "device_relative",
            "anchor": "activity.local_timestamp",
            "approximate": True,
        }
    developer = developer_summary(parts.developer, windows[0].developer if windows else {})
    shared = _Shared(
        key=_file_key(parts, device, sha256, clock),
        device=device,
        tz_offset=None if clock.relative_seen else tz_offset(parts.activity),
        total=len(windows) or 1,
        developer=developer,
        time_reference=time_reference,
        salvage_reason=salvage_reason if windows else (salvage_reason or NO_SESSION_REASON),
    )
    beats = sampling.beats(parts.hr, clock) if parts.hr else ([], [])
    if not windows:
        return [
            _from_records(parts, shared, records=records, times=times, beats=beats, clock=clock)
        ]
    return _from_sessions(
        parts, shared, windows=windows, records=records, times=times, beats=beats, clock=clock
    )


def _from_sessions(
    parts: _Parts,
    shared: _Shared,
    *,
    windows: list[_Window],
    records: list[Any],
    times: list[float],
    beats: tuple[list[float], list[int]],
    clock: Clock,
) -> list[FitWorkout]:
    starts = [w.start for w in windows]
    laps = _group(parts.laps, starts, clock)
    lengths = _group(parts.lengths, starts, clock)
    rr: list[list[float]] = [[] for _ in windows]
    for seen, values in parts.hrv:
        at = times[seen - 1] if 0 < seen <= len(times) else (times[0] if times else None)
        index = _session_of(starts, at) if at is not None else 0
        rr[index or 0].extend(sampling.rr_intervals(values))
    out: list[FitWorkout] = []
    for index, window in enumerate(windows):
        next_start = starts[index + 1] if index + 1 < len(windows) else None
        lo, hi = _span(times, window, next_start)
        if next_start is None and hi < len(times):
            # The recording outlives the last summary (a stale or bogus elapsed time):
            # the records are the data, so they stay, flagged; the summary keeps its span.
            details_extra: dict[str, int] = {"samples_after_end": len(times) - hi}
            hi = len(times)
        else:
            details_extra = {}
        sport, sub_sport = labels(window.fields.get("sport"), window.fields.get("sub_sport"))
        if index == 0 and lo > 0:
            # Records before the first session's start_time stay out (its summary says the
            # session had not begun); the count says what the raw file holds beyond it.
            details_extra["records_before_start"] = lo
        details = _details(shared, index, sport, sub_sport) | details_extra
        profile = window.fields.get("sport_profile_name")
        if isinstance(profile, str) and profile.strip():
            details["sport_profile_name"] = json_safe(profile)
        if laps[index]:
            details["laps"] = lap_entries(laps[index], window.start)
        if lengths[index]:
            details["lengths"] = length_entries(lengths[index], window.start)
        if rr[index]:
            details["hrv_rr_s"] = rr[index]
        samples = _with_samples(details, records[lo:hi], times[lo:hi], window.start, beats)
        duration = round(window.end - window.start, 3)
        out.append(
            FitWorkout(
                external_id=f"{shared.key}:{index}",
                fields=WorkoutFields(
                    sport=aurora_sport(sport, sub_sport),
                    start_at=_moment(window.start),
                    end_at=_moment(window.end),
                    duration_s=duration,
                    tz_offset_min=shared.tz_offset,
                    metrics=metrics_of(window.fields),
                    origin_device=shared.device.origin,
                    details=details,
                    samples=samples,
                ),
            )
        )
    return out


def _from_records(
    parts: _Parts,
    shared: _Shared,
    *,
    records: list[Any],
    times: list[float],
    beats: tuple[list[float], list[int]],
    clock: Clock,
) -> FitWorkout:
    start, end = times[0], times[-1]
    if end <= start:
        raise FitDecodeError("the activity's records span no time and it has no session")
    hint = parts.sport or {}
    sport, sub_sport = labels(hint.get("sport"), hint.get("sub_sport"))
    details = _details(shared, 0, sport, sub_sport)
    laps = _group(parts.laps, [start], clock)[0]
    if laps:
        details["laps"] = lap_entries(laps, start)
    samples = _with_samples(details, records, times, start, beats)
    timer = _number((parts.activity or {}).get("total_timer_time"))
    return FitWorkout(
        external_id=f"{shared.key}:0",
        fields=WorkoutFields(
            sport=aurora_sport(sport, sub_sport),
            start_at=_moment(start),
            end_at=_moment(end),
            duration_s=round(end - start, 3),
            tz_offset_min=shared.tz_offset,
            metrics=record_metrics(samples, end - start, timer),
            origin_device=shared.device.origin,
            details=details,
            samples=samples,
        ),
    )
