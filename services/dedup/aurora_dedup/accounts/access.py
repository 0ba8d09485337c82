"""How dedup's routes get their caller, and whose timeline a read may show."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.db import BUS
from aurora_shared.access import ViewPolicy, principal_dependency
from aurora_shared.auth import Principal

PRODUCER = "dedup"

authenticated = principal_dependency(MIRROR.is_blocked)
Caller = Annotated[Principal, Depends(authenticated)]
VIEWS = ViewPolicy(
    producer=PRODUCER, outbox=BUS.outbox, grant_of=MIRROR.grant_of, is_blocked=MIRROR.is_blocked
)
