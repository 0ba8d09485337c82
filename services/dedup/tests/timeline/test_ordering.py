"""Checklist A12: dedup's final state does not depend on the order events arrive in.

A fixed history of one user (ingests, updates, removals, a removal before its
record's ingest, a re-ingest after a removal, a record moved out of its group)
is delivered in random orders, each event in its own transaction. Every order
must end in the same source records and the same canonical grouping, and that
state must be the one the pure rules give for the newest version of each record.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_dedup.db import SCHEMA
from aurora_dedup.resolution.rules import WorkoutRecord, resolve
from aurora_dedup.timeline.events import WorkoutIngested
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_dedup.timeline.service import REMOVED_REASON
from aurora_shared.bus.envelope import Envelope
from aurora_shared.db import make_sessionmaker
from aurora_shared.testing.service import truncate_schema

from .factory import Workout, apply, canonicals, records

USER = uuid.UUID("00000000-0000-4000-8000-00000000a012")
G = Workout(USER, source="garmin", device="Garmin fenix 7")
S = Workout(USER, source="strava", device="Garmin fenix 7", has_end=False)
W = Workout(USER, source="whoop", device="WHOOP 4.0", start_min=2, minutes=55)
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


def _version(event: Envelope) -> tuple[int, datetime, uuid.UUID]:
    return (event.payload["revision"], event.occurred_at, event.id)


def newest_versions() -> dict[uuid.UUID, Envelope]:
    newest: dict[uuid.UUID, Envelope] = {}
    for event in HISTORY:
        rid = uuid.UUID(event.payload["record_id"])
        if rid not in newest or _version(event) > _version(newest[rid]):
            newest[rid] = event
    return newest


def expected_state() -> tuple[dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, dict[str, Any]]]:
    """What the rules say the end state is, computed without the database."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    active: list[WorkoutRecord] = []
    for rid, event in newest_versions().items():
        if event.type == "workout.removed":
            rows[rid] = {"removed": True, "canonical_id": None, "reason": REMOVED_REASON}
            continue
        p = WorkoutIngested.model_validate(event.payload)
        active.append(
            WorkoutRecord(
                rid, p.source, p.external_id, p.origin_device, p.sport, p.start, p.end, p.duration_s
            )
        )
    canon: dict[uuid.UUID, dict[str, Any]] = {}
    for group in resolve(active):
        cid = canonical_id_for(group.primary.record.id)
        canon[cid] = {
            "primary": group.primary.record.id,
            "start": group.primary.record.start,
            "reason": group.reason,
        }
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


async def snapshot(engine: AsyncEngine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    sessions = make_sessionmaker(engine)
    source_rows = sorted(
        (
            r.id,
            r.user_id,
            r.source,
            r.external_id,
            r.origin_device,
            r.sport,
            r.start_at,
            r.end_at,
            r.span_end_at,
            r.duration_s,
            r.tz_offset_min,
            r.metrics,
            r.removed,
            r.last_event_at,
            r.last_event_id,
            r.canonical_id,
            r.is_primary,
            r.duplicate_of,
            r.decision_reason,
        )
        for r in (await records(sessions)).values()
    )
    canonical_rows = sorted(
        (
            c.id,
            c.user_id,
            c.primary_record_id,
            c.sport,
            c.start_at,
            c.end_at,
            c.duration_s,
            c.metrics,
            c.reason,
            c.fingerprint,
        )  # updated_at is wall-clock time and legitimately differs
        for c in (await canonicals(sessions)).values()
    )
    return source_rows, canonical_rows


_reference: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=st.permutations(HISTORY))
async def test_any_arrival_order_converges(
    order: list[Envelope], engine: AsyncEngine, migrated: str
) -> None:
    await truncate_schema(migrated, SCHEMA)
    sessions = make_sessionmaker(engine)
    for event in order:
        await apply(sessions, event)

    rows, canon = expected_state()
    stored = await records(sessions)
    assert {
        rid: {"removed": r.removed, "canonical_id": r.canonical_id, "reason": r.decision_reason}
        for rid, r in stored.items()
    } == rows
    newest = newest_versions()
    for rid, row in stored.items():
        assert (row.last_revision, row.last_event_at, row.last_event_id) == _version(newest[rid])
    stored_canon = await canonicals(sessions)
    assert {
        cid: {"primary": c.primary_record_id, "start": c.start_at, "reason": c.reason}
        for cid, c in stored_canon.items()
    } == canon

    state = await snapshot(engine)
    if not _reference:
        _reference.append(state)
    assert state == _reference[0]
