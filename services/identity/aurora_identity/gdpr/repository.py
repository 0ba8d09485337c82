"""Queries of the GDPR flows; callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.db import SCHEMA
from aurora_identity.gdpr.models import ExportRequest


async def claim_export(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, interval: timedelta
) -> datetime | None:
    """Take the user's export slot; None when taken, else when the last export was.

    One conditional upsert: of two parallel requests, the second waits on the row
    lock, then sees the first's timestamp and gets nothing back.
    """
    table = ExportRequest.__table__
    claimed = await session.execute(
        insert(ExportRequest)
        .values(user_id=user_id, requested_at=now)
        .on_conflict_do_update(
            index_elements=[ExportRequest.user_id],
            set_={"requested_at": now},
            where=table.c.requested_at <= now - interval,
        )
        .returning(ExportRequest.user_id)
    )
    if claimed.first() is not None:
        return None
    last = await session.execute(
        select(ExportRequest.requested_at).where(ExportRequest.user_id == user_id)
    )
    return last.scalar_one()


async def forget_exports(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        delete(ExportRequest)
        .where(ExportRequest.user_id.in_(user_ids))
        .execution_options(synchronize_session=False)
    )


# Tables of other identity domains exported by name, so this module needs none of
# their code: (table, columns naming the user).
GRANTS_TABLE = ("grants", ("athlete_id", "coach_id"))
# One row per issued refresh token (a family is a session); their hashes are dropped.
SESSIONS_TABLE = ("refresh_tokens", ("user_id",))
SECRET_COLUMN_MARKERS = ("hash", "secret", "password", "private", "token")


async def table_rows(
    session: AsyncSession, table: str, user_columns: Sequence[str], user_id: uuid.UUID
) -> list[dict[str, Any]] | None:
    """The user's rows of `SCHEMA.table` as JSON-ready dicts, or None if the table is absent.

    Names come from the constants above, never from input; secret-looking columns
    are dropped whatever the table, so a new hash column cannot leak by accident.
    """
    exists = await session.execute(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{SCHEMA}.{table}"}
    )
    if not exists.scalar_one():
        return None
    where = " OR ".join(f'"{column}" = :user_id' for column in user_columns)
    result = await session.execute(
        text(f'SELECT * FROM {SCHEMA}."{table}" WHERE {where}'), {"user_id": user_id}
    )
    rows: list[dict[str, Any]] = []
    for row in result.mappings():
        kept = {
            name: value
            for name, value in row.items()
            if not any(marker in name.lower() for marker in SECRET_COLUMN_MARKERS)
        }
        rows.append(to_jsonable_python(kept))
    return rows
