"""Registration and login, shaped so that neither reveals whether an email exists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.auth import repository
from aurora_identity.auth.keys import KeyRing, public_jwk, published_since
from aurora_identity.auth.passwords import Passwords
from aurora_identity.auth.schemas import JwkOut, JwksOut, TokenOut
from aurora_identity.config import IdentitySettings
from aurora_identity.db import BUS, STREAM
from aurora_identity.sessions import service as sessions
from aurora_identity.throttle import service as throttle
from aurora_identity.throttle.service import AttemptRefusedError
from aurora_identity.users import repository as users
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue

SELF_REGISTERED_ROLE = "athlete"


@dataclass(frozen=True)
class AuthContext:
    """Process-wide collaborators, created once by the app factory."""

    settings: IdentitySettings
    passwords: Passwords
    keys: KeyRing


def invalid_credentials() -> AttemptRefusedError:
    # One constant body for every login failure: unknown, deleted, wrong password.
    return AttemptRefusedError(401, "invalid email or password")


async def register(session: AsyncSession, ctx: AuthContext, email: str, password: str) -> None:
    """The password is hashed even for a taken email, so both paths cost the same."""
    password_hash = await ctx.passwords.hash(password)
    user_id = uuid.uuid4()
    created = await users.insert_if_new(
        session,
        user_id=user_id,
        email=email,
        password_hash=password_hash,
        role=SELF_REGISTERED_ROLE,
    )
    if created:
        event = new_event(
            "user.registered",
            producer=ctx.settings.service_name,
            user_id=user_id,
            payload={"user_id": str(user_id), "role": SELF_REGISTERED_ROLE},
        )
        await enqueue(session, BUS.outbox, STREAM, event)
        await audit.record(
            session,
            action=actions.USER_REGISTERED,
            actor_id=user_id,
            actor_role=SELF_REGISTERED_ROLE,
            subject_user_id=user_id,
            resource=f"user:{user_id}",
        )


async def _login_refused(
    session: AsyncSession, user_id: uuid.UUID | None, reason: str
) -> AttemptRefusedError:
    """The audit row of a refused login. `record`, not `record_now`: the endpoint
    returns the refusal (to commit the throttle count), so this row commits with it.
    Neither the password nor the typed email goes in; the subject is the account when
    the address belongs to one."""
    await audit.record(
        session,
        action=actions.LOGIN_THROTTLED if reason == "throttled" else actions.LOGIN_FAILED,
        actor_role=actions.ANONYMOUS_ROLE,
        subject_user_id=user_id,
        details={"reason": reason},
    )
    return invalid_credentials()


async def login(session: AsyncSession, ctx: AuthContext, email: str, password: str) -> TokenOut:
    # Throttled per account before the password is tried, identically for unknown
    # addresses (checklist 27, 28); the endpoint commits the count despite the refusal.
    attempt = await throttle.begin_attempt(session, email, ctx.settings)
    try:
        attempt.check()
    except AttemptRefusedError:
        known = await users.active_by_email(session, email)
        await _login_refused(session, known.id if known else None, "throttled")
        raise
    # A revocation of the user after this instant (say a password change committing while
    # the old password is verified) refuses the session below.
    checked_from = datetime.now(UTC)
    user = await users.active_by_email(session, email)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        await attempt.failed(session)
        raise await _login_refused(session, None, "unknown_account")
    if not await ctx.passwords.verify(user.password_hash, password):
        await attempt.failed(session)
        raise await _login_refused(session, user.id, "wrong_password")
    await attempt.succeeded(session)
    if ctx.passwords.needs_rehash(user.password_hash):
        await users.set_password_hash(session, user.id, await ctx.passwords.hash(password))
    issued = await sessions.start_session(
        session, ctx.settings, ctx.keys, user.id, not_before=checked_from
    )
    if issued is None:
        raise await _login_refused(session, user.id, "revoked_meanwhile")
    await audit.record(
        session,
        action=actions.LOGIN_SUCCEEDED,
        actor_id=user.id,
        actor_role=user.role,
        subject_user_id=user.id,
    )
    return issued


async def jwks(session: AsyncSession, ctx: AuthContext) -> JwksOut:
    """Read from the table on each call, so every replica publishes the same set."""
    keys = await repository.published_keys(
        session, published_since(ctx.settings.access_token_ttl_s)
    )
    return JwksOut(keys=[JwkOut.model_validate(public_jwk(k)) for k in keys])
