"""Checklist A12 and the service-level properties of dedup, against real PostgreSQL.

A fixed history of one user (ingests, updates, removals, a removal before its
record's ingest, a re-ingest after a removal, a record moved out of its group)
is delivered in random orders, each event in its own transaction, some of them
twice. Every order must end in the same rows, and they must be the ones the pure
rules give for the newest version of each record, with the athlete's controls
(links, a priority order) made at any point in between. Ingesting a record and
removing it again restores the canonical workouts, and the stored rows keep
DESIGN.md §3's invariants after every example.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_dedup.controls import service as controls
from aurora_dedup.controls.domain import LinkDecision, WorkoutControls
from aurora_dedup.db import SCHEMA
from aurora_dedup.registers import REMOVED_REASON
from aurora_dedup.resolution.rules import WorkoutRecord, resolve
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.bus.envelope import Envelope
from aurora_shared.db import make_sessionmaker
from aurora_shared.permissions import Actor
from aurora_shared.testing.service import truncate_schema

from .factory import Workout, apply, one_session, outbox, records, rule_view
from .state import (
    assert_invariants,
    canonical_rows,
    grouping,
    snapshot,
    stored_grouping,
)

USER = uuid.UUID("00000000-0000-4000-8000-00000000a012")
G, S, W = one_session(USER)
A = Workout(USER, source="apple_health", device="Apple Watch", start_min=1, minutes=58)
R = Workout(USER, source="garmin", sport="run", start_min=62, minutes=38)
WR = Workout(USER, source="whoop", sport="run", start_min=63, minutes=36)
X = Workout(USER, source="manual", start_min=300)
Y = Workout(USER, source="oura", sport="other", start_min=3, minutes=50)
Z = Workout(USER, source="polar", start_min=0, minutes=59)

HISTORY: list[Envelope] = [
    G.ingested(1),
    S.ingested(2),
    W.ingested(3),
    A.ingested(4),
    G.ingested(5, minutes=62, metrics={"avg_hr": 151}),  # an edit on Garmin Connect
    R.ingested(6),
    WR.ingested(7),
    W.removed(8),
    X.ingested(9),
    X.removed(10),
    X.ingested(11, start_min=400),  # re-created after the removal, at another time
    Y.removed(13),  # may arrive before its own ingest
    Y.ingested(12),
    Z.ingested(14),
    Z.ingested(15, start_min=600),  # moved out of the ride's group
]
PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
Sessions = async_sessionmaker[AsyncSession]


def _version(event: Envelope) -> tuple[int, datetime, uuid.UUID]:
    return (event.payload["revision"], event.occurred_at, event.id)


def newest_versions() -> dict[uuid.UUID, Envelope]:
    newest: dict[uuid.UUID, Envelope] = {}
    for event in HISTORY:
        rid = uuid.UUID(event.payload["record_id"])
        if rid not in newest or _version(event) > _version(newest[rid]):
            newest[rid] = event
    return newest


def newest_active() -> list[WorkoutRecord]:
    return [
        rule_view(event.payload, USER)
        for event in newest_versions().values()
        if event.type == "workout.ingested"
    ]


def expected_state(
    controls_after: WorkoutControls | None = None,
) -> tuple[dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, dict[str, Any]]]:
    """What the rules say the end state is, computed without the database."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for rid, event in newest_versions().items():
        if event.type == "workout.removed":
            rows[rid] = {"removed": True, "canonical_id": None, "reason": REMOVED_REASON}
    active = newest_active()
    wanted = controls_after or WorkoutControls()
    groups = resolve(active, wanted.priorities, wanted.overrides([r.id for r in active]))
    canon = grouping(groups)
    for cid, group in zip(canon, groups, strict=True):
        rows[group.primary.record.id] = {
            "removed": False,
            "canonical_id": cid,
            "reason": group.reason,
        }
        for dup in group.duplicates:
            rows[dup.record.id] = {"removed": False, "canonical_id": cid, "reason": dup.reason}
    return rows, canon


