"""The bulk health path writes exactly what one store_health call per record writes.

Same rows, same events in the same order, for new keys, a key stored before
with other content (updated, revision 2), one stored before unchanged (no
event) and a key repeated inside one chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest

from aurora_ingest.apple import bulk_records
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.records.rules import HealthFields
from aurora_ingest.records.service import store_health

TZ = dt.timezone(dt.timedelta(hours=-7))


def fields(day: int, value: float, kind: str = "daily") -> HealthFields:
    start = dt.datetime(2024, 5, day, 0, 0, tzinfo=TZ)
    return HealthFields(
        kind=kind,
        date=start.date(),
        start_at=start,
        end_at=start + dt.timedelta(hours=8) if kind == "sleep" else None,
        tz_offset_min=-420,
        metrics={"resting_hr": value},
        origin_device="Apple Watch",
        details={"samples": int(value)},
    )


BEFORE = [("changed", fields(1, 50.0)), ("same", fields(2, 51.0))]
RECORDS = [
    ("new-1", fields(3, 52.0)),
    ("changed", fields(1, 49.0)),
    ("same", fields(2, 51.0)),
    ("new-2", fields(4, 8.0, "sleep")),
    ("new-1", fields(3, 53.0)),  # the same key again in one chunk
    *[(f"more-{i}", fields(5 + i % 20, float(i))) for i in range(7)],
]


async def stored(db: asyncpg.Connection, user: uuid.UUID) -> tuple[list[Any], list[Any]]:
    rows = await db.fetch(
        "SELECT external_id, kind, origin_device, local_date, start_at, end_at, duration_s,"
        " tz_offset_min, metrics::text, details::text, revision, deleted_at"
        " FROM ingest.records WHERE user_id = $1 ORDER BY external_id",
        user,
    )
    ids = {
        str(r["id"]): r["external_id"]
        for r in await db.fetch(
            "SELECT id, external_id FROM ingest.records WHERE user_id = $1", user
        )
    }
    events = []
    for row in await db.fetch(
        "SELECT event_type, envelope::text AS e FROM ingest.outbox WHERE user_id = $1 ORDER BY id",
        user,
    ):
        payload = json.loads(row["e"])["payload"]
        payload["record_id"] = ids[payload["record_id"]]  # ids differ, keys must not
        events.append((row["event_type"], payload))
    return [tuple(r) for r in rows], events


@pytest.mark.parametrize("chunk", [2, 500])
async def test_bulk_matches_one_call_per_record(
    kit: ProviderKit, db: asyncpg.Connection, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_records, "CHUNK", chunk)
    one, bulk = uuid.uuid4(), uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        for user in (one, bulk):
            for key, value in BEFORE:
                await store_health(
                    session, user_id=user, source="apple_health", external_id=key, fields=value
                )
        for key, value in RECORDS:
            await store_health(
                session, user_id=one, source="apple_health", external_id=key, fields=value
            )
        count = await bulk_records.store_health_bulk(
            session, user_id=bulk, source="apple_health", records=RECORDS
        )
    assert count == len(RECORDS)
    expected_rows, expected_events = await stored(db, one)
    rows, events = await stored(db, bulk)
    assert rows == expected_rows
    assert events == expected_events
    # 2 before, then every record but the unchanged "same": new-1 twice (insert, then update).
    assert len(events) == 2 + len(RECORDS) - 1
    assert {r[0]: r[10] for r in rows}["new-1"] == 2
