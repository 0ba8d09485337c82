"""Re-applying the erasure log after a database restore (checklist item 48).

A backup taken before a purge still holds the purged user. Restoring it would
bring the user back, so after any restore the erasures recorded since the
backup are applied again. Identity's audit log is the erasure log: it is
append-only, survives erasure, and holds one `user.purged` row per purged user
id (the id only, never more of the user than that row's snapshot). Identity
hard-deletes any of those users the restore brought back, and announces
`user.purged` again for every one of them, so each service's purge handler
erases whatever its own restored schema holds. Every step is idempotent:
re-running it after a partial run, or for users that did not come back, only
re-deletes nothing and re-announces.

Run it before the restored services accept traffic:
`python -m aurora_identity.gdpr.restore --since <backup time, RFC 3339>`.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.audit.models import AuditEntry
from aurora_identity.db import BUS, STREAM
from aurora_identity.gdpr import repository
from aurora_identity.throttle import service as throttle
from aurora_identity.users import repository as users
from aurora_identity.users.models import User
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue

_UNSET = SecretStr("")


@dataclass(frozen=True)
class Reapplied:
    announced: Sequence[uuid.UUID]  # every user id erased since the backup
    restored: Sequence[uuid.UUID]  # those the restore had brought back, deleted again


async def erased_since(session: AsyncSession, since: datetime) -> list[uuid.UUID]:
    result = await session.execute(
        select(AuditEntry.subject_user_id)
        .where(
            AuditEntry.action == actions.USER_PURGED,
            AuditEntry.at >= since,
            AuditEntry.subject_user_id.is_not(None),
        )
        .group_by(AuditEntry.subject_user_id)
        .order_by(AuditEntry.subject_user_id)
    )
    return [user_id for user_id in result.scalars() if user_id is not None]


async def reapply_erasures(
    session: AsyncSession,
    since: datetime,
    *,
    producer: str = "identity",
    throttle_secret: SecretStr = _UNSET,
) -> Reapplied:
    """Erase again every user purged at or after `since` (the backup's time); only
    flushes. `since` earlier than needed is safe, only slower."""
    ids = await erased_since(session, since)
    if not ids:
        return Reapplied(announced=[], restored=[])
    rows = await session.execute(
        select(User.id, User.email).where(User.id.in_(ids)).with_for_update()
    )
    restored = [(row.id, row.email) for row in rows]
    for user_id, email in restored:
        await throttle.forget_email(session, email, throttle_secret)
        await audit.record(
            session,
            action=actions.USER_PURGED,
            actor_role=actions.SYSTEM_ROLE,
            subject_user_id=user_id,
            subject_email=email,
            resource=f"user:{user_id}",
            details={"reapplied_after_restore": True},
        )
    await repository.forget_exports(session, ids)
    await users.hard_delete(session, [user_id for user_id, _ in restored])
    events = [
        new_event("user.purged", producer=producer, user_id=i, payload={"user_id": str(i)})
        for i in ids
    ]
    await enqueue(session, BUS.outbox, STREAM, events)
    return Reapplied(announced=ids, restored=[user_id for user_id, _ in restored])


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - thin shell
    from aurora_identity.config import get_settings
    from aurora_shared.db import make_engine, make_sessionmaker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--since", required=True, type=datetime.fromisoformat)
    args = parser.parse_args(argv)
    if args.since.tzinfo is None:
        parser.error("--since needs a UTC offset, e.g. 2026-01-31T02:00:00+00:00")
    settings = get_settings()

    async def run() -> Reapplied:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await reapply_erasures(
                    session,
                    args.since,
                    producer=settings.service_name,
                    throttle_secret=settings.login_throttle_secret,
                )
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    print(f"re-announced {len(done.announced)} erasure(s); deleted {len(done.restored)} again")


if __name__ == "__main__":  # pragma: no cover
    main()
