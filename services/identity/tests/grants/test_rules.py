"""The grant state machine as a complete truth table, and the eligibility rules."""

from __future__ import annotations

import itertools
import uuid

import pytest

from aurora_identity.grants import rules
from aurora_identity.grants.rules import Outcome

A, F, C = "active", "forbidden", "conflict"

# (status, action, party) -> next status, or the refusal; the acting party holds the
# account role of its side. All 5 x 3 x 2 combinations, written out.
TABLE: dict[tuple[str, str, str], str] = {
    ("invited", "accept", "coach"): A,
    ("invited", "accept", "athlete"): F,
    ("invited", "decline", "coach"): "declined",
    ("invited", "decline", "athlete"): F,
    ("invited", "revoke", "coach"): "revoked",
    ("invited", "revoke", "athlete"): "revoked",
    ("requested", "accept", "athlete"): A,
    ("requested", "accept", "coach"): F,
    ("requested", "decline", "athlete"): "declined",
    ("requested", "decline", "coach"): F,
    ("requested", "revoke", "athlete"): "revoked",
    ("requested", "revoke", "coach"): "revoked",
    ("active", "accept", "athlete"): C,
    ("active", "accept", "coach"): C,
    ("active", "decline", "athlete"): C,
    ("active", "decline", "coach"): C,
    ("active", "revoke", "athlete"): "revoked",
    ("active", "revoke", "coach"): "revoked",
    **{
        (status, action, party): C
        for status in ("revoked", "declined")
        for action in rules.ACTIONS
        for party in ("athlete", "coach")
    },
}


def test_table_is_complete() -> None:
    combos = set(itertools.product(rules.STATUSES, rules.ACTIONS, ("athlete", "coach")))
    assert set(TABLE) == combos


def _expected(status: str, action: str, party: str, role: str) -> str:
    outcome = TABLE[(status, action, party)]
    # Accepting also needs the account to still hold the role of its side.
    if outcome == A and role != party:
        return F
    return outcome


@pytest.mark.parametrize(
    ("status", "action", "party", "role"),
    list(
        itertools.product(
            rules.STATUSES, rules.ACTIONS, ("athlete", "coach"), ("athlete", "coach", "admin")
        )
    ),
)
def test_transition_truth_table(status: str, action: str, party: str, role: str) -> None:
    outcome = rules.transition(status, action, party, role)  # type: ignore[arg-type]
    expected = _expected(status, action, party, role)
    if expected in (F, C):
        assert outcome.status is None
        assert outcome.refusal == expected
        assert outcome.reason
    else:
        assert outcome == Outcome(status=expected)  # type: ignore[arg-type]


def test_only_open_grants_can_end_and_terminal_states_stay_terminal() -> None:
    for status in ("revoked", "declined"):
        for action in rules.ACTIONS:
            assert rules.transition(status, action, "athlete", "athlete").refusal == C


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ([], ["read"]),
        (["read"], ["read"]),
        (["phases"], ["read", "phases"]),
        (["phases", "read", "phases"], ["read", "phases"]),
    ],
)
def test_scopes_always_include_read(given: list[str], stored: list[str]) -> None:
    assert rules.normalise_scopes(given) == stored


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        rules.normalise_scopes(["read", "write"])


@pytest.mark.parametrize(
    ("direction", "role", "allowed"),
    [
        ("invitation", "athlete", True),
        ("invitation", "coach", False),
        ("invitation", "admin", False),
        ("request", "coach", True),
        ("request", "athlete", False),
        ("request", "admin", False),
    ],
)
def test_who_may_initiate(direction: str, role: str, allowed: bool) -> None:
    assert rules.may_initiate(direction, role) is allowed  # type: ignore[arg-type]


def test_target_eligibility() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    assert rules.target_eligible("invitation", me, other, "coach")
    assert rules.target_eligible("request", me, other, "athlete")
    for role in ("athlete", "admin", None):
        assert not rules.target_eligible("invitation", me, other, role)
    for role in ("coach", "admin", None):
        assert not rules.target_eligible("request", me, other, role)
    assert not rules.target_eligible("invitation", me, None, None)
    assert not rules.target_eligible("invitation", me, me, "coach")


def test_parties_and_recipients() -> None:
    athlete, coach = uuid.uuid4(), uuid.uuid4()
    assert rules.party_of(athlete, athlete, coach) == "athlete"
    assert rules.party_of(coach, athlete, coach) == "coach"
    assert rules.party_of(uuid.uuid4(), athlete, coach) is None
    assert rules.recipient("invited") == "coach"
    assert rules.recipient("requested") == "athlete"
    assert all(rules.recipient(s) is None for s in ("active", "revoked", "declined"))
    assert rules.initial_status("invitation") == "invited"
    assert rules.initial_status("request") == "requested"
