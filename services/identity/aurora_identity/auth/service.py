"""Registration and login, shaped so that neither reveals whether an email exists."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth import repository, tokens
from aurora_identity.auth.keys import KeyRing, public_jwk
from aurora_identity.auth.passwords import Passwords
from aurora_identity.auth.schemas import JwkOut, JwksOut, TokenOut
from aurora_identity.config import IdentitySettings
from aurora_identity.db import BUS, STREAM
from aurora_identity.users import repository as users
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import ProblemError

SELF_REGISTERED_ROLE = "athlete"


@dataclass(frozen=True)
class AuthContext:
    """Process-wide collaborators, created once by the app factory."""

    settings: IdentitySettings
    passwords: Passwords
    keys: KeyRing


def invalid_credentials() -> ProblemError:
    # One constant body for every login failure: unknown, deleted, wrong password.
    return ProblemError(401, "invalid email or password")


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


async def login(session: AsyncSession, ctx: AuthContext, email: str, password: str) -> TokenOut:
    user = await users.active_by_email(session, email)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        raise invalid_credentials()
    if not await ctx.passwords.verify(user.password_hash, password):
        raise invalid_credentials()
    if ctx.passwords.needs_rehash(user.password_hash):
        await users.set_password_hash(session, user.id, await ctx.passwords.hash(password))
    ttl = ctx.settings.access_token_ttl_s
    claims = tokens.access_claims(
        user_id=user.id,
        role=user.role,
        issuer=ctx.settings.jwt_issuer,
        audience=ctx.settings.jwt_audience,
        now=int(time.time()),
        ttl_s=ttl,
    )
    token = tokens.sign(await ctx.keys.signer(), claims)
    return TokenOut(access_token=token, expires_in=ttl)


async def jwks(session: AsyncSession, ctx: AuthContext) -> JwksOut:
    """Read from the table on each call, so every replica publishes the same set."""
    retired_after = datetime.now(UTC) - timedelta(seconds=ctx.settings.access_token_ttl_s)
    keys = await repository.published_keys(session, retired_after)
    return JwksOut(keys=[JwkOut.model_validate(public_jwk(k)) for k in keys])
