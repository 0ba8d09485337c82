"""/manual/*: workouts entered by hand."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts.access import Caller
from aurora_ingest.manual import service
from aurora_ingest.manual.schemas import AcceptedOut, ManualWorkoutIn
from aurora_shared.db import request_session

router = APIRouter(prefix="/manual", tags=["manual"])

Session = Annotated[AsyncSession, Depends(request_session)]


@router.post("/workouts", status_code=202, response_model=AcceptedOut)
async def post_workout(body: ManualWorkoutIn, principal: Caller, session: Session) -> AcceptedOut:
    """202: stored and queued for dedup; the timeline shows it once dedup has run."""
    record_id = await service.accept_workout(session, user_id=principal.user_id, body=body)
    return AcceptedOut(record_id=record_id)


@router.delete("/workouts/{record_id}", status_code=204, response_class=Response)
async def delete_workout(record_id: uuid.UUID, principal: Caller, session: Session) -> Response:
    await service.remove_workout(session, user_id=principal.user_id, record_id=record_id)
    return Response(status_code=204)
