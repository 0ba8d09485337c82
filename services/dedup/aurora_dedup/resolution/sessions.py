"""Which records are one session: built around the main recorders (README §3).

The contract's plain rule (related sports, overlap >= 50 % of the longer record)
joined transitively is right for records the athlete starts and stops on purpose,
and wrong for the rest: a Whoop whose battery died covers a tenth of the ride, a
Whoop split at a cafe stop covers two halves, a Whoop over the warm-up and the main
set would chain two sessions, a triathlon composite is no sport of its legs, a
hand-typed entry has rounded times. So sessions are built in three passes:

1. main recordings (bike computer, watch, phone app, their copies) join by the plain rule;
2. each detected record (Whoop, Oura, a composite over several legs) joins the one
   session it overlaps most, when that overlap is at least half of the shorter of the
   two and the sports fit (related, a leg of the composite, or a wrong label on a
   detection lying inside the session); detections that join nothing form sessions
   among themselves by the plain rule;
3. each hand-logged record joins the related session nearest in start and end, within
   the rounding of a typed entry.

Auto-detections and typed entries never join one another across sessions: they attach
to a session, not to each other, so one of them can never chain two sessions.

Every pass visits records and sessions in a fixed order and breaks ties by that
order, so the result is a function of the set of records.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from operator import attrgetter
from typing import Final

from aurora_dedup.resolution.provenance import View
from aurora_dedup.resolution.sports import composite_covers, is_composite, related

MIN_OVERLAP: Final = 0.5  # of the longer record (the contract), or of the shorter (attach)
# A detection labelled with an unrelated sport (Oura says walk for a ride) still joins
# when it lies this much inside the session: one athlete does not do two workouts at
# once. A heart rate that clearly disagrees, where both have one, keeps it apart.
RELABEL_INSIDE: Final = 0.8
RELABEL_HR_TOLERANCE: Final = 8.0
# A typed entry: start rounded to 15 min and sometimes misremembered by up to 30 min
# (37.5 min at worst), with room to spare; the nearest related session still wins.
LOG_START_TOLERANCE_S: Final = 60 * 60.0
WHOLLY_INSIDE: Final = 0.95
# Auto-detection starts and stops up to ~12 min off the athlete's own start and stop;
# a detection wholly inside that misses more at either end covers only part of it.
DETECTION_SLACK_S: Final = 15 * 60.0

RULE_OVERLAP: Final = "overlap"
RULE_INSIDE: Final = "inside"
RULE_SPANNING: Final = "spanning"
RULE_COMPOSITE: Final = "composite"
RULE_DETECTED: Final = "detected"
RULE_RELABELLED: Final = "relabelled"
RULE_LOGGED: Final = "logged"


_start_of = attrgetter("start")
_end_of = attrgetter("end")
_sport_of = attrgetter("sport")


class Session:
    """Records of one bout. start/end/sports are those of the records it was built from:
    a record attached later never stretches the session for the next one."""

    __slots__ = ("anchor", "end", "members", "sports", "start")

    def __init__(self, members: list[View]) -> None:
        self.members = members
        self.anchor = first = members[0]
        if len(members) == 1:
            self.start, self.end = first.start, first.end
            self.sports: frozenset[str] | tuple[str] = (first.sport,)
        else:
            self.start = min(map(_start_of, members))
            self.end = max(map(_end_of, members))
            self.sports = frozenset(map(_sport_of, members))

    def heart_rate(self) -> float | None:
        for member in self.members:
            if member.record.avg_hr:
                return member.record.avg_hr
        return None


def build_sessions(views: list[View]) -> list[list[View]]:
    """Partition one user's views (in build_views order) into sessions."""
    tiers: tuple[list[View], list[View], list[View]] = ([], [], [])
    for view in views:
        tiers[view.tier].append(view)
    main, detected, typed = tiers
    sessions = [Session(members) for members in _plain_components(main)]
    if detected:
        loose = _attach(detected, sessions, logged=False)
        sessions += [Session(members) for members in _plain_components(loose)]
    if typed:
        loose = _attach(typed, sessions, logged=True)
        sessions += [Session(members) for members in _plain_components(loose)]
    return [s.members for s in sessions]


def plain_match(a: View, b: View) -> bool:
    """DESIGN.md §3: related sports and an overlap of at least half of the longer record."""
    longer = a.span if a.span > b.span else b.span
    if longer <= 0:
        return False
    overlap = (a.end if a.end < b.end else b.end) - (a.start if a.start > b.start else b.start)
    return overlap >= MIN_OVERLAP * longer and related(a.sport, b.sport)


