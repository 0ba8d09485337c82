"""Who may see or change whose data: the one place every service asks.

Pure functions over an actor, the owner of the data and the grant between them
(if any), so every service decides identically and the rules can be tested as a
complete truth table:

- athletes own their data: they see and change it;
- admins may view athlete data but never change it, and each such view must be
  audited;
- coaches see an athlete only through an active grant; the `phases` scope also
  lets them plan training phases, nothing else.

A denied view must look like a missing resource (404), never 403, so callers
turn `can_view == False` into NotFound. A denied write on something the actor may
see is a 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["athlete", "coach", "admin"]
ROLES: tuple[Role, ...] = ("athlete", "coach", "admin")
SCOPES = frozenset({"read", "phases"})
WriteScope = Literal["data", "phases"]


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    role: Role


@dataclass(frozen=True)
class GrantView:
    athlete_id: uuid.UUID
    coach_id: uuid.UUID
    scopes: frozenset[str]
    active: bool


def _grant_covers(actor: Actor, owner_id: uuid.UUID, grant: GrantView | None, scope: str) -> bool:
    return (
        actor.role == "coach"
        and grant is not None
        and grant.active
        and grant.coach_id == actor.user_id
        and grant.athlete_id == owner_id
        and scope in grant.scopes
    )


def can_view(actor: Actor, owner_id: uuid.UUID, grant: GrantView | None = None) -> bool:
    if actor.user_id == owner_id:
        return True
    if actor.role == "admin":
        return True
    return _grant_covers(actor, owner_id, grant, "read")


def can_modify(
    actor: Actor,
    owner_id: uuid.UUID,
    grant: GrantView | None = None,
    *,
    scope: WriteScope = "data",
) -> bool:
    """Owners change their own data; a coach with the `phases` scope plans phases only."""
    if actor.user_id == owner_id:
        return True
    if scope == "phases":
        return _grant_covers(actor, owner_id, grant, "phases")
    return False


def view_needs_audit(actor: Actor, owner_id: uuid.UUID) -> bool:
    """Every admin look at someone else's data leaves an audit row."""
    return actor.role == "admin" and actor.user_id != owner_id
