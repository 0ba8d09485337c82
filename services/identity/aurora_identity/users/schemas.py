"""What the users endpoints accept and answer; never the password hash.

Requests forbid unknown fields, so `PATCH /users/me {"role": "admin"}` (or
`email`, `deleted_at` ...) is a 422 rather than a silently ignored attempt.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aurora_identity.auth.rules import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from aurora_identity.users.rules import (
    DISPLAY_NAME_MAX_LENGTH,
    TIME_ZONE_MAX_LENGTH,
    birth_date_problem,
    display_name_problem,
    time_zone_problem,
)

Sex = Literal["female", "male", "other"]
Role = Literal["athlete", "coach", "admin"]


def _display_name(raw: str) -> str:
    name = raw.strip()
    problem = display_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _birth_date(born: date) -> date:
    problem = birth_date_problem(born, datetime.now(UTC).date())
    if problem:
        raise ValueError(problem)
    return born


def _time_zone(name: str) -> str:
    problem = time_zone_problem(name)
    if problem:
        raise ValueError(problem)
    return name


DisplayName = Annotated[
    str, Field(max_length=DISPLAY_NAME_MAX_LENGTH * 4), AfterValidator(_display_name)
]
BirthDate = Annotated[date, AfterValidator(_birth_date)]
TimeZone = Annotated[str, Field(max_length=TIME_ZONE_MAX_LENGTH), AfterValidator(_time_zone)]


class MeOut(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role
    display_name: str | None
    birth_date: date | None
    sex: Sex | None
    time_zone: str | None
    created_at: datetime


class ProfilePatch(BaseModel):
    """Only the fields sent are changed; an explicit null clears one."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    birth_date: BirthDate | None = None
    sex: Sex | None = None
    time_zone: TimeZone | None = None

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