def test_the_history_exercises_every_case() -> None:
    rows, canon = expected_state()
    assert sum(r["removed"] for r in rows.values()) == 2  # W and Y
    assert {c["primary"] for c in canon.values()} == {
        S.record_id,  # garmin via strava, the shorter of the 60s
        R.record_id,  # the brick's run leg stays apart
        X.record_id,
        Z.record_id,
    }
    assert rows[G.record_id]["canonical_id"] == canonical_id_for(S.record_id)
    assert rows[A.record_id]["canonical_id"] == canonical_id_for(S.record_id)


async def _fresh(engine: AsyncEngine, migrated: str) -> Sessions:
    await truncate_schema(migrated, SCHEMA)
    return make_sessionmaker(engine)


async def _deliver(sessions: Sessions, events: list[Envelope]) -> None:
    for event in events:
        await apply(sessions, event)


async def _assert_expected(sessions: Sessions, controls_after: WorkoutControls | None) -> None:
    rows, canon = expected_state(controls_after)
    stored = await records(sessions)
    assert {
        rid: {"removed": r.removed, "canonical_id": r.canonical_id, "reason": r.decision_reason}
        for rid, r in stored.items()
    } == rows
    newest = newest_versions()
    for rid, row in stored.items():
        assert (row.last_revision, row.last_event_at, row.last_event_id) == _version(newest[rid])
    assert await stored_grouping(sessions) == canon
    await assert_invariants(sessions)


_reference: dict[str, Any] = {}


async def _same_as_first(key: str, sessions: Sessions) -> None:
    """Every example of a property ends in the state of its first example."""
    state = await snapshot(sessions)
    assert state == _reference.setdefault(key, state)


@PROPERTY_SETTINGS
@given(order=st.permutations(HISTORY))
async def test_any_arrival_order_converges(
    order: list[Envelope], engine: AsyncEngine, migrated: str
) -> None:
    sessions = await _fresh(engine, migrated)
    await _deliver(sessions, order)
    await _assert_expected(sessions, None)
    await _same_as_first("plain", sessions)


@PROPERTY_SETTINGS
@given(
    order=st.permutations(HISTORY),
    again=st.lists(st.tuples(st.sampled_from(HISTORY), st.integers(0, len(HISTORY))), max_size=6),
)
async def test_delivering_events_twice_changes_nothing(
    order: list[Envelope],
    again: list[tuple[Envelope, int]],
    engine: AsyncEngine,
    migrated: str,
) -> None:
    """At-least-once delivery: a repeat anywhere in the stream, or after it, is a no-op."""
    sessions = await _fresh(engine, migrated)
    stream = list(order)
    for event, position in sorted(again, key=lambda x: -x[1]):
        stream.insert(position, event)
    await _deliver(sessions, stream)
    await _assert_expected(sessions, None)
    await _same_as_first("plain", sessions)
    published = len(await outbox(sessions))
    state = await snapshot(sessions)
    await _deliver(sessions, [order[0], order[-1]])
    assert await snapshot(sessions) == state
    assert len(await outbox(sessions)) == published


@PROPERTY_SETTINGS
@given(
    source=st.sampled_from(["garmin", "strava", "whoop", "apple_health", "oura", "manual"]),
    sport=st.sampled_from(["ride", "run", "other", "virtual_ride", "yoga"]),
    start_min=st.integers(-90, 700),
    minutes=st.integers(1, 240),
    has_end=st.booleans(),
)
async def test_ingesting_then_removing_a_record_restores_the_timeline(
    source: str,
    sport: str,
    start_min: int,
    minutes: int,
    has_end: bool,
    engine: AsyncEngine,
    migrated: str,
) -> None:
    sessions = await _fresh(engine, migrated)
    await _deliver(sessions, HISTORY)
    before_rows, before_canon = await snapshot(sessions)
    visitor = Workout(
        USER, source=source, sport=sport, start_min=start_min, minutes=minutes, has_end=has_end
    )
    await apply(sessions, visitor.ingested(100))
    await assert_invariants(sessions)
    await apply(sessions, visitor.removed(101))
    await assert_invariants(sessions)
    assert await canonical_rows(sessions) == before_canon
    after_rows, _ = await snapshot(sessions)
    assert [r for r in after_rows if r[0] != visitor.record_id] == before_rows
    (tombstone,) = (r for r in (await records(sessions)).values() if r.id == visitor.record_id)
    assert tombstone.removed and tombstone.metrics is None


