"""Operator commands that act on one service's data with shell access to the deployment."""

from __future__ import annotations

import sys

from aurora_shared.errors import ProblemError
from aurora_shared.permissions import ROLES
from aurora_shared.service import Runtime


async def set_role(email: str, role: str) -> int:
    """`aurora users set-role EMAIL ROLE`: how the first admin (and coaches) come to exist."""
    from aurora_identity.admin.service import operator_set_role
    from aurora_identity.config import get_settings

    if role not in ROLES:
        print(f"role must be one of {', '.join(ROLES)}", file=sys.stderr)
        return 2
    settings = get_settings()
    runtime = Runtime.open(settings)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            user = await operator_set_role(session, runtime.redis, settings, email=email, role=role)
        print(f"{user.email} is now {role}")
        return 0
    except ProblemError as exc:
        print(f"set-role failed: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await runtime.close()
