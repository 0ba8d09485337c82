"""`/priorities` and the timeline's manual links: the athlete's controls over dedup.

Writes act on the caller's own data only (an admin may view an athlete's
timeline, never change it); reads take `athlete_id` like the timeline does.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.accounts.access import VIEWS, Caller
from aurora_dedup.controls import service
from aurora_dedup.controls.domain import Domain
from aurora_dedup.controls.schemas import (
    LinkIn,
    LinkOut,
    LinkPage,
    PrioritiesChanged,
    PrioritiesIn,
    PrioritiesOut,
)
from aurora_shared.access import actor_of
from aurora_shared.db import request_session

priorities_router = APIRouter(prefix="/priorities", tags=["priorities"])
links_router = APIRouter(prefix="/timeline", tags=["timeline controls"])

SessionDep = Annotated[AsyncSession, Depends(request_session)]
AthleteId = Annotated[
    uuid.UUID | None, Query(description="whose controls; default: the caller's own")
]


@priorities_router.get("", response_model=PrioritiesOut)
async def get_priorities(
    principal: Caller, session: SessionDep, athlete_id: AthleteId = None
) -> PrioritiesOut:
    """Each domain's effective order, and which sources the athlete set."""
    owner = await VIEWS.owner(
        session, principal, athlete_id, resource="/priorities", missing="athlete"
    )
    return await service.priorities(session, owner)


@priorities_router.put("/{domain}", response_model=PrioritiesChanged)
async def put_priorities(
    domain: Domain, body: PrioritiesIn, principal: Caller, session: SessionDep
) -> PrioritiesChanged:
    """Replace the caller's choices for the domain; unnamed sources keep their default.
    A workouts order re-resolves every workout of the caller at once."""
    chosen: dict[str, int] = {source: value for source, value in body.root.items()}
    return await service.set_priorities(session, actor_of(principal), domain, chosen)


@priorities_router.delete("/{domain}", response_model=PrioritiesChanged)
async def delete_priorities(
    domain: Domain, principal: Caller, session: SessionDep
) -> PrioritiesChanged:
    """Back to the default order of the domain."""
    return await service.reset_priorities(session, actor_of(principal), domain)


@links_router.post("/links", response_model=LinkOut, status_code=201)
async def create_link(body: LinkIn, principal: Caller, session: SessionDep) -> LinkOut:
    """ "These are the same session" or "these are different sessions", over the caller's
    records; the latest decision about a pair wins, and it survives later events."""
    return await service.create_link(session, actor_of(principal), body.relation, body.record_ids)


@links_router.get("/links", response_model=LinkPage)
async def list_links(
    principal: Caller,
    session: SessionDep,
    athlete_id: AthleteId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LinkPage:
    owner = await VIEWS.owner(
        session, principal, athlete_id, resource="/timeline/links", missing="athlete"
    )
    return await service.links(session, owner, limit)


@links_router.delete("/links/{link_id}", status_code=204)
async def delete_link(link_id: uuid.UUID, principal: Caller, session: SessionDep) -> Response:
    """Withdraw a decision; an older link about the same records applies again."""
    await service.delete_link(session, actor_of(principal), link_id)
    return Response(status_code=204)


@links_router.post("/records/{record_id}/detach", response_model=LinkOut, status_code=201)
async def detach_record(record_id: uuid.UUID, principal: Caller, session: SessionDep) -> LinkOut:
    """Take one record out of its session: an "apart" link between it and each record it
    is grouped with now."""
    return await service.detach_record(session, actor_of(principal), record_id)
