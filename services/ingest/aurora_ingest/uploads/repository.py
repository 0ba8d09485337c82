"""Queries over uploads and their per-file results. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.raw.models import RawPayload
from aurora_ingest.uploads.models import Upload, UploadFile


async def owned(
    session: AsyncSession, *, user_id: uuid.UUID, upload_id: uuid.UUID, for_update: bool = False
) -> Upload | None:
    statement = select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def locked(session: AsyncSession, upload_id: uuid.UUID) -> Upload | None:
    statement = select(Upload).where(Upload.id == upload_id).with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    limit: int,
    before: datetime | None,
    before_id: uuid.UUID | None,
) -> Sequence[Upload]:
    statement = select(Upload).where(Upload.user_id == user_id)
    if before is not None:
        if before_id is None:
            statement = statement.where(Upload.created_at < before)
        else:
            statement = statement.where(
                tuple_(Upload.created_at, Upload.id) < tuple_(before, before_id)
            )
    statement = statement.order_by(Upload.created_at.desc(), Upload.id.desc()).limit(limit)
    return (await session.scalars(statement)).all()


async def files_of(session: AsyncSession, upload_id: uuid.UUID) -> Sequence[UploadFile]:
    return (
        await session.scalars(
            select(UploadFile)
            .where(UploadFile.upload_id == upload_id)
            .order_by(UploadFile.position)
        )
    ).all()


async def done_positions(session: AsyncSession, upload_id: uuid.UUID) -> set[int]:
    rows = await session.scalars(
        select(UploadFile.position).where(UploadFile.upload_id == upload_id)
    )
    return set(rows)


async def already_imported(session: AsyncSession, *, user_id: uuid.UUID, sha256: str) -> bool:
    """These exact bytes were imported for this user before (their raw copy exists)."""
    statement = select(
        exists().where(
            RawPayload.user_id == user_id, RawPayload.sha256 == sha256, RawPayload.kind == "fit"
        )
    )
    return bool(await session.scalar(statement))


async def add_result(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(UploadFile(**values))
    await session.flush()


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    erased: dict[str, int] = {}
    for table in (UploadFile, Upload):
        result = await session.execute(delete(table).where(table.user_id == user_id))
        erased[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    return erased


async def all_uploads(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Upload]:
    """A user's uploads are few (files are many, and read per upload)."""
    return (
        await session.scalars(
            select(Upload).where(Upload.user_id == user_id).order_by(Upload.created_at, Upload.id)
        )
    ).all()
