"""The complete truth table of the permission rules."""

from __future__ import annotations

import itertools
import uuid

import pytest

from aurora_shared.permissions import (
    ROLES,
    Actor,
    GrantView,
    Role,
    can_modify,
    can_view,
    view_needs_audit,
)

ME = uuid.UUID(int=1)
OWNER = uuid.UUID(int=2)
OTHER_COACH = uuid.UUID(int=3)
OTHER_ATHLETE = uuid.UUID(int=4)

# Grant variants between the actor (ME) and OWNER, plus grants that must not count.
GRANTS: dict[str, GrantView | None] = {
    "none": None,
    "read": GrantView(OWNER, ME, frozenset({"read"}), True),
    "read+phases": GrantView(OWNER, ME, frozenset({"read", "phases"}), True),
    "revoked": GrantView(OWNER, ME, frozenset({"read", "phases"}), False),
    "other coach": GrantView(OWNER, OTHER_COACH, frozenset({"read", "phases"}), True),
    "other athlete": GrantView(OTHER_ATHLETE, ME, frozenset({"read", "phases"}), True),
}


def expected(role: Role, own: bool, grant: str, action: str) -> bool:
    """The rules in words, written independently of the implementation."""
    if own:
        return True
    if action == "view":
        return role == "admin" or (role == "coach" and grant in ("read", "read+phases"))
    if action == "modify-phases":
        return role == "coach" and grant == "read+phases"
    return False  # modify-data: nobody but the owner, admins included


CASES = list(
    itertools.product(ROLES, (True, False), GRANTS, ("view", "modify-data", "modify-phases"))
)


@pytest.mark.parametrize(("role", "own", "grant", "action"), CASES)
def test_truth_table(role: Role, own: bool, grant: str, action: str) -> None:
    actor = Actor(ME, role)
    owner = ME if own else OWNER
    grant_view = GRANTS[grant]
    if action == "view":
        got = can_view(actor, owner, grant_view)
    elif action == "modify-data":
        got = can_modify(actor, owner, grant_view)
    else:
        got = can_modify(actor, owner, grant_view, scope="phases")
    assert got is expected(role, own, grant, action)


def test_table_is_complete() -> None:
    assert len(CASES) == len(ROLES) * 2 * len(GRANTS) * 3


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("own", [True, False])
def test_only_admin_views_of_others_are_audited(role: Role, own: bool) -> None:
    actor = Actor(ME, role)
    assert view_needs_audit(actor, ME if own else OWNER) is (role == "admin" and not own)
