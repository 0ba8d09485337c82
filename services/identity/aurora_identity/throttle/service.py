"""Password attempts on an account, counted and back-off enforced.

Every path that checks a password (login, password change, account deletion)
goes through `begin_attempt`, so none of them is an unthrottled password oracle.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.config import IdentitySettings
from aurora_identity.throttle import repository, rules
from aurora_identity.throttle.rules import ThrottlePolicy, ThrottleState
from aurora_shared.errors import ProblemError, problem_response

TOO_MANY_ATTEMPTS = "too many failed attempts; try again later"
SECRET_NAME = "login_throttle"  # noqa: S105 (a row name, not a secret)
SECRET_BYTES = 32


class AttemptRefusedError(ProblemError):
    """A refusal whose failure count must survive the answer.

    Raised through `request_session` it would roll the count back, so endpoints
    catch it and return `response()` instead: the session then commits at the edge.
    """

    def response(self, instance: str) -> JSONResponse:
        return problem_response(
            self.status,
            self.detail,
            title=self.title,
            type_=self.type,
            instance=instance,
            headers=self.headers,
            **self.extensions,
        )


def too_many_attempts(retry_after_s: int) -> AttemptRefusedError:
    return AttemptRefusedError(429, TOO_MANY_ATTEMPTS, headers={"Retry-After": str(retry_after_s)})


def policy_of(settings: IdentitySettings) -> ThrottlePolicy:
    return ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_s),
        base_block=timedelta(seconds=settings.login_backoff_base_s),
        max_block=timedelta(seconds=settings.login_backoff_max_s),
    )


@dataclass
class Attempt:
    """One password attempt on one account key; the key's row stays locked until commit."""

    key: str
    state: ThrottleState | None
    now: datetime
    policy: ThrottlePolicy

    def check(self) -> None:
        """Raises 429 with Retry-After while the key is blocked; the password is not tried."""
        wait = rules.retry_after_s(self.state, self.now)
        if wait is not None:
            raise too_many_attempts(wait)

    async def failed(self, session: AsyncSession) -> None:
        self.state = rules.after_failure(self.state, self.now, self.policy)
        await repository.save(session, self.key, self.state)

    async def succeeded(self, session: AsyncSession) -> None:
        self.state = None
        await repository.clear(session, self.key)


async def key_secret(session: AsyncSession, configured: SecretStr) -> bytes:
    """The HMAC key of the account keys: the configured one, else identity's own random
    one from `server_secrets`, created on first use."""
    value = configured.get_secret_value()
    if value:
        return value.encode()
    stored = await repository.stored_secret(session, SECRET_NAME)
    if stored is None:
        await repository.insert_secret_if_missing(
            session, SECRET_NAME, secrets.token_bytes(SECRET_BYTES)
        )
        stored = await repository.stored_secret(session, SECRET_NAME)
    if stored is None:  # the insert above or a concurrent one committed a row
        raise RuntimeError("login throttle secret missing")
    return bytes(stored)


async def account_key(session: AsyncSession, configured: SecretStr, email: str) -> str:
    return rules.email_key(await key_secret(session, configured), email)


async def begin_attempt(
    session: AsyncSession,
    email: str,
    settings: IdentitySettings,
    now: datetime | None = None,
) -> Attempt:
    """`email` in normal form; an unknown address is locked and counted exactly alike."""
    now = now or datetime.now(UTC)
    key = await account_key(session, settings.login_throttle_secret, email)
    state = await repository.lock(session, key, now)
    return Attempt(key=key, state=state, now=now, policy=policy_of(settings))


async def forget_email(session: AsyncSession, email: str, configured: SecretStr) -> None:
    """Erasure: the purged account's counters go with it."""
    await repository.clear(session, await account_key(session, configured, email))


async def prune(session: AsyncSession, policy: ThrottlePolicy, now: datetime) -> int:
    """Drop rows that no longer hold anything (see `rules.is_stale`)."""
    return await repository.delete_stale(
        session, window_before=now - policy.window, blocked_before=now - policy.window
    )
