"""GET /audit: the log, for administrators only (403 for everyone else, checklist 40)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import service
from aurora_identity.audit.repository import AuditFilter
from aurora_identity.audit.schemas import AuditEntryOut, AuditPageOut
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_LIMIT = 500


@router.get("", response_model=AuditPageOut)
async def list_audit(
    *,
    principal: Annotated[Principal, Depends(current_principal)],
    session: Annotated[AsyncSession, Depends(request_session)],
    actor_id: uuid.UUID | None = None,
    subject_user_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> AuditPageOut:
    """Newest first; `from` is inclusive, `to` exclusive; `cursor` is the previous page's
    `next_cursor`."""
    since, until = service.as_utc(since), service.as_utc(until)
    if since is not None and until is not None and since > until:
        raise ProblemError(422, "'from' must not be after 'to'")
    where = AuditFilter(
        actor_id=actor_id,
        subject_user_id=subject_user_id,
        action=action,
        since=since,
        until=until,
        before_id=cursor,
    )
    entries, next_cursor = await service.search(session, principal, where, limit)
    return AuditPageOut(
        items=[AuditEntryOut.model_validate(e) for e in entries], next_cursor=next_cursor
    )
