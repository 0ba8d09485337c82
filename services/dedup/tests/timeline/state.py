"""Dedup's stored state as comparable values, and the invariants it must always keep."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.resolution.rules import Group
from aurora_dedup.timeline.resolver import canonical_id_for

from .factory import canonicals, records

Sessions = async_sessionmaker[AsyncSession]
Rows = list[tuple[Any, ...]]


async def snapshot(sessions: Sessions) -> tuple[Rows, Rows]:
    """Every stored column but wall-clock times, sorted: equal snapshots, equal states."""
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
            r.last_revision,
            r.last_event_at,
            r.last_event_id,
            r.canonical_id,
            r.is_primary,
            r.duplicate_of,
            r.decision_reason,
        )
        for r in (await records(sessions)).values()
    )
    return source_rows, await canonical_rows(sessions)


async def canonical_rows(sessions: Sessions) -> Rows:
    return sorted(
        (
            c.id,
            c.user_id,
            c.primary_record_id,
            c.sport,
            c.start_at,
            c.end_at,
            c.duration_s,
            c.metrics,
            c.field_sources,
            c.reason,
            c.fingerprint,
        )  # updated_at is wall-clock time and legitimately differs
        for c in (await canonicals(sessions)).values()
    )


async def assert_invariants(sessions: Sessions) -> None:
    """DESIGN.md §3 as the stored rows must show it, after any sequence of events."""
    rows = await records(sessions)
    canon = await canonicals(sessions)
    keys = Counter((r.user_id, r.source, r.external_id) for r in rows.values())
    assert max(keys.values(), default=1) == 1, "(source, external_id) is unique per user"
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows.values():
        if row.removed:
            assert (row.canonical_id, row.is_primary, row.duplicate_of) == (None, False, None)
            continue
        assert row.canonical_id is not None, f"active record {row.id} in no session"
        members.setdefault(row.canonical_id, []).append(row.id)
        if row.is_primary:
            assert row.duplicate_of is None, "a primary never has duplicate_of"
            assert row.canonical_id == canonical_id_for(row.id)
    assert set(members) == set(canon), "a canonical per session, a session per canonical"
    for cid, workout in canon.items():
        primary = rows[workout.primary_record_id]
        assert primary.is_primary and primary.canonical_id == cid
        assert primary.user_id == workout.user_id
        assert cid == canonical_id_for(primary.id)
        for member in members[cid]:
            if member != primary.id:
                assert not rows[member].is_primary
                assert rows[member].duplicate_of == primary.id
                assert rows[member].user_id == workout.user_id
        assert set(workout.field_sources) == set(workout.metrics)
        assert {ref["record_id"] for ref in workout.field_sources.values()} <= {
            str(m) for m in members[cid]
        }


def grouping(groups: list[Group]) -> dict[uuid.UUID, dict[str, Any]]:
    """{canonical id: its primary, members and reason} as the pure rules decide them."""
    return {
        canonical_id_for(g.primary.record.id): {
            "primary": g.primary.record.id,
            "members": frozenset(r.id for r in g.records),
            "reason": g.reason,
        }
        for g in groups
    }


async def stored_grouping(sessions: Sessions) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await records(sessions)
    members: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows.values():
        if row.canonical_id is not None:
            members.setdefault(row.canonical_id, set()).add(row.id)
    return {
        cid: {
            "primary": c.primary_record_id,
            "members": frozenset(members.get(cid, ())),
            "reason": c.reason,
        }
        for cid, c in (await canonicals(sessions)).items()
    }
