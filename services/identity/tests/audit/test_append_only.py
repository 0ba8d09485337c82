"""The audit log is append-only in PostgreSQL itself, for the owner and for other roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

INSERT = (
    "INSERT INTO identity.audit_log (actor_role, action, details) "
    "VALUES ('system', 'test.event', '{\"n\": 1}') RETURNING id"
)


@pytest.fixture
async def row(sessions: async_sessionmaker[AsyncSession], db: asyncpg.Connection) -> int:
    """One audit row in an emptied schema (`sessions` truncates it)."""
    entry_id: int = await db.fetchval(INSERT)
    return entry_id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE identity.audit_log SET action = 'tampered'",
        "UPDATE identity.audit_log SET details = '{}'::jsonb WHERE id = {id}",
        "DELETE FROM identity.audit_log",
        "DELETE FROM identity.audit_log WHERE id = {id}",
        "TRUNCATE identity.audit_log",
        "TRUNCATE identity.audit_log RESTART IDENTITY CASCADE",
    ],
)
async def test_owner_cannot_change_or_remove_rows(
    db: asyncpg.Connection, row: int, statement: str
) -> None:
    """The tests connect as the owner (a superuser even): only the trigger stands in the way."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement.replace("{id}", str(row)))
    stored = await db.fetchrow("SELECT action, details FROM identity.audit_log WHERE id = $1", row)
    assert stored is not None
    assert stored["action"] == "test.event"
    assert stored["details"] == '{"n": 1}'


async def test_nobody_holds_update_delete_or_truncate(db: asyncpg.Connection, row: int) -> None:
    holders = await db.fetch(
        """
        SELECT acl.grantee, acl.privilege_type
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS acl
        WHERE c.oid = 'identity.audit_log'::regclass
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
        """
    )
    assert holders == []
    # The owner keeps INSERT and SELECT: the service can still write and read.
    owner_privileges = await db.fetch(
        """
        SELECT acl.privilege_type
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) AS acl
        WHERE c.oid = 'identity.audit_log'::regclass AND acl.grantee = c.relowner
        """
    )
    assert {"INSERT", "SELECT"} <= {r["privilege_type"] for r in owner_privileges}


@pytest.fixture
async def app_role(db: asyncpg.Connection) -> AsyncIterator[str]:
    """A non-owner role like a production service's, with the privileges a service gets."""
    name = f"aurora_audit_probe_{uuid.uuid4().hex[:8]}"
    await db.execute(f"CREATE ROLE {name} NOLOGIN")
    await db.execute(f"GRANT USAGE ON SCHEMA identity TO {name}")
    await db.execute(f"GRANT SELECT, INSERT ON identity.audit_log TO {name}")
    await db.execute(f"GRANT USAGE ON SEQUENCE identity.audit_log_id_seq TO {name}")
    try:
        yield name
    finally:
        await db.execute("RESET ROLE")
        await db.execute(f"DROP OWNED BY {name}")
        await db.execute(f"DROP ROLE {name}")


async def test_a_service_role_is_refused_by_privileges_then_by_the_trigger(
    db: asyncpg.Connection, row: int, app_role: str
) -> None:
    await db.execute(f"SET ROLE {app_role}")
    assert await db.fetchval(INSERT) > row  # it may append
    for statement in (
        "UPDATE identity.audit_log SET action = 'x'",
        "DELETE FROM identity.audit_log",
        "TRUNCATE identity.audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await db.execute(statement)
    await db.execute("RESET ROLE")

    # Even a careless GRANT later does not open the table: the trigger still refuses.
    await db.execute(f"GRANT UPDATE, DELETE, TRUNCATE ON identity.audit_log TO {app_role}")
    await db.execute(f"SET ROLE {app_role}")
    for statement in (
        "UPDATE identity.audit_log SET action = 'x'",
        "DELETE FROM identity.audit_log",
        "TRUNCATE identity.audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(statement)
    await db.execute("RESET ROLE")
    assert await db.fetchval("SELECT count(*) FROM identity.audit_log") == 2