def _plain_components(views: list[View]) -> list[list[View]]:
    """Connected components of the plain rule, found with a sweep over start-ordered views."""
    if len(views) < 2:
        return [views] if views else []
    parent = list(range(len(views)))  # union-find over positions in `views`
    active: list[int] = []
    for i, view in enumerate(views):
        if active:
            start = view.start
            active = [j for j in active if views[j].end > start]
            for j in active:
                other = views[j]
                if plain_match(view, other):
                    a = i
                    while parent[a] != a:
                        a = parent[a]
                    b = j
                    while parent[b] != b:
                        b = parent[b]
                    if a != b:
                        parent[a if a > b else b] = b if a > b else a
                        if view.link_to is None:
                            view.link_rule, view.link_to = RULE_OVERLAP, other
        active.append(i)
    components: dict[int, list[View]] = {}
    for i, view in enumerate(views):
        root = i
        while parent[root] != root:
            root = parent[root]
        if root in components:
            components[root].append(view)
        else:
            components[root] = [view]
    return list(components.values())


Verdict = tuple[str, float]  # (rule name, score: higher wins)


def _attach(views: Iterable[View], sessions: list[Session], logged: bool) -> list[View]:
    """Add each view to its best session; return those that fit none."""
    ordered = sorted(sessions, key=_session_order)
    starts = [s.start for s in ordered]
    longest = max([s.end - s.start for s in ordered], default=0.0)
    judge = _judge_log if logged else _judge_detection
    loose: list[View] = []
    chosen: list[tuple[View, Session, str]] = []
    for view in views:
        if logged:
            lo = bisect_left(starts, view.start - LOG_START_TOLERANCE_S)
            hi = bisect_right(starts, view.start + LOG_START_TOLERANCE_S)
        else:
            lo = bisect_left(starts, view.start - longest)
            hi = bisect_right(starts, view.end)
        best: Verdict | None = None
        best_session = ordered[0] if ordered else None
        candidates = 0
        for i in range(lo, hi):
            verdict = judge(view, ordered[i])
            if verdict is not None:
                candidates += 1
                if best is None or verdict[1] > best[1]:
                    best, best_session = verdict, ordered[i]
        if best is None or best_session is None:
            loose.append(view)
            continue
        name = RULE_SPANNING if best[0] == RULE_DETECTED and candidates > 1 else best[0]
        chosen.append((view, best_session, name))
    # Joined only after every choice is made: a detection never extends a session
    # for the next one, so the order of detections cannot matter.
    for view, session, name in chosen:
        session.members.append(view)
        view.link_rule, view.link_to = name, session.anchor
    return loose


_session_order = attrgetter("start", "anchor.order")


def _judge_detection(view: View, session: Session) -> Verdict | None:
    """README §3 rule 3: a detection joins the session it overlaps most."""
    length = session.end - session.start
    overlap = (view.end if view.end < session.end else session.end) - (
        view.start if view.start > session.start else session.start
    )
    if overlap <= 0 or overlap < MIN_OVERLAP * (view.span if view.span < length else length):
        return None
    sport = view.sport
    if is_composite(sport):
        if any(composite_covers(sport, s) or related(sport, s) for s in session.sports):
            return RULE_COMPOSITE, 2 * overlap
        return None
    if any(related(sport, s) for s in session.sports):
        if overlap >= WHOLLY_INSIDE * view.span and (
            view.start - session.start > DETECTION_SLACK_S
            or session.end - view.end > DETECTION_SLACK_S
        ):
            return RULE_INSIDE, 2 * overlap
        return RULE_DETECTED, 2 * overlap
    if overlap < RELABEL_INSIDE * view.span:
        return None
    heart_rate, theirs = view.record.avg_hr, session.heart_rate()
    if heart_rate and theirs and abs(heart_rate - theirs) > RELABEL_HR_TOLERANCE:
        return None
    return RULE_RELABELLED, overlap  # a related session always wins over a relabelled one


def _judge_log(view: View, session: Session) -> Verdict | None:
    """A typed entry joins the related session that starts and ends nearest to it."""
    if not any(related(view.sport, s) for s in session.sports):
        return None
    return RULE_LOGGED, -(abs(session.start - view.start) + abs(session.end - view.end))
