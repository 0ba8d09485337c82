"""/users/*: the account of whoever holds the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.users import service
from aurora_identity.users.schemas import MeOut
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=MeOut)
async def me(
    principal: Annotated[Principal, Depends(current_principal)],
    session: Annotated[AsyncSession, Depends(request_session)],
) -> MeOut:
    user = await service.current_user(session, principal)
    return MeOut.model_validate(user)
