"""/users/me and /users/me/password: the account of whoever holds the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth.endpoints import auth_context
from aurora_identity.auth.service import AuthContext
from aurora_identity.throttle.service import AttemptRefusedError
from aurora_identity.users import service
from aurora_identity.users.schemas import MeOut, PasswordChangeIn, ProfilePatch
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session

router = APIRouter(prefix="/users", tags=["users"])

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Session = Annotated[AsyncSession, Depends(request_session)]
Context = Annotated[AuthContext, Depends(auth_context)]


def runtime_redis(request: Request) -> Redis:
    """The process's Redis, where token revocations are cached for every service."""
    redis: Redis = request.app.state.runtime.redis
    return redis


Cache = Annotated[Redis, Depends(runtime_redis)]


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, session: Session) -> MeOut:
    user = await service.current_user(session, principal)
    return MeOut.model_validate(user)


@router.patch("/me", response_model=MeOut)
async def update_me(body: ProfilePatch, principal: CurrentPrincipal, session: Session) -> MeOut:
    user = await service.current_user(session, principal, for_update=True)
    await service.update_profile(session, user, body.changes())
    return MeOut.model_validate(user)


@router.post("/me/password", status_code=204, response_class=Response, response_model=None)
async def change_password(
    body: PasswordChangeIn,
    *,
    principal: CurrentPrincipal,
    session: Session,
    ctx: Context,
    redis: Cache,
    request: Request,
) -> Response:
    """204 on success; every token of the account issued before the change is revoked."""
    user = await service.current_user(session, principal)
    try:
        await service.change_password(
            session, redis, ctx, user, current=body.current_password, new=body.new_password
        )
    except AttemptRefusedError as refused:
        # Returned, not raised: the failed attempt must be counted (committed).
        return refused.response(request.url.path)
    return Response(status_code=204)
