"""Why a record is primary or a duplicate, in words the timeline shows.

The text is a function of the group (records, their corrected times and the rule
that linked each one), so the same set of records always explains itself the same
way, whatever order the events came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from aurora_dedup.resolution.overrides import RULE_MERGED
from aurora_dedup.resolution.priority import AUTO_DETECTING
from aurora_dedup.resolution.provenance import DETECTED, LOGGED, View
from aurora_dedup.resolution.sessions import (
    RULE_COMPOSITE,
    RULE_DETECTED,
    RULE_INSIDE,
    RULE_LOGGED,
    RULE_RELABELLED,
    RULE_SPANNING,
)
from aurora_dedup.resolution.sports import describe_relation, related

ONLY_RECORD: Final = "primary: only record of this session"


def label(view: View) -> str:
    """ "Garmin Edge 530 recording", "WHOOP 4.0 detection", "Connect recording via apple_health"."""
    if not view.label:
        record = view.record
        view.label = _label(
            (record.origin_device, record.source, view.named, view.recorder, view.tier, view.sport)
        )
    return view.label


LabelFacts = tuple[str | None, str, str, str, int, str]


@lru_cache(maxsize=4096)  # few distinct devices, and nearly every record needs a label
def _label(facts: LabelFacts) -> str:
    device, source, named, recorder, tier, sport = facts
    if tier == DETECTED and recorder not in AUTO_DETECTING:
        return f"{device or source} {sport} record{_via(source, named)}"
    return f"{device or source} {_kind(named, recorder, tier)}{_via(source, named)}"


def _via(source: str, named: str) -> str:
    return f" via {source}" if named != source else ""


def _kind(named: str, recorder: str, tier: int) -> str:
    if tier == LOGGED:
        return "entry"
    if tier == DETECTED:
        return "detection"
    if recorder != named:
        return f"copy of a {recorder} recording"
    return "recording"


def primary_reason(primary: View, others: list[View]) -> str:
    """Needs `priority` set on every view."""
    if not others:
        return ONLY_RECORD
    top = primary.priority
    tied: list[View] = []
    lower: dict[str, int] = {}
    for view in others:
        if view.priority == top:
            tied.append(view)
        else:
            lower[view.label or label(view)] = view.priority
    reason = f"primary: {primary.label or label(primary)} has priority {top}"
    if tied:
        if len(tied) == 1:
            rivals = tied[0].label or label(tied[0])
        else:
            rivals = ", ".join(sorted({v.label or label(v) for v in tied}))
        reason = f"{reason}, ties with {rivals}: {_tie_break(primary, tied)}"
    if len(lower) == 1:
        ((name, value),) = lower.items()
        reason = f"{reason}; outranks {name} ({value})"
    elif lower:
        ranked = sorted(lower.items(), key=_highest_first)
        reason += "; outranks " + ", ".join([f"{name} ({value})" for name, value in ranked])
    return reason


def _highest_first(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def duplicate_reason(view: View, primary: View, primary_id: str) -> str:
    """Needs `priority` set on both views; `primary_id` is the primary's id as text."""
    mine, theirs = view.priority, primary.priority
    winner = primary.label or label(primary)
    if theirs > mine:
        why_not = f"{winner} outranks the {view.label or label(view)}: priority {theirs} > {mine}"
    elif primary.shift_s < view.shift_s:
        why_not = f"{winner} ties at priority {mine} and has the right clock"
    elif primary.span < view.span:
        why_not = (
            f"{winner} ties at priority {mine} and is shorter "
            f"({primary.span:.0f} s vs {view.span:.0f} s)"
        )
    elif not primary.is_copy and view.is_copy:
        why_not = f"{winner} ties at priority {mine} and length, and is the device's own record"
    else:
        why_not = f"{winner} ties at priority {mine} and length, first by source and id"
    # overlap_percent, inlined: this runs once per duplicate.
    longer = view.span if view.span > primary.span else primary.span
    shared = (view.end if view.end < primary.end else primary.end) - (
        view.start if view.start > primary.start else primary.start
    )
    percent = int(100 * shared / longer) if shared > 0 and longer > 0 else 0
    return f"duplicate of {primary_id}: {why_not}, overlap {percent}%; {why_same(view, primary)}"


def overlap_percent(a: View, b: View) -> int:
    """The contract's measure: the shared time as a share of the longer record, rounded down."""
    longer = a.span if a.span > b.span else b.span
    shared = (a.end if a.end < b.end else b.end) - (a.start if a.start > b.start else b.start)
    return int(100 * shared / longer) if shared > 0 and longer > 0 else 0


_FIXED_WORDS: Final[Mapping[str, str]] = {
    RULE_MERGED: "the athlete marked these records as one session",
    RULE_SPANNING: "spans several sessions: joins the one it overlaps most",
}


def why_same(view: View, primary: View) -> str:
    """The rule that put the record in this session."""
    rule = view.link_rule
    text = _FIXED_WORDS.get(rule)
    if text is not None:
        pass
    elif rule == RULE_DETECTED:
        text = f"auto-detected {_offsets(view, primary)}"
    elif rule == RULE_INSIDE:
        text = (
            "covers part of the session (battery died, cut short or split at a stop): "
            f"wholly inside, {_offsets(view, primary)}"
        )
    elif rule == RULE_COMPOSITE:
        text = f"{view.sport} over several legs: joins the {primary.sport} leg it overlaps most"
    elif rule == RULE_RELABELLED:
        text = f"auto-detected as {view.sport}, but lies inside the session"
    elif rule == RULE_LOGGED:
        text = f"typed-in entry with rounded times, {_offsets(view, primary)}"
    elif related(view.sport, primary.sport):
        text = describe_relation(view.sport, primary.sport)
    else:
        text = f"same session as {view.sport} through the others"
    if view.shift_s:
        return (
            f"clock shifted by {view.shift_s // 60} min: same duration, distance and heart "
            f"rate; {text}"
        )
    if primary.shift_s:
        return f"the primary's clock shifted by {primary.shift_s // 60} min; {text}"
    return text


def _offsets(view: View, primary: View) -> str:
    late = round((view.start - primary.start) / 60)
    early = round((primary.end - view.end) / 60)
    if late > 0:
        start = f"started {late} min late"
    elif late < 0:
        start = f"started {-late} min early"
    else:
        start = "same start"
    if early > 0:
        return f"{start}, ended {early} min early"
    if early < 0:
        return f"{start}, ended {-early} min late"
    return f"{start}, same end"


def _tie_break(primary: View, tied: list[View]) -> str:
    closest = tied[0].span
    shifted = False
    for view in tied:
        closest = min(closest, view.span)
        shifted = shifted or view.shift_s != 0
    if shifted and not primary.shift_s:
        return "the others carry a shifted clock"
    if closest > primary.span:
        return f"shorter record wins ({primary.span:.0f} s vs {closest:.0f} s)"
    if not primary.is_copy and all(v.is_copy for v in tied if v.span == primary.span):
        return "same length, the device's own record before its copies"
    return "same length, first by source, external id and record id"