# -- with the athlete's controls --------------------------------------------------------

ATHLETE = Actor(user_id=USER, role="athlete")
# The controls' records are never removed by the history, so every control applies
# whatever the order; only when it lands among the events varies.
FIRST_INGESTS = [HISTORY[i] for i in (0, 1, 3, 5, 6, 13)]  # G, S, A, R, WR, Z
LATER_EVENTS = [e for e in HISTORY if e not in FIRST_INGESTS]
assert len(LATER_EVENTS) == len(HISTORY) - len(FIRST_INGESTS)
CHOSEN_ORDER = {"apple_health": 90}
Control = Callable[[AsyncSession, dict[str, uuid.UUID]], Awaitable[None]]


def _linking(name: str, relation: str, *workouts: Workout) -> Control:
    async def run(session: AsyncSession, made: dict[str, uuid.UUID]) -> None:
        link = await controls.create_link(
            session,
            ATHLETE,
            "same" if relation == "same" else "apart",
            [w.record_id for w in workouts],
        )
        made[name] = link.id

    return run


def _unlinking(name: str) -> Control:
    async def run(session: AsyncSession, made: dict[str, uuid.UUID]) -> None:
        await controls.delete_link(session, ATHLETE, made[name])

    return run


async def _choosing(session: AsyncSession, made: dict[str, uuid.UUID]) -> None:
    await controls.set_priorities(session, ATHLETE, "workouts", dict(CHOSEN_ORDER))


CONTROLS: list[Control] = [
    _linking("wr-z", "same", WR, Z),
    _linking("g-s", "apart", G, S),  # two copies of one recording, split by the athlete
    _choosing,
    _linking("r-z", "same", R, Z),  # a run and a ride (once moved) merged by the athlete
    _unlinking("wr-z"),
]
CONTROLS_AFTER = WorkoutControls.of(
    CHOSEN_ORDER,
    [
        LinkDecision(1, "apart", (G.record_id, S.record_id)),
        LinkDecision(2, "same", (R.record_id, Z.record_id)),
    ],
)


def test_the_controls_change_the_outcome() -> None:
    _, plain = expected_state()
    _, controlled = expected_state(CONTROLS_AFTER)
    assert plain != controlled
    merged = next(c for c in controlled.values() if R.record_id in c["members"])
    assert Z.record_id in merged["members"]
    assert not any({G.record_id, S.record_id} <= c["members"] for c in controlled.values())


@PROPERTY_SETTINGS
@given(data=st.data())
async def test_controls_anywhere_in_the_stream_converge(
    data: st.DataObject, engine: AsyncEngine, migrated: str
) -> None:
    sessions = await _fresh(engine, migrated)
    first = data.draw(st.permutations(FIRST_INGESTS), label="first ingests")
    later = data.draw(st.permutations(LATER_EVENTS), label="later events")
    later += data.draw(st.lists(st.sampled_from(HISTORY), max_size=3), label="repeats")
    slots = sorted(
        data.draw(
            st.lists(st.integers(0, len(later)), min_size=len(CONTROLS), max_size=len(CONTROLS)),
            label="control slots",
        )
    )
    await _deliver(sessions, first)
    made: dict[str, uuid.UUID] = {}
    pending = list(zip(slots, CONTROLS, strict=True))
    for position in range(len(later) + 1):
        while pending and pending[0][0] == position:
            _, control = pending.pop(0)
            async with sessions() as session, session.begin():
                await control(session, made)
        if position < len(later):
            await apply(sessions, later[position])
    await _assert_expected(sessions, CONTROLS_AFTER)
    await _same_as_first("controls", sessions)
