"""`/analytics/workouts`: the user's resolved workouts as analytics holds them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.workouts import service
from aurora_analytics.workouts.schemas import WorkoutPage
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session

router = APIRouter(prefix="/analytics/workouts", tags=["analytics"])


@router.get("", response_model=WorkoutPage)
async def list_workouts(
    principal: Annotated[Principal, Depends(current_principal)],
    session: Annotated[AsyncSession, Depends(request_session)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> WorkoutPage:
    return await service.list_workouts(session, principal.user_id, limit=limit)
