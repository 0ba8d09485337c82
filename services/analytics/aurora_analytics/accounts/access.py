"""How analytics' routes get their caller, and whose data a read may show."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aurora_analytics.accounts.orm import MIRROR
from aurora_analytics.db import BUS
from aurora_shared.access import ViewPolicy, principal_dependency
from aurora_shared.auth import Principal

PRODUCER = "analytics"

authenticated = principal_dependency(MIRROR.is_blocked)
Caller = Annotated[Principal, Depends(authenticated)]
VIEWS = ViewPolicy(
    producer=PRODUCER, outbox=BUS.outbox, grant_of=MIRROR.grant_of, is_blocked=MIRROR.is_blocked
)
