"""Who the caller is, and whose data a request may show: one mechanism for every service.

`current_principal` proves a token is identity's and unrevoked; it cannot know
what a service learnt from `identity.events`. `principal_dependency` adds the
service's own answer (is this user soft-deleted here?), so a deleted user's
token that still verifies answers 401 on every route that uses it. Routes take
the principal only through that dependency; `unguarded_routes` lets a test prove it.

`ViewPolicy.owner` turns an optional `athlete_id` into the owner whose data the
request shows, following `aurora_shared.permissions`: a refusal is a 404 whose
body equals that of a missing resource, and an admin's look at someone else's
data writes an `audit.recorded` event in the request's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.auth import Principal, current_principal, unauthorized
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.db import request_session
from aurora_shared.errors import NotFoundError
from aurora_shared.permissions import ROLES, Actor, GrantView, Role, can_view, view_needs_audit

AUDIT_STREAM: Final = "audit.events"
AUDIT_RECORDED: Final = "audit.recorded"

BlockedPredicate = Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]
GrantLookup = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[GrantView | None]]
PrincipalDependency = Callable[[Principal, AsyncSession], Awaitable[Principal]]


def principal_dependency(is_blocked: BlockedPredicate) -> PrincipalDependency:
    """A FastAPI dependency: `current_principal`, then 401 when the service blocked the user.

    It shares the request's session (FastAPI caches `request_session` per request),
    so the check costs one indexed lookup and no extra connection.
    """

    async def authenticated_principal(
        principal: Annotated[Principal, Depends(current_principal)],
        session: Annotated[AsyncSession, Depends(request_session)],
    ) -> Principal:
        if await is_blocked(session, principal.user_id):
            raise unauthorized("account is no longer active")
        return principal

    return authenticated_principal


def actor_of(principal: Principal) -> Actor:
    """An unknown role claim gets no more than an athlete's rights."""
    role: Role = "athlete"
    for known in ROLES:
        if principal.role == known:
            role = known
    return Actor(user_id=principal.user_id, role=role)


def audit_recorded(
    actor: Actor,
    *,
    producer: str,
    action: str,
    subject_user_id: uuid.UUID,
    resource: str,
    details: dict[str, Any] | None = None,
) -> Envelope:
    """An event for identity's audit log.

    The envelope names no user: audit records outlive an erasure (Art. 17(3)), so a
    purge, which removes the events of the user named on the envelope, leaves them.
    """
    return new_event(
        AUDIT_RECORDED,
        producer=producer,
        user_id=None,
        payload={
            "actor_id": str(actor.user_id),
            "actor_role": actor.role,
            "action": action,
            "subject_user_id": str(subject_user_id),
            "resource": resource,
            "details": details or {},
        },
    )


@dataclass(frozen=True)
class ViewPolicy:
    """How one service decides whose data a read shows, and records admin reads."""

    producer: str
    outbox: Table
    grant_of: GrantLookup
    is_blocked: BlockedPredicate

    async def owner(
        self,
        session: AsyncSession,
        principal: Principal,
        athlete_id: uuid.UUID | None,
        *,
        resource: str,
        missing: str,
    ) -> uuid.UUID:
        """The user whose data to show; NotFoundError(missing) when the caller may not see it.

        `missing` must be what the route says for an unknown id, so that "exists but
        not yours" and "does not exist" answer the same body. A deleted athlete's
        data is no longer served to anyone. The audit event rides in `session`, so a
        request that fails afterwards (404 on the item) records nothing.
        """
        if athlete_id is None or athlete_id == principal.user_id:
            return principal.user_id
        actor = actor_of(principal)
        grant = (
            await self.grant_of(session, athlete_id, actor.user_id)
            if actor.role == "coach"
            else None
        )
        if not can_view(actor, athlete_id, grant) or await self.is_blocked(session, athlete_id):
            raise NotFoundError(missing)
        if view_needs_audit(actor, athlete_id):
            event = audit_recorded(
                actor,
                producer=self.producer,
                action="view",
                subject_user_id=athlete_id,
                resource=resource,
            )
            await enqueue(session, self.outbox, AUDIT_STREAM, event)
        return athlete_id


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


@dataclass(frozen=True)
class RouteView:
    methods: tuple[str, ...]
    path: str
    calls: tuple[Any, ...]  # every dependency callable in the route's tree


def route_views(app: FastAPI) -> list[RouteView]:
    """The app's API routes with their full paths and dependency trees.

    FastAPI >= 0.16x keeps included routers nested (their routes carry neither the
    prefix nor the router's dependencies); `iter_route_contexts` gives the effective ones.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI flattens on include_router
        routes: list[Any] = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = [
            c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)
        ]
    return [
        RouteView(
            methods=tuple(sorted(route.methods or ())),
            path=str(route.path),
            calls=tuple(_calls(route.dependant)),
        )
        for route in routes
    ]


def guarded_routes(app: FastAPI, guard: PrincipalDependency) -> list[RouteView]:
    return [view for view in route_views(app) if guard in view.calls]


def unguarded_routes(app: FastAPI, guard: PrincipalDependency) -> list[str]:
    """Routes that take a principal without the guard: each one would serve a blocked user."""
    return [
        f"{list(view.methods)} {view.path}"
        for view in route_views(app)
        if current_principal in view.calls and guard not in view.calls
    ]
