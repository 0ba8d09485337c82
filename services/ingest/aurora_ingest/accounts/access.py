"""The one way ingest's routes get their caller: verified token, and not a blocked user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aurora_ingest.accounts.models import MIRROR
from aurora_shared.access import principal_dependency
from aurora_shared.auth import Principal

authenticated = principal_dependency(MIRROR.is_blocked)
Caller = Annotated[Principal, Depends(authenticated)]
