"""POST /auth/refresh: rotation, reuse detection, and one winner among parallel refreshes
(checklist item 24). A replay is a presentation after the race grace window: the tests
age `used_at` in the table instead of sleeping through the window."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import jwt
from redis.asyncio import Redis

from aurora_shared.revocation import sid_key

from .conftest import Identity, Login, age_used_tokens


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_login_opens_a_session_and_refresh_rotates_it(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    first = await login()
    sid = _claims(first["access_token"])["sid"]
    rotated = await identity.refresh(first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert set(second) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert second["refresh_token"] != first["refresh_token"]
    assert _claims(second["access_token"])["sid"] == sid
    assert (await identity.me(second["access_token"])).status_code == 200
    assert (await identity.me(first["access_token"])).status_code == 200  # still valid

    rows = await db.fetch(
        "SELECT id, parent_id, token_hash, used_at, revoked_at FROM identity.refresh_tokens"
        " WHERE family_id = $1 ORDER BY created_at",
        uuid.UUID(str(sid)),
    )
    assert len(rows) == 2
    assert rows[0]["used_at"] is not None and rows[1]["used_at"] is None
    assert rows[1]["parent_id"] == rows[0]["id"]
    assert all(r["revoked_at"] is None for r in rows)
    # Only hashes are stored, never the token.
    assert bytes(rows[0]["token_hash"]) == hashlib.sha256(first["refresh_token"].encode()).digest()
    dump = await db.fetchval("SELECT string_agg(t::text, ' ') FROM identity.refresh_tokens t")
    assert first["refresh_token"] not in dump and second["refresh_token"] not in dump

    third = await identity.refresh(second["refresh_token"])
    assert third.status_code == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    identity: Identity, login: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    first = await login()
    second = (await identity.refresh(first["refresh_token"])).json()
    third = (await identity.refresh(second["refresh_token"])).json()
    sid = str(_claims(third["access_token"])["sid"])
    assert (await identity.me(third["access_token"])).status_code == 200

    await age_used_tokens(db)
    reused = await identity.refresh(first["refresh_token"])
    assert reused.status_code == 401
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["detail"] == "invalid refresh token"

    # The newest refresh token is dead too, and so is every access token of the session.
    assert (await identity.refresh(third["refresh_token"])).status_code == 401
    for access in (first, second, third):
        me = await identity.me(access["access_token"])
        assert me.status_code == 401, me.text
    rows = await db.fetch(
        "SELECT revoked_at, revoke_reason FROM identity.refresh_tokens WHERE family_id = $1",
        uuid.UUID(sid),
    )
    assert len(rows) == 3
    assert all(r["revoked_at"] is not None for r in rows)
    assert {r["revoke_reason"] for r in rows} == {"reuse"}
    assert await db.fetchval(
        "SELECT count(*) FROM identity.revocations WHERE kind = 'sid' AND key = $1", sid
    )
    assert await redis.exists(sid_key(sid))


async def test_reuse_revokes_only_that_family(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    email = f"two-{uuid.uuid4().hex[:8]}@example.com"
    phone = await login(email)
    laptop = await login(email)
    await identity.refresh(phone["refresh_token"])
    await age_used_tokens(db)
    assert (await identity.refresh(phone["refresh_token"])).status_code == 401
    assert (await identity.me(phone["access_token"])).status_code == 401
    assert (await identity.me(laptop["access_token"])).status_code == 200
    assert (await identity.refresh(laptop["refresh_token"])).status_code == 200


async def test_parallel_refreshes_with_one_token_have_exactly_one_winner(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    for parallel in (2, 2, 2, 5, 8):
        tokens = await login()
        sid = uuid.UUID(str(_claims(tokens["access_token"])["sid"]))
        answers = await asyncio.gather(
            *(identity.refresh(tokens["refresh_token"]) for _ in range(parallel))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [401] * (parallel - 1), [a.text for a in answers]
        assert {a.json()["detail"] for a in answers if a.status_code == 401} <= {
            "invalid refresh token"
        }
        # No fork: the family got exactly one successor.
        children = await db.fetchval(
            "SELECT count(*) FROM identity.refresh_tokens WHERE family_id = $1 AND parent_id"
            " IS NOT NULL",
            sid,
        )
        assert children == 1
        # The losers raced within the grace window: nothing was revoked, and the winner's
        # session goes on (its refresh token rotates, its access token works).
        assert not await db.fetchval(
            "SELECT count(*) FROM identity.refresh_tokens WHERE family_id = $1"
            " AND revoked_at IS NOT NULL",
            sid,
        )
        winner = next(a for a in answers if a.status_code == 200).json()
        assert (await identity.me(winner["access_token"])).status_code == 200
        assert (await identity.me(tokens["access_token"])).status_code == 200
        following = await identity.refresh(winner["refresh_token"])
        assert following.status_code == 200, following.text
        assert (await identity.me(following.json()["access_token"])).status_code == 200


async def test_a_replay_after_the_race_window_revokes_the_winners_session(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    tokens = await login()
    answers = await asyncio.gather(*(identity.refresh(tokens["refresh_token"]) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert (await identity.me(winner["access_token"])).status_code == 200

    await age_used_tokens(db)  # the window is over: the same token is now a replay
    replay = await identity.refresh(tokens["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["detail"] == "invalid refresh token"
    assert (await identity.refresh(winner["refresh_token"])).status_code == 401
    assert (await identity.me(winner["access_token"])).status_code == 401
    assert (await identity.me(tokens["access_token"])).status_code == 401


async def test_the_race_window_is_configurable(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    """With no grace at all, a second presentation is a replay, however quick."""
    identity.app.state.auth.settings.refresh_race_grace_s = 0.0
    tokens = await login()
    first = await identity.refresh(tokens["refresh_token"])
    assert first.status_code == 200
    await db.execute(
        "UPDATE identity.refresh_tokens SET used_at = used_at - interval '1 millisecond'"
        " WHERE used_at IS NOT NULL"
    )
    assert (await identity.refresh(tokens["refresh_token"])).status_code == 401
    assert (await identity.refresh(first.json()["refresh_token"])).status_code == 401
    assert (await identity.me(first.json()["access_token"])).status_code == 401


async def test_unknown_expired_and_malformed_refresh_tokens(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    unknown = await identity.refresh("x" * 43)
    assert unknown.status_code == 401
    tokens = await login()
    await db.execute("UPDATE identity.refresh_tokens SET expires_at = now() - interval '1 second'")
    expired = await identity.refresh(tokens["refresh_token"])
    assert expired.status_code == 401
    assert expired.content == unknown.content
    # An expired token is refused but is not a reuse: the session's access token lives on.
    assert (await identity.me(tokens["access_token"])).status_code == 200
    for body in ({}, {"refresh_token": ""}, {"refresh_token": "x" * 257}, {"token": "x"}):
        answer = await identity.http.post("/auth/refresh", json=body)
        assert answer.status_code == 422, body
    extra = await identity.http.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"], "role": "admin"}
    )
    assert extra.status_code == 422


async def test_deleted_or_deactivated_users_cannot_refresh(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    for column in ("deleted_at", "deactivated_at"):
        email = f"{column[:3]}-{uuid.uuid4().hex[:8]}@example.com"
        tokens = await login(email)
        await db.execute(f"UPDATE identity.users SET {column} = now() WHERE email = $1", email)
        answer = await identity.refresh(tokens["refresh_token"])
        assert answer.status_code == 401, column
        assert answer.json()["detail"] == "invalid refresh token"


async def test_the_rotation_step_is_atomic_between_transactions(
    identity: Identity, login: Login
) -> None:
    """The second of two interleaved transactions waits on the row and then gets nothing,
    whatever the HTTP scheduling happened to be in the test above."""
    from datetime import UTC, datetime

    from aurora_identity.sessions import repository
    from aurora_identity.sessions.service import hash_token

    tokens = await login()
    digest = hash_token(tokens["refresh_token"])
    sessions = identity.app.state.runtime.sessionmaker
    async with sessions() as first, sessions() as second:
        won = await repository.mark_used(first, digest, datetime.now(UTC))
        assert won is not None
        late = asyncio.create_task(repository.mark_used(second, digest, datetime.now(UTC)))
        await asyncio.sleep(0.3)
        assert not late.done(), "the second UPDATE did not wait for the first transaction"
        await first.commit()
        assert await asyncio.wait_for(late, timeout=10) is None
        await second.rollback()
