"""Raw payloads: idempotent by the SHA-256 of the exact bytes, per user."""

from __future__ import annotations

import hashlib
import uuid

import asyncpg

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.raw.service import store_raw


async def test_the_same_bytes_are_stored_once_and_any_change_is_kept(
    kit: ProviderKit, db: asyncpg.Connection
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    body = b'{"id": 1, "name": "Morning Ride"}'
    reformatted = b'{"id":1,"name":"Morning Ride"}'  # same JSON, other bytes: other evidence
    ids = []
    for user, payload in ((alice, body), (alice, body), (alice, reformatted), (bob, body)):
        async with kit.sessions() as session, session.begin():
            ids.append(
                await store_raw(
                    session,
                    user_id=user,
                    provider="strava",
                    kind="activity",
                    external_id="1",
                    body=payload,
                )
            )
    assert ids[0] == ids[1]
    assert len(set(ids)) == 3
    rows = await db.fetch(
        "SELECT user_id, sha256, size_bytes, body, last_seen_at >= received_at AS seen "
        "FROM ingest.raw_payloads WHERE user_id = $1 ORDER BY received_at, sha256",
        alice,
    )
    assert sorted(r["sha256"] for r in rows) == sorted(
        hashlib.sha256(b).hexdigest() for b in (body, reformatted)
    )
    assert {bytes(r["body"]) for r in rows} == {body, reformatted}
    assert all(r["seen"] for r in rows)
