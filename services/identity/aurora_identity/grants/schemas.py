"""Bodies of /grants/*.

Invitation and request answers are one fixed 202 body, whoever the target is: an
unknown address, an account of the wrong role and a real coach look the same.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from aurora_identity.auth.rules import MAX_EMAIL_LENGTH, normalise_email
from aurora_identity.grants.rules import normalise_scopes

Scope = Literal["read", "phases"]
Scopes = Annotated[list[Scope], Field(max_length=4), AfterValidator(normalise_scopes)]
# No syntax check: a malformed address simply matches nobody, and answers like any other.
TargetEmail = Annotated[
    str, Field(min_length=1, max_length=MAX_EMAIL_LENGTH + 64), AfterValidator(normalise_email)
]


def _read_only() -> list[Scope]:
    return ["read"]


def _exactly_one(email: str | None, user_id: uuid.UUID | None, side: str) -> None:
    if (email is None) == (user_id is None):
        raise ValueError(f"give exactly one of {side}_email and {side}_id")


class InvitationIn(BaseModel):
    """An athlete invites a coach."""

    model_config = ConfigDict(extra="forbid")

    coach_email: TargetEmail | None = None
    coach_id: uuid.UUID | None = None
    scopes: Scopes = Field(default_factory=_read_only)

    @model_validator(mode="after")
    def one_target(self) -> Self:
        _exactly_one(self.coach_email, self.coach_id, "coach")
        return self


class RequestIn(BaseModel):
    """A coach asks an athlete for access."""

    model_config = ConfigDict(extra="forbid")

    athlete_email: TargetEmail | None = None
    athlete_id: uuid.UUID | None = None
    scopes: Scopes = Field(default_factory=_read_only)

    @model_validator(mode="after")
    def one_target(self) -> Self:
        _exactly_one(self.athlete_email, self.athlete_id, "athlete")
        return self


class SentOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted"] = "accepted"
    detail: str


INVITATION_SENT = "invitation sent if eligible"
REQUEST_SENT = "request sent if eligible"


class GrantOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    athlete_id: uuid.UUID
    coach_id: uuid.UUID
    scopes: list[Scope]
    status: Literal["invited", "requested", "active", "revoked", "declined"]
    initiated_by: uuid.UUID
    # The initiator chose to make contact, so the recipient may see who asks.
    initiated_by_email: str | None
    created_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None


class GrantPageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[GrantOut]
    next_cursor: str | None
