"""Bodies of /admin/users/*."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from aurora_identity.users.schemas import Role


class RoleChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class AdminUserOut(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role


class AdminUserStatusOut(AdminUserOut):
    """The answer of deactivate and reactivate: whether the account may sign in."""

    deactivated_at: datetime | None
