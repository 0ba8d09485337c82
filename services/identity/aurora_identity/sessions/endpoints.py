"""/auth/refresh, /auth/logout and /auth/keys/rotate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.auth.keys import key_retention_s, rotate_key
from aurora_identity.auth.schemas import TokenOut
from aurora_identity.auth.service import AuthContext
from aurora_identity.sessions import service
from aurora_identity.sessions.schemas import KeyRotatedOut, RefreshIn
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError, problem_response

router = APIRouter(prefix="/auth", tags=["auth"])


def auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


def redis_client(request: Request) -> Redis:
    redis: Redis = request.app.state.runtime.redis
    return redis


Session = Annotated[AsyncSession, Depends(request_session)]
Context = Annotated[AuthContext, Depends(auth_context)]
Cache = Annotated[Redis, Depends(redis_client)]
Caller = Annotated[Principal, Depends(current_principal)]

_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Unknown, expired, revoked or reused refresh token."}
}


@router.post("/refresh", response_model=TokenOut, responses=_REFUSED)
async def refresh(
    body: RefreshIn,
    session: Session,
    ctx: Context,
    redis: Cache,
    response: Response,
) -> TokenOut | JSONResponse:
    """Rotates the refresh token. The refusal is returned, not raised, so that the
    revocation of a reused token's family commits with it."""
    response.headers["Cache-Control"] = "no-store"
    issued = await service.rotate(session, redis, ctx.settings, ctx.keys, body.refresh_token)
    if issued is None:
        return problem_response(
            401,
            "invalid refresh token",
            instance="/auth/refresh",
            headers={"Cache-Control": "no-store"},
        )
    return issued


@router.post("/logout", status_code=204)
async def logout(caller: Caller, session: Session, ctx: Context, redis: Cache) -> Response:
    """Revokes this session: its refresh tokens, and its access tokens in every service."""
    await service.logout(session, redis, ctx.settings, caller)
    return Response(status_code=204)


@router.post("/keys/rotate", response_model=KeyRotatedOut)
async def rotate_keys(
    caller: Caller, session: Session, ctx: Context, emergency: bool = False
) -> KeyRotatedOut:
    """Admins only. New tokens are signed at once with the key that was pre-published as
    the next one; the old key stays published until every token it signed has expired.
    `emergency=true` (a key leaked) deletes every key instead: all access tokens die, in
    other services as soon as their cached key sets expire."""
    if caller.role != "admin":
        raise ProblemError(403, "admin role required")
    rotation = await rotate_key(session, emergency=emergency)
    await audit.record(
        session,
        action=actions.KEYS_ROTATED,
        actor=caller,
        resource=f"signing_key:{rotation.kid}",
        details={"kid": rotation.kid, "next_kid": rotation.next_kid, "emergency": emergency},
    )
    ctx.keys.invalidate()
    retention = 0 if emergency else int(key_retention_s(ctx.settings.access_token_ttl_s))
    return KeyRotatedOut(
        kid=rotation.kid, next_kid=rotation.next_kid, retired_key_published_for_s=retention
    )
