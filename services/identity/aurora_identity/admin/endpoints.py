"""/admin/users/*: 403 for every caller who is not an admin (checklist 40)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.admin import service
from aurora_identity.admin.schemas import AdminUserOut, AdminUserStatusOut, RoleChangeIn
from aurora_identity.config import IdentitySettings
from aurora_identity.users.endpoints import Cache
from aurora_identity.users.models import User
from aurora_identity.users.service import current_admin
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session


async def require_admin(
    principal: Annotated[Principal, Depends(current_principal)],
    session: Annotated[AsyncSession, Depends(request_session)],
) -> User:
    """A dependency, so the 403 comes before any body validation: a non-admin learns
    nothing about what an admin route accepts."""
    return await current_admin(session, principal)


Admin = Annotated[User, Depends(require_admin)]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.patch("/users/{user_id}/role", response_model=AdminUserOut)
async def change_role(
    user_id: uuid.UUID,
    body: RoleChangeIn,
    *,
    request: Request,
    admin: Admin,
    session: Annotated[AsyncSession, Depends(request_session)],
    redis: Cache,
) -> AdminUserOut:
    settings: IdentitySettings = request.app.state.settings
    user = await service.change_role(
        session, redis, settings, admin=admin, user_id=user_id, role=body.role
    )
    return AdminUserOut.model_validate(user)


@router.post("/users/{user_id}/deactivate", response_model=AdminUserStatusOut)
async def deactivate(
    user_id: uuid.UUID,
    *,
    request: Request,
    admin: Admin,
    session: Annotated[AsyncSession, Depends(request_session)],
    redis: Cache,
) -> AdminUserStatusOut:
    """Suspends the account: its tokens fail at once in every service, sign-in is refused
    exactly like a wrong password. Idempotent."""
    settings: IdentitySettings = request.app.state.settings
    user = await service.deactivate(session, redis, settings, admin=admin, user_id=user_id)
    return AdminUserStatusOut.model_validate(user)


@router.post("/users/{user_id}/reactivate", response_model=AdminUserStatusOut)
async def reactivate(
    user_id: uuid.UUID,
    *,
    request: Request,
    admin: Admin,
    session: Annotated[AsyncSession, Depends(request_session)],
) -> AdminUserStatusOut:
    """Lifts the suspension; the user signs in again (old tokens stay dead). Idempotent."""
    settings: IdentitySettings = request.app.state.settings
    user = await service.reactivate(session, settings, admin=admin, user_id=user_id)
    return AdminUserStatusOut.model_validate(user)
