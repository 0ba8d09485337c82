"""DELETE /users/me and GET /users/me/export: the account holder's GDPR rights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth.endpoints import auth_context
from aurora_identity.auth.service import AuthContext
from aurora_identity.gdpr import service
from aurora_identity.gdpr.schemas import DeleteAccountIn, DeletionOut, ExportOut
from aurora_identity.throttle.service import AttemptRefusedError
from aurora_identity.users.endpoints import Cache
from aurora_shared.auth import Principal, bearer_token, current_principal
from aurora_shared.db import request_session

router = APIRouter(prefix="/users", tags=["gdpr"])

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Session = Annotated[AsyncSession, Depends(request_session)]
Context = Annotated[AuthContext, Depends(auth_context)]


@router.delete("/me", status_code=202, response_model=DeletionOut)
async def delete_me(
    body: Annotated[DeleteAccountIn, Body()],
    *,
    principal: CurrentPrincipal,
    session: Session,
    ctx: Context,
    redis: Cache,
    request: Request,
) -> DeletionOut | JSONResponse:
    """Needs the password again; 202 because the purge happens after the grace period."""
    try:
        return await service.delete_account(session, redis, ctx, principal, body.password)
    except AttemptRefusedError as refused:
        # Returned, not raised: the failed attempt must be counted (committed).
        return refused.response(request.url.path)


@router.get("/me/export", response_model=ExportOut)
async def export_me(
    principal: CurrentPrincipal,
    session: Session,
    ctx: Context,
    request: Request,
    response: Response,
) -> ExportOut:
    """At most once per 24 hours (429 with Retry-After otherwise)."""
    archive = await service.export(session, ctx, principal, bearer_token(request))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="aurora-export-{archive.generated_at:%Y%m%d}.json"'
    )
    return archive
