"""Bodies of /admin/users/*."""

from __future__ import annotations

import uuid

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
