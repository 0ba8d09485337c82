"""Where each record really comes from: its true time and the device that recorded it.

Two facts about a record depend on the other records of the user, so they are
settled here, before any grouping:

* a clock bug: a record that carries local wall-clock time written as UTC sits
  exactly the athlete's offset after the correctly timed records of its bout. Its
  twin has the same duration to the second and the same distance and heart rate,
  which two real sessions never share (README §3 rules 5 and 6). Its times are
  corrected, so every later rule sees the bout where it happened;
* a copy chain: an Apple Health workout written by "Strava" is worth what
  recorded the matching Strava activity, which may itself be a Garmin or a Whoop
  recording (DESIGN.md §3: priority is the recording device's, not the carrier's).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Final

from aurora_dedup.resolution.priority import (
    AUTO_DETECTING,
    HAND_LOGGED,
    recording_source,
)
from aurora_dedup.resolution.records import WorkoutRecord
from aurora_dedup.resolution.sports import COMPOSITE_LEGS, is_composite, related

# Tiers of README §3 "segmentation follows the main recorder".
MAIN: Final = 0  # a device the athlete starts and stops on purpose
DETECTED: Final = 1  # auto-detected by a wearable, or one record over several legs
LOGGED: Final = 2  # typed in by hand, times rounded

# A copy keeps its original's times up to rounding; sync services never move them more.
COPY_TOLERANCE_S: Final = 60.0
# A clock-shifted twin: same duration to the second (one second of rounding either way).
CLOCK_SPAN_TOLERANCE_S: Final = 1.5
CLOCK_HR_TOLERANCE: Final = 1.5
CLOCK_DISTANCE_TOLERANCE: Final = 0.01  # relative; carriers round distances differently
_QUARTER_HOUR_S: Final = 900


class View:
    """One record as the rules see it: corrected times as epoch seconds, true recorder, tier.

    Plain floats and strings keep the per-record work small (the core must resolve
    100k records a second); `link_*` is filled in by sessions.py with why the record
    joined its session.
    """

    __slots__ = (
        "end",
        "is_copy",
        "key",
        "label",
        "link_rule",
        "link_to",
        "named",
        "order",
        "priority",
        "rank",
        "record",
        "recorder",
        "shift_s",
        "span",
        "sport",
        "start",
        "tier",
    )
    # Set by build_views (order) and by the election (priority, rank).
    order: int
    priority: int
    rank: int

    def __init__(self, record: WorkoutRecord) -> None:
        self.record = record
        self.start = start = record.start.timestamp()
        end = record.end
        self.end = stop = end.timestamp() if end is not None else start + record.duration_s
        self.span = stop - start
        self.sport = sport = record.sport
        source = record.source
        # A UUID's int orders exactly like its text, and costs nothing to read.
        self.key = (source, record.external_id, record.id.int)
        self.named = self.recorder = named = recording_source(source, record.origin_device)
        self.is_copy = named != source  # the device's brand is not the carrying service
        tier = _TIERS.get(named, MAIN)
        self.tier = DETECTED if tier == MAIN and sport in COMPOSITE_LEGS else tier
        self.shift_s = 0
        self.label = ""
        self.link_rule = ""
        self.link_to: View | None = None


def build_views(records: Iterable[WorkoutRecord]) -> list[View]:
    """Views in a fixed order (start, end, source, external id, id): a function of the set."""
    views = sorted(map(View, records), key=_sort_key)
    for i, view in enumerate(views):
        view.order = i
    _correct_clock_shifts(views)
    _follow_copy_chains(views)
    return views


_sort_key = attrgetter("start", "end", "key")
_start_of = attrgetter("start")
_reported_offset = attrgetter("record.tz_offset_min")


_TIERS: Final[Mapping[str, int]] = {
    **dict.fromkeys(AUTO_DETECTING, DETECTED),
    **dict.fromkeys(HAND_LOGGED, LOGGED),
}


def _tier(recorder: str, sport: str) -> int:
    if recorder in HAND_LOGGED:
        return LOGGED
    if recorder in AUTO_DETECTING or is_composite(sport):
        return DETECTED
    return MAIN


def _athlete_offsets_s(views: list[View]) -> list[int]:
    """The athlete's UTC offsets (fixed per athlete, README §1), as sources report them."""
    reported = set(map(_reported_offset, views))
    return sorted(m * 60 for m in reported if m and (m * 60) % _QUARTER_HOUR_S == 0)


