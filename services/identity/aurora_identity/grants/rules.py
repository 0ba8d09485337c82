"""The grant state machine, as pure functions.

    invited   --(coach accepts)----> active
    requested --(athlete accepts)--> active
    invited/requested --(recipient declines)--> declined
    invited/requested/active --(either party revokes)--> revoked

The initiator withdraws a pending grant by revoking it; only the recipient can
accept or decline. `revoked` and `declined` are terminal: a new grant starts over.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["invited", "requested", "active", "revoked", "declined"]
Party = Literal["athlete", "coach"]
Action = Literal["accept", "decline", "revoke"]
Direction = Literal["invitation", "request"]

STATUSES: tuple[Status, ...] = ("invited", "requested", "active", "revoked", "declined")
PENDING: frozenset[str] = frozenset({"invited", "requested"})
OPEN: frozenset[str] = PENDING | {"active"}
ACTIONS: tuple[Action, ...] = ("accept", "decline", "revoke")
SCOPE_ORDER = ("read", "phases")


def normalise_scopes(scopes: Iterable[str]) -> list[str]:
    """`read` is always granted; the result is duplicate-free in a fixed order."""
    wanted = set(scopes) | {"read"}
    unknown = wanted - set(SCOPE_ORDER)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    return [s for s in SCOPE_ORDER if s in wanted]


def initial_status(direction: Direction) -> Status:
    return "invited" if direction == "invitation" else "requested"


def initiator_party(direction: Direction) -> Party:
    return "athlete" if direction == "invitation" else "coach"


def party_role(party: Party) -> str:
    """The account role each side of a grant must hold."""
    return party


def recipient(status: str) -> Party | None:
    """Who may accept or decline a pending grant."""
    if status == "invited":
        return "coach"
    if status == "requested":
        return "athlete"
    return None


def party_of(user_id: uuid.UUID, athlete_id: uuid.UUID, coach_id: uuid.UUID) -> Party | None:
    if user_id == athlete_id:
        return "athlete"
    if user_id == coach_id:
        return "coach"
    return None


def may_initiate(direction: Direction, initiator_role: str) -> bool:
    """Athletes invite, coaches request; anyone else gets a 403."""
    return initiator_role == party_role(initiator_party(direction))


def target_eligible(
    direction: Direction,
    initiator_id: uuid.UUID,
    target_id: uuid.UUID | None,
    target_role: str | None,
) -> bool:
    """Whether the other side exists, is someone else and holds the other role.

    The caller answers the same way whichever of these fails, so the answer cannot
    tell an unknown address from an account of the wrong role.
    """
    wanted: Party = "coach" if direction == "invitation" else "athlete"
    return target_id is not None and target_id != initiator_id and target_role == wanted


@dataclass(frozen=True)
class Outcome:
    """Either the next status, or why not: `forbidden` (403) or `conflict` (409)."""

    status: Status | None = None
    refusal: Literal["forbidden", "conflict"] | None = None
    reason: str = ""


def transition(status: str, action: Action, party: Party, role: str) -> Outcome:
    """The next status when `party` (holding account `role`) takes `action`."""
    if action == "revoke":
        # Either side may always end access, whatever their role has become.
        if status in OPEN:
            return Outcome(status="revoked")
        return Outcome(refusal="conflict", reason=f"grant is already {status}")
    if status not in PENDING:
        return Outcome(refusal="conflict", reason=f"grant is {status}, not pending")
    if party != recipient(status):
        return Outcome(refusal="forbidden", reason=f"only the invited party can {action}")
    if action == "accept":
        if role != party_role(party):
            return Outcome(refusal="forbidden", reason=f"only a {party} account can accept")
        return Outcome(status="active")
    return Outcome(status="declined")
