"""What the users endpoints answer; never the password hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class MeOut(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    email: str
    role: Literal["athlete", "coach", "admin"]
    display_name: str | None
    created_at: datetime
