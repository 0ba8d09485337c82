"""Analytics' mirror of identity's decisions (tables declared once in aurora_shared.accounts)."""

from __future__ import annotations

from aurora_analytics.db import Base
from aurora_shared.accounts import IdentityMirror, account_tables

ACCOUNTS = account_tables(Base.metadata)
MIRROR = IdentityMirror(ACCOUNTS)
