"""Outbox, inbox and bus-state tables, created inside each service's own schema.

The outbox and inbox live in PostgreSQL because PostgreSQL is the source of
truth; Redis is only the transport and may lose everything on a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Connection

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    """Schema names are interpolated into SQL, so only plain identifiers pass."""
    if not _IDENT.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def notify_channel(schema: str) -> str:
    return f"{checked_schema(schema)}_outbox"


@dataclass(frozen=True)
class BusTables:
    outbox: Table
    inbox: Table
    state: Table


def bus_tables(metadata: MetaData) -> BusTables:
    schema = metadata.schema
    assert schema, "bus tables need a schema-bound MetaData"
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("stream", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("user_id", UUID(as_uuid=True), nullable=True),
        # The serialised envelope, relayed verbatim.
        Column("envelope", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("stream_entry_id", Text, nullable=True),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at"),
        Index("ix_outbox_user_id", "user_id"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer_group", Text, nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("stream", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer_group", "event_id", name="pk_inbox"),
        Index("ix_inbox_processed_at", "processed_at"),
    )
    state = Table(
        "bus_state",
        metadata,
        Column("name", Text, primary_key=True),
        Column("value", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return BusTables(outbox=outbox, inbox=inbox, state=state)


def notify_trigger_ddl(schema: str) -> list[str]:
    """Statement-level trigger: one NOTIFY per INSERT statement wakes the relay."""
    s = checked_schema(schema)
    channel = notify_channel(s)
    return [
        f"""
        CREATE OR REPLACE FUNCTION {s}.outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{channel}', '');
            RETURN NULL;
        END $$;
        """,
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON {s}.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.outbox_notify();
        """,
    ]


def drop_notify_trigger_ddl(schema: str) -> list[str]:
    s = checked_schema(schema)
    return [
        f"DROP TRIGGER IF EXISTS outbox_notify ON {s}.outbox",
        f"DROP FUNCTION IF EXISTS {s}.outbox_notify()",
    ]


def create_bus_tables(connection: Connection, schema: str) -> None:
    """For a service's first migration: the tables frozen at their version-1 shape."""
    tables = bus_tables(_named_metadata(schema))
    for table in (tables.outbox, tables.inbox, tables.state):
        table.create(connection)
    for ddl in notify_trigger_ddl(schema):
        connection.execute(text(ddl))


def drop_bus_tables(connection: Connection, schema: str) -> None:
    for ddl in drop_notify_trigger_ddl(schema):
        connection.execute(text(ddl))
    tables = bus_tables(_named_metadata(schema))
    for table in (tables.state, tables.inbox, tables.outbox):
        table.drop(connection)


def _named_metadata(schema: str) -> MetaData:
    # The services' naming convention, so migrations and ORM metadata name constraints alike.
    from aurora_shared.db import schema_metadata

    return schema_metadata(checked_schema(schema))