def _correct_clock_shifts(views: list[View]) -> None:
    """Move a record written as local-time-as-UTC back onto its correctly timed twin.

    Local time written as UTC lands `offset` after the truth, so only the later
    record of a pair can be the shifted one, and the result does not depend on
    which record is looked at first.
    """
    offsets = _athlete_offsets_s(views)
    if not offsets:
        return
    seconds = list(map(round, map(_start_of, views)))  # C-level maps: every record pays this
    present = set(seconds)
    # Start seconds with a record exactly `offset` (+-1 s) earlier, found with set
    # arithmetic: nearly every record has none, and those cost no Python loop.
    suspects: dict[int, int] = {}
    for offset in reversed(offsets):  # the smallest offset wins when several fit
        for slack in (-1, 0, 1):
            for second in present.intersection(map((offset + slack).__radd__, present)):
                suspects[second] = offset
    if not suspects:
        return
    by_start: dict[int, list[View]] = {}
    for second, view in zip(seconds, views, strict=True):
        by_start.setdefault(second, []).append(view)
    for second in sorted(suspects):
        for offset in offsets:
            target = second - offset
            twins = [t for near in (target - 1, target, target + 1) for t in by_start.get(near, ())]
            for view in by_start[second]:
                if not view.shift_s and any(_clock_twins(view, t) for t in twins):
                    view.shift_s = offset
    for view in views:
        if view.shift_s:
            view.start -= view.shift_s
            view.end -= view.shift_s


def _clock_twins(view: View, other: View) -> bool:
    return (
        abs(other.span - view.span) <= CLOCK_SPAN_TOLERANCE_S
        and related(other.sport, view.sport)
        and same_measurements(view.record, other.record)
    )


def same_measurements(a: WorkoutRecord, b: WorkoutRecord) -> bool:
    """Same distance and heart rate where both say, and at least one of them said."""
    evidence = False
    if a.distance_m and b.distance_m:
        longer = max(a.distance_m, b.distance_m)
        if abs(a.distance_m - b.distance_m) > CLOCK_DISTANCE_TOLERANCE * longer:
            return False
        evidence = True
    if a.avg_hr and b.avg_hr:
        if abs(a.avg_hr - b.avg_hr) > CLOCK_HR_TOLERANCE:
            return False
        evidence = True
    return evidence


def _follow_copy_chains(views: list[View]) -> None:
    """A record written by another service's app inherits what recorded that service's record.

    Only a copy naming a service that carries other devices' recordings here (Strava,
    Apple Health) can inherit something else than the brand it names.
    """
    carriers = {v.record.source for v in views if v.is_copy}
    copies = [v for v in views if v.is_copy and v.named in carriers]
    if not copies:
        return
    by_source: dict[str, list[View]] = {}
    for view in views:  # views are start-ordered, so each list is too
        if view.record.source in carriers:
            by_source.setdefault(view.record.source, []).append(view)
    starts = {source: [v.start for v in group] for source, group in by_source.items()}
    resolved: dict[int, str] = {}
    for view in copies:
        view.recorder = _original_recorder(view, by_source, starts, resolved, set())
        view.tier = _tier(view.recorder, view.sport)


def _original_recorder(
    view: View,
    by_source: dict[str, list[View]],
    starts: dict[str, list[float]],
    resolved: dict[int, str],
    visiting: set[int],
) -> str:
    named = view.named
    if named == view.record.source or named not in by_source:
        return named
    if view.order in resolved:
        return resolved[view.order]
    original = _original_of(view, named, by_source, starts)
    recorder = named
    if original is not None and original.order not in visiting:
        visiting.add(view.order)
        recorder = _original_recorder(original, by_source, starts, resolved, visiting)
    resolved[view.order] = recorder
    return recorder


def _original_of(
    copy: View, source: str, by_source: dict[str, list[View]], starts: dict[str, list[float]]
) -> View | None:
    """The record of `source` with the copy's times; the closest one when several are."""
    group = by_source.get(source)
    if not group:
        return None
    best: View | None = None
    best_gap = COPY_TOLERANCE_S * 2
    for i in range(bisect_left(starts[source], copy.start - COPY_TOLERANCE_S), len(group)):
        other = group[i]
        if other.start > copy.start + COPY_TOLERANCE_S:
            break
        gap = abs(other.start - copy.start) + abs(other.end - copy.end)
        if abs(other.end - copy.end) <= COPY_TOLERANCE_S and gap < best_gap:
            best, best_gap = other, gap
    return best
