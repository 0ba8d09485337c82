"""Each service's local mirror of identity's decisions: deleted users, erased users, grants.

A service cannot ask identity on every request or event (DESIGN.md §1: services
learn from events), so it keeps three small tables in its own schema, fed by
`identity.events`:

- `blocked_users`: soft-deleted accounts; the service stops serving them at once
  (401 on every authenticated route) and drops their incoming events;
- `erased_users`: the erasure log. It holds only a one-way digest of the purged
  user's random id, never the id itself, so no table has a `user_id` row of the
  user left; it exists so that an event redelivered or arriving late after the
  purge (at-least-once, any order) cannot bring the user's data back;
- `grants`: coach grants, newest `changed_at` wins, for `permissions.can_view`.

The shapes are identical in every service, so they are declared here once, like
the bus tables; each service's migration creates them in its own schema.

A deactivated (suspended) account is deliberately not mirrored here, and
`user.deactivated` / `user.reactivated` have no handler (consumers acknowledge
and skip them). Its tokens already fail at once in every service: deactivation
sets the user's revocation cutoff (aurora_shared.revocation), and identity
issues no new token until reactivation. `blocked_users` would do more harm than
good: services drop the incoming events of a blocked user, so a suspension
would silently lose the workouts recorded meanwhile, which a reactivated user
expects to find.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    delete,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.erasure import RedisOpener, erase_user_events
from aurora_shared.db import schema_metadata
from aurora_shared.permissions import SCOPES, GrantView

log = logging.getLogger("aurora.accounts")

IDENTITY_STREAM: Final = "identity.events"
USER_DELETED: Final = "user.deleted"
USER_PURGED: Final = "user.purged"
GRANT_CHANGED: Final = "grant.changed"


# -- identity's payloads, as every service reads them (unknown fields ignored) -----------


class UserDeleted(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: uuid.UUID
    deleted_at: AwareDatetime


class UserPurged(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: uuid.UUID


class GrantChanged(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    grant_id: uuid.UUID
    athlete_id: uuid.UUID
    coach_id: uuid.UUID
    scopes: list[str] = Field(max_length=len(SCOPES) * 4)
    active: bool
    changed_at: AwareDatetime


# -- tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountTables:
    blocked_users: Table
    erased_users: Table
    grants: Table


def account_tables(metadata: MetaData) -> AccountTables:
    assert metadata.schema, "account tables need a schema-bound MetaData"
    blocked = Table(
        "blocked_users",
        metadata,
        Column("user_id", UUID(as_uuid=True), primary_key=True),
        Column("deleted_at", DateTime(timezone=True), nullable=False),
        Column("blocked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    erased = Table(
        "erased_users",
        metadata,
        Column("user_digest", Text, primary_key=True),
        Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    grants = Table(
        "grants",
        metadata,
        Column("grant_id", UUID(as_uuid=True), primary_key=True),
        Column("athlete_id", UUID(as_uuid=True), nullable=False),
        Column("coach_id", UUID(as_uuid=True), nullable=False),
        Column("scopes", ARRAY(Text), nullable=False),
        Column("active", Boolean, nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
        Index("ix_grants_athlete_coach", "athlete_id", "coach_id"),
        Index("ix_grants_coach_id", "coach_id"),
    )
    return AccountTables(blocked_users=blocked, erased_users=erased, grants=grants)


def erased_digest(user_id: uuid.UUID) -> str:
    """One-way: the log can answer "was this id erased?" but never lists whom."""
    return hashlib.sha256(b"aurora-erased:" + user_id.bytes).hexdigest()


async def user_lock(session: AsyncSession, user_id: uuid.UUID, *, exclusive: bool) -> None:
    """Purges take it exclusively, event handlers shared, until the transaction ends.

    A handler that checked "not erased" just before a purge committed would
    otherwise write the user's rows back after the purge.
    """
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(
        text(f"SELECT {fn}(hashtextextended(:key, 0))"), {"key": f"aurora:user:{user_id}"}
    )


PurgeUser = Callable[[AsyncSession, Redis, uuid.UUID], Awaitable[None]]


@dataclass(frozen=True)
class ServicePurge:
    """What a service's purge erases besides its own rows: its outbox and streams."""

    outbox: Table
    streams: Sequence[str]
    log: logging.Logger


