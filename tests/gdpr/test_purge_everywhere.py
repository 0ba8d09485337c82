"""After `user.purged`, nothing of the user is left in any service's schema or stream.

The user's data takes the real path through the suite: ingest's API, the outbox
relays, dedup's and analytics' stream consumers. Identity then announces the
deletion and the purge on `identity.events`, and each service's own worker
subscription (built by its `subscriptions()`, with the Redis it opens itself)
handles them. The checks ask the database catalogue and Redis, not the models:
a table or stream added later without erasure fails here.

Identity's own hard delete is tested with identity; here its schema is checked
for whatever tables it has, except the audit log, which keeps its snapshots
past erasure by design (Art. 17(3)).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from aurora_analytics.app import create_app as analytics_app
from aurora_analytics.config import AnalyticsSettings
from aurora_ingest.app import create_app as ingest_app
from aurora_ingest.config import IngestSettings
from aurora_shared.access import AUDIT_STREAM
from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.testing.gdpr import (
    IDENTITY_STREAM,
    rows_naming,
    stream_entries_naming,
    user_deleted,
    user_purged,
    xadd_event,
)
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from ..suite import SERVICES, Suite, running_suite

DATA_STREAMS = ("ingest.records", "dedup.timeline", "analytics.events")


def ride(ref: str, day: int) -> dict[str, Any]:
    return {
        "sport": "ride",
        "start": f"2026-10-{day:02d}T07:00:00+02:00",
        "duration_s": 5400,
        "client_ref": ref,
        "metrics": {"avg_hr": 142, "distance_m": 40_000},
    }


@pytest.fixture
async def suite(database_url: str, redis: Redis) -> AsyncIterator[Suite]:
    async with running_suite(database_url, redis) as built:
        yield built


async def test_purge_leaves_nothing_of_the_user_anywhere(
    suite: Suite, database_url: str, redis_url: str, redis: Redis, issuer: TestIssuer
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(
            running_app(
                ingest_app(
                    IngestSettings(database_url=database_url, redis_url=redis_url),
                    issuer.key_source(),
                )
            )
        )
        analytics = await stack.enter_async_context(
            running_app(
                analytics_app(
                    AnalyticsSettings(database_url=database_url, redis_url=redis_url),
                    issuer.key_source(),
                )
            )
        )
        await _live_through_the_suite(suite, ingest, analytics, issuer, alice, bob)
        late = (await redis.xrange("ingest.records", count=1))[0][1]
        assert json.loads(late["event"])["user_id"] == str(alice)
        # A consumer once dead-lettered one of alice's events.
        await redis.xadd(dlq_stream("ingest.records"), {**late, "error": "boom"})
        for schema in ("ingest", "dedup", "analytics"):
            assert any((await rows_naming(database_url, schema, alice)).values()), schema

        await xadd_event(redis, IDENTITY_STREAM, user_deleted(alice))
        await suite.settle()
        assert (await ingest.get("/records", headers=issuer.headers(alice))).status_code == 401
        await xadd_event(redis, IDENTITY_STREAM, user_purged(alice))
        await suite.settle()

        assert await stream_entries_naming(redis, DATA_STREAMS, alice) == {
            name: 0 for s in DATA_STREAMS for name in (s, dlq_stream(s))
        }
        # A copy of an old ingest event of alice arrives after the purge (a redelivery):
        # dedup must not bring her back.
        copy = await redis.xadd("ingest.records", late)
        await suite.settle()
        await redis.xdel("ingest.records", copy)

        for spec in SERVICES:
            left = await rows_naming(database_url, spec.schema, alice)
            assert {"outbox", "blocked_users"} <= set(left), spec.schema
            assert set(left.values()) == {0}, (spec.schema, left)
            kept = await rows_naming(database_url, spec.schema, bob)
            assert sum(kept.values()) > 0, (spec.schema, kept)
        identity_left = await rows_naming(database_url, "identity", alice, exclude={"audit_log"})
        assert "outbox" in identity_left  # identity's schema is there and was looked at
        assert set(identity_left.values()) == {0}, identity_left
        remaining = await stream_entries_naming(redis, DATA_STREAMS, bob)
        assert remaining["ingest.records"] == 1 and remaining["dedup.timeline"] == 1
        # The admin's look at alice's data stays on record, naming no user on its envelope.
        (audit,) = [json.loads(f["event"]) for _, f in await redis.xrange(AUDIT_STREAM)]
        assert audit["user_id"] is None
        assert audit["payload"]["subject_user_id"] == str(alice)
        # Bob is still served.
        bobs = await analytics.get("/analytics/workouts", headers=issuer.headers(bob))
        assert len(bobs.json()["items"]) == 1


async def _live_through_the_suite(
    suite: Suite,
    ingest: httpx.AsyncClient,
    analytics: httpx.AsyncClient,
    issuer: TestIssuer,
    alice: uuid.UUID,
    bob: uuid.UUID,
) -> None:
    """Alice records three rides and removes one, bob records one; everything settles."""
    ids = []
    for day, ref in ((1, "a1"), (2, "a2"), (3, "a3")):
        posted = await ingest.post(
            "/manual/workouts", json=ride(ref, day), headers=issuer.headers(alice)
        )
        assert posted.status_code == 202, posted.text
        ids.append(posted.json()["record_id"])
    removed = await ingest.delete(f"/manual/workouts/{ids[0]}", headers=issuer.headers(alice))
    assert removed.status_code == 204
    posted = await ingest.post("/manual/workouts", json=ride("b1", 4), headers=issuer.headers(bob))
    assert posted.status_code == 202
    await suite.settle()
    mine = await analytics.get("/analytics/workouts", headers=issuer.headers(alice))
    assert len(mine.json()["items"]) == 2
    admin = issuer.headers(uuid.uuid4(), role="admin")
    viewed = await analytics.get(f"/analytics/workouts?athlete_id={alice}", headers=admin)
    assert len(viewed.json()["items"]) == 2
    await suite.settle()
