"""/auth/* and /.well-known/jwks.json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth import service
from aurora_identity.auth.schemas import JwksOut, LoginIn, RegisterIn, RegisterOut, TokenOut
from aurora_identity.auth.service import AuthContext
from aurora_identity.throttle.service import AttemptRefusedError
from aurora_shared.db import request_session

router = APIRouter(tags=["auth"])


def auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


Session = Annotated[AsyncSession, Depends(request_session)]
Context = Annotated[AuthContext, Depends(auth_context)]


@router.post("/auth/register", status_code=202, response_model=RegisterOut)
async def register(body: RegisterIn, session: Session, ctx: Context) -> RegisterOut:
    """202 with one fixed body, whether the email was new or already taken."""
    await service.register(session, ctx, body.email, body.password)
    return RegisterOut()


@router.post("/auth/login", response_model=TokenOut)
async def login(
    body: LoginIn, session: Session, ctx: Context, request: Request, response: Response
) -> TokenOut | JSONResponse:
    response.headers["Cache-Control"] = "no-store"
    try:
        return await service.login(session, ctx, body.email, body.password)
    except AttemptRefusedError as refused:
        # Returned, not raised: the failure count must commit with this answer.
        return refused.response(request.url.path)


@router.get("/.well-known/jwks.json", response_model=JwksOut)
async def jwks(session: Session, ctx: Context, response: Response) -> JwksOut:
    response.headers["Cache-Control"] = f"public, max-age={ctx.settings.jwks_max_age_s}"
    return await service.jwks(session, ctx)