class IdentityMirror:
    """Reads and writes of the mirror tables; its `on_*` methods are bus handlers."""

    def __init__(self, tables: AccountTables) -> None:
        self.tables = tables

    def handlers(self, purge: PurgeUser, open_redis: RedisOpener) -> dict[str, Handler]:
        """The `identity.events` handlers of a consuming service; only the purge of its
        own rows differs between services, and `open_redis` gives that purge its Redis."""

        async def on_user_purged(session: AsyncSession, event: Envelope) -> None:
            payload = UserPurged.model_validate(event.payload)
            async with open_redis() as redis:
                await purge(session, redis, payload.user_id)

        return {
            USER_DELETED: self.on_user_deleted,
            USER_PURGED: on_user_purged,
            GRANT_CHANGED: self.on_grant_changed,
        }

    async def is_blocked(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        """Soft-deleted or erased: either way the service no longer serves the user."""
        blocked, erased = self.tables.blocked_users, self.tables.erased_users
        statement = select(
            exists().where(blocked.c.user_id == user_id)
            | exists().where(erased.c.user_digest == erased_digest(user_id))
        )
        return bool((await session.execute(statement)).scalar())

    async def is_erased(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        erased = self.tables.erased_users
        statement = select(exists().where(erased.c.user_digest == erased_digest(user_id)))
        return bool((await session.execute(statement)).scalar())

    async def grant_of(
        self, session: AsyncSession, athlete_id: uuid.UUID, coach_id: uuid.UUID
    ) -> GrantView | None:
        """The coach's active grants on the athlete, merged; None when there is none."""
        grants = self.tables.grants
        rows = (
            await session.execute(
                select(grants.c.scopes).where(
                    grants.c.athlete_id == athlete_id,
                    grants.c.coach_id == coach_id,
                    grants.c.active.is_(True),
                )
            )
        ).all()
        if not rows:
            return None
        scopes = frozenset(scope for row in rows for scope in row.scopes)
        return GrantView(athlete_id=athlete_id, coach_id=coach_id, scopes=scopes, active=True)

    async def on_user_deleted(self, session: AsyncSession, event: Envelope) -> None:
        payload = UserDeleted.model_validate(event.payload)
        if await self.is_erased(session, payload.user_id):
            return  # a redelivery after the purge must not leave a row naming the user
        blocked = self.tables.blocked_users
        await session.execute(
            insert(blocked)
            .values(user_id=payload.user_id, deleted_at=payload.deleted_at)
            .on_conflict_do_nothing(index_elements=[blocked.c.user_id])
        )
        log.info("user blocked", extra={"event_id": str(event.id)})

    async def on_grant_changed(self, session: AsyncSession, event: Envelope) -> None:
        payload = GrantChanged.model_validate(event.payload)
        if await self.is_erased(session, payload.athlete_id) or await self.is_erased(
            session, payload.coach_id
        ):
            return
        grants = self.tables.grants
        values = {
            "grant_id": payload.grant_id,
            "athlete_id": payload.athlete_id,
            "coach_id": payload.coach_id,
            # Scopes this service does not know grant nothing; keep only the known ones.
            "scopes": sorted(set(payload.scopes) & SCOPES),
            "active": payload.active,
            "changed_at": payload.changed_at,
        }
        statement = insert(grants).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[grants.c.grant_id],
                set_={name: statement.excluded[name] for name in values if name != "grant_id"},
                where=grants.c.changed_at < statement.excluded.changed_at,
            )
        )

    async def finish_purge(
        self,
        session: AsyncSession,
        redis: Redis,
        purge: ServicePurge,
        user_id: uuid.UUID,
        erased: Mapping[str, int],
    ) -> None:
        """The end every service's purge shares, after erasing its own rows: the user's
        outbox rows and stream entries, the mirror's rows, and one log line of counts."""
        report = await erase_user_events(session, redis, purge.outbox, purge.streams, user_id)
        await self.forget(session, user_id)
        purge.log.info(
            "user purged",
            extra={
                **erased,
                "outbox_rows": report.outbox_rows,
                "stream_entries": report.stream_entries,
            },
        )

    async def forget(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """The mirror's part of a purge: drop every row naming the user, log the digest."""
        t = self.tables
        await session.execute(delete(t.blocked_users).where(t.blocked_users.c.user_id == user_id))
        await session.execute(
            delete(t.grants).where(
                or_(t.grants.c.athlete_id == user_id, t.grants.c.coach_id == user_id)
            )
        )
        await session.execute(
            insert(t.erased_users)
            .values(user_digest=erased_digest(user_id))
            .on_conflict_do_nothing(index_elements=[t.erased_users.c.user_digest])
        )


def create_account_tables(connection: Connection, schema: str) -> None:
    """For each consuming service's accounts migration: one definition, three schemas."""
    tables = account_tables(schema_metadata(schema))
    for table in (tables.blocked_users, tables.erased_users, tables.grants):
        table.create(connection)


def drop_account_tables(connection: Connection, schema: str) -> None:
    tables = account_tables(schema_metadata(schema))
    for table in (tables.grants, tables.erased_users, tables.blocked_users):
        table.drop(connection)
