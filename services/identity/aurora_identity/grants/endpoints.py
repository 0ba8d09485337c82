"""/grants/*: invitations, requests, and what either side does with them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.grants import service
from aurora_identity.grants.schemas import (
    INVITATION_SENT,
    REQUEST_SENT,
    GrantOut,
    GrantPageOut,
    InvitationIn,
    RequestIn,
    SentOut,
)
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session

router = APIRouter(prefix="/grants", tags=["grants"])

Me = Annotated[Principal, Depends(current_principal)]
Session = Annotated[AsyncSession, Depends(request_session)]
StatusFilter = Literal["invited", "requested", "active", "revoked", "declined"]


@router.post("/invitations", status_code=202, response_model=SentOut)
async def invite(body: InvitationIn, principal: Me, session: Session) -> SentOut:
    """An athlete invites a coach. The answer never says whether the coach exists."""
    await service.initiate(
        session,
        principal,
        "invitation",
        email=body.coach_email,
        user_id=body.coach_id,
        scopes=body.scopes,
    )
    return SentOut(detail=INVITATION_SENT)


@router.post("/requests", status_code=202, response_model=SentOut)
async def request_access(body: RequestIn, principal: Me, session: Session) -> SentOut:
    """A coach asks an athlete. The answer never says whether the athlete exists."""
    await service.initiate(
        session,
        principal,
        "request",
        email=body.athlete_email,
        user_id=body.athlete_id,
        scopes=body.scopes,
    )
    return SentOut(detail=REQUEST_SENT)


@router.get("", response_model=GrantPageOut)
async def list_grants(
    principal: Me,
    session: Session,
    status: StatusFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> GrantPageOut:
    items, next_cursor = await service.list_mine(
        session, principal, status=status, cursor=cursor, limit=limit
    )
    return GrantPageOut(items=items, next_cursor=next_cursor)


@router.get("/{grant_id}", response_model=GrantOut)
async def get_grant(grant_id: uuid.UUID, principal: Me, session: Session) -> GrantOut:
    return await service.get(session, principal, grant_id)


@router.post("/{grant_id}/accept", response_model=GrantOut)
async def accept(grant_id: uuid.UUID, principal: Me, session: Session) -> GrantOut:
    """Only the invited party accepts; the coach side must hold a coach account."""
    return await service.act(session, principal, grant_id, "accept")


@router.post("/{grant_id}/decline", response_model=GrantOut)
async def decline(grant_id: uuid.UUID, principal: Me, session: Session) -> GrantOut:
    return await service.act(session, principal, grant_id, "decline")


@router.post("/{grant_id}/revoke", response_model=GrantOut)
async def revoke(grant_id: uuid.UUID, principal: Me, session: Session) -> GrantOut:
    """Either side, at any time while the grant is open."""
    return await service.act(session, principal, grant_id, "revoke")
