"""The identity mirror every service keeps, and the access rules built on it.

A throwaway schema holds the mirror tables and an outbox, as a service's schema would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_shared.access import (
    AUDIT_RECORDED,
    AUDIT_STREAM,
    ViewPolicy,
    actor_of,
    principal_dependency,
    unguarded_routes,
)
from aurora_shared.accounts import IdentityMirror, account_tables, erased_digest
from aurora_shared.auth import Principal, current_principal
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.tables import bus_tables
from aurora_shared.db import make_engine, make_sessionmaker, request_session, schema_metadata
from aurora_shared.errors import NotFoundError, install_problem_handlers
from aurora_shared.permissions import GrantView
from aurora_shared.testing.gdpr import deliver, grant_changed, user_deleted

SCHEMA = "accountstest"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Env:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    mirror: IdentityMirror
    outbox: Table


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    metadata = schema_metadata(SCHEMA)
    tables = account_tables(metadata)
    bus = bus_tables(metadata)
    engine = make_engine(database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.run_sync(metadata.create_all)
    try:
        yield Env(engine, make_sessionmaker(engine), IdentityMirror(tables), bus.outbox)
    finally:
        await engine.dispose()


def handlers(mirror: IdentityMirror) -> dict[str, Handler]:
    return {"user.deleted": mirror.on_user_deleted, "grant.changed": mirror.on_grant_changed}


async def apply(env: Env, event: Envelope) -> None:
    await deliver(env.sessions, handlers(env.mirror), event)


async def grant_of(env: Env, athlete: uuid.UUID, coach: uuid.UUID) -> GrantView | None:
    async with env.sessions() as session:
        return await env.mirror.grant_of(session, athlete, coach)


async def blocked(env: Env, user: uuid.UUID) -> bool:
    async with env.sessions() as session:
        return await env.mirror.is_blocked(session, user)


# -- grants ------------------------------------------------------------------------------


async def test_newest_grant_change_wins_in_any_order(env: Env) -> None:
    athlete, coach, grant = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def change(active: bool, minutes: int, scopes: tuple[str, ...] = ("read",)) -> Envelope:
        return grant_changed(
            grant_id=grant,
            athlete_id=athlete,
            coach_id=coach,
            active=active,
            changed_at=T0 + timedelta(minutes=minutes),
            scopes=scopes,
        )

    await apply(env, change(True, 2, ("read", "phases", "admin-everything")))
    view = await grant_of(env, athlete, coach)
    assert view is not None
    assert view.scopes == frozenset({"read", "phases"})
    await apply(env, change(False, 1))  # older: ignored
    assert await grant_of(env, athlete, coach) is not None
    await apply(env, change(False, 2))  # same instant: the first one stays
    assert await grant_of(env, athlete, coach) is not None
    await apply(env, change(False, 3))  # revoked
    assert await grant_of(env, athlete, coach) is None
    await apply(env, change(True, 2))  # a late redelivery cannot revive it
    assert await grant_of(env, athlete, coach) is None
    # The grant is directional: the athlete is not the coach's coach.
    assert await grant_of(env, coach, athlete) is None


async def test_active_grants_of_one_pair_are_merged(env: Env) -> None:
    athlete, coach = uuid.uuid4(), uuid.uuid4()
    for scopes in (("read",), ("phases",)):
        await apply(
            env,
            grant_changed(
                grant_id=uuid.uuid4(),
                athlete_id=athlete,
                coach_id=coach,
                active=True,
                changed_at=T0,
                scopes=scopes,
            ),
        )
    view = await grant_of(env, athlete, coach)
    assert view is not None
    assert view.scopes == frozenset({"read", "phases"})


# -- deletion and erasure ----------------------------------------------------------------


async def test_deleted_user_is_blocked_and_erased_user_leaves_only_a_digest(env: Env) -> None:
    gone, coach, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert not await blocked(env, gone)
    await apply(env, user_deleted(gone))
    await apply(env, user_deleted(gone))  # redelivered: still one row
    assert await blocked(env, gone)
    assert not await blocked(env, other)
    for athlete, c in ((gone, coach), (other, gone), (other, coach)):
        await apply(
            env,
            grant_changed(
                grant_id=uuid.uuid4(), athlete_id=athlete, coach_id=c, active=True, changed_at=T0
            ),
        )

    async with env.sessions() as session, session.begin():
        await env.mirror.forget(session, gone)
        await env.mirror.forget(session, gone)  # idempotent

    async with env.engine.connect() as conn:
        blocked_rows = (
            await conn.execute(text(f"SELECT user_id FROM {SCHEMA}.blocked_users"))
        ).all()
        grants = (
            await conn.execute(text(f"SELECT athlete_id, coach_id FROM {SCHEMA}.grants"))
        ).all()
        erased = (await conn.execute(text(f"SELECT user_digest FROM {SCHEMA}.erased_users"))).all()
    assert blocked_rows == []
    assert grants == [(other, coach)]
    assert erased == [(erased_digest(gone),)]
    assert str(gone) not in erased[0][0] and gone.hex not in erased[0][0]
    # Still not served, and late events cannot write the id back.
    assert await blocked(env, gone)
    await apply(env, user_deleted(gone))
    await apply(
        env,
        grant_changed(
            grant_id=uuid.uuid4(), athlete_id=gone, coach_id=coach, active=True, changed_at=T0
        ),
    )
    async with env.engine.connect() as conn:
        assert (
            await conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.blocked_users"))
        ).scalar() == 0
        assert (await conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.grants"))).scalar() == 1


async def test_reapplying_an_erasure_after_a_restore_removes_the_restored_rows(env: Env) -> None:
    """Checklist 48: a backup from before the purge brings the rows back (and may lack the
    erasure log's digest); the purge handler, run again for the id from identity's audit
    trail, removes them and leaves exactly one digest, however often it runs."""
    gone, coach = uuid.uuid4(), uuid.uuid4()
    async with env.sessions() as session, session.begin():
        await env.mirror.forget(session, gone)
    for wipe_digest in (True, False):
        async with env.engine.begin() as conn:  # the restore
            if wipe_digest:
                await conn.execute(text(f"DELETE FROM {SCHEMA}.erased_users"))
            await conn.execute(
                text(f"INSERT INTO {SCHEMA}.blocked_users (user_id, deleted_at) VALUES (:u, :t)"),
                {"u": gone, "t": T0},
            )
            await conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.grants (grant_id, athlete_id, coach_id, scopes,"
                    " active, changed_at) VALUES (:g, :a, :c, ARRAY['read'], true, :t)"
                ),
                {"g": uuid.uuid4(), "a": gone, "c": coach, "t": T0},
            )
        for _ in range(2):
            async with env.sessions() as session, session.begin():
                await env.mirror.forget(session, gone)
        async with env.engine.connect() as conn:
            for table in ("blocked_users", "grants"):
                count = (
                    await conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.{table}"))
                ).scalar()
                assert count == 0, table
            erased = (
                await conn.execute(text(f"SELECT user_digest FROM {SCHEMA}.erased_users"))
            ).all()
        assert erased == [(erased_digest(gone),)]
        assert await blocked(env, gone)


# -- whose data a read shows -------------------------------------------------------------


def policy(env: Env) -> ViewPolicy:
    return ViewPolicy(
        producer="test",
        outbox=env.outbox,
        grant_of=env.mirror.grant_of,
        is_blocked=env.mirror.is_blocked,
    )


async def owner_for(env: Env, principal: Principal, athlete: uuid.UUID | None) -> uuid.UUID:
    async with env.sessions() as session, session.begin():
        return await policy(env).owner(
            session, principal, athlete, resource="/things", missing="thing"
        )


async def audit_rows(env: Env) -> list[tuple[Any, ...]]:
    async with env.engine.connect() as conn:
        rows = await conn.execute(
            select(
                env.outbox.c.stream,
                env.outbox.c.event_type,
                env.outbox.c.user_id,
                env.outbox.c.envelope,
            )
        )
        return [tuple(r) for r in rows]


def who(role: str) -> Principal:
    return Principal(user_id=uuid.uuid4(), role=role, claims={})


async def test_owner_follows_the_permission_rules(env: Env) -> None:
    athlete = uuid.uuid4()
    me = who("athlete")
    assert await owner_for(env, me, None) == me.user_id
    assert await owner_for(env, me, me.user_id) == me.user_id
    with pytest.raises(NotFoundError) as refused:
        await owner_for(env, me, athlete)
    assert refused.value.detail == "thing not found"

    coach = who("coach")
    with pytest.raises(NotFoundError):
        await owner_for(env, coach, athlete)
    await apply(
        env,
        grant_changed(
            grant_id=uuid.uuid4(),
            athlete_id=athlete,
            coach_id=coach.user_id,
            active=True,
            changed_at=T0,
        ),
    )
    assert await owner_for(env, coach, athlete) == athlete
    # Another coach gains nothing from that grant; a made-up role is an athlete.
    with pytest.raises(NotFoundError):
        await owner_for(env, who("coach"), athlete)
    with pytest.raises(NotFoundError):
        await owner_for(env, who("superuser"), athlete)
    assert await audit_rows(env) == []


async def test_admin_views_are_audited_without_naming_a_user_on_the_envelope(env: Env) -> None:
    athlete = uuid.uuid4()
    admin = who("admin")
    assert await owner_for(env, admin, admin.user_id) == admin.user_id
    assert await audit_rows(env) == []  # their own data: nothing to audit
    assert await owner_for(env, admin, athlete) == athlete
    ((stream, event_type, user_id, raw),) = await audit_rows(env)
    assert (stream, event_type, user_id) == (AUDIT_STREAM, AUDIT_RECORDED, None)
    envelope = json.loads(raw)
    assert envelope["user_id"] is None
    assert envelope["payload"] == {
        "actor_id": str(admin.user_id),
        "actor_role": "admin",
        "action": "view",
        "subject_user_id": str(athlete),
        "resource": "/things",
        "details": {},
    }


async def test_a_deleted_athlete_is_served_to_nobody(env: Env) -> None:
    athlete = uuid.uuid4()
    coach = who("coach")
    await apply(
        env,
        grant_changed(
            grant_id=uuid.uuid4(),
            athlete_id=athlete,
            coach_id=coach.user_id,
            active=True,
            changed_at=T0,
        ),
    )
    await apply(env, user_deleted(athlete))
    for viewer in (coach, who("admin")):
        with pytest.raises(NotFoundError):
            await owner_for(env, viewer, athlete)
    assert await audit_rows(env) == []


def test_actor_of_never_grants_more_than_the_claim_says() -> None:
    for role in ("athlete", "coach", "admin"):
        assert actor_of(who(role)).role == role
    for role in ("", "Admin", "root", "admin "):
        assert actor_of(who(role)).role == "athlete"


# -- the route guard ---------------------------------------------------------------------


async def test_guard_refuses_blocked_users_and_the_checker_finds_unguarded_routes() -> None:
    blocked_user, fine_user = uuid.uuid4(), uuid.uuid4()
    sentinel: Any = object()

    async def is_blocked(session: AsyncSession, user_id: uuid.UUID) -> bool:
        assert session is sentinel  # the request's own session, shared with the endpoint
        return user_id == blocked_user

    guard = principal_dependency(is_blocked)
    app = FastAPI()
    install_problem_handlers(app)
    caller: dict[str, uuid.UUID] = {}

    async def fake_principal() -> Principal:
        return Principal(user_id=caller["id"], role="athlete", claims={})

    async def fake_session() -> object:
        return sentinel

    app.dependency_overrides[current_principal] = fake_principal
    app.dependency_overrides[request_session] = fake_session

    # A default, not Annotated: the annotation is a string here, and `guard` is local.
    @app.get("/guarded")
    async def guarded(principal: Principal = Depends(guard)) -> dict[str, str]:
        return {"user": str(principal.user_id)}

    assert unguarded_routes(app, guard) == []

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        caller["id"] = fine_user
        assert (await client.get("/guarded")).json() == {"user": str(fine_user)}
        caller["id"] = blocked_user
        refused = await client.get("/guarded")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == "Bearer"

    @app.get("/leaky")
    async def leaky(principal: Annotated[Principal, Depends(current_principal)]) -> None:
        return None

    @app.get("/public")
    async def public() -> None:
        return None

    assert unguarded_routes(app, guard) == ["['GET'] /leaky"]
