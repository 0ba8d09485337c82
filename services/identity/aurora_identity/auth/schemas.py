"""Request and response bodies of /auth/* and the JWKS.

Requests forbid unknown fields: a self-registration that tries to choose its
role (or anything else) is rejected with 422 rather than silently trimmed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aurora_identity.auth.rules import (
    MAX_EMAIL_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    checked_email,
    normalise_email,
)

# The field bound only caps the input; the 254-character rule applies after stripping.
Email = Annotated[str, Field(max_length=MAX_EMAIL_LENGTH + 64), AfterValidator(checked_email)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class RegisterOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted"] = "accepted"
    detail: str = "If the address could be registered, you can now sign in."


class LoginIn(BaseModel):
    """No syntax check on login: a malformed address simply matches no account (401)."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[
        str, Field(min_length=1, max_length=MAX_EMAIL_LENGTH + 64), AfterValidator(normalise_email)
    ]
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class TokenOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    # Opaque, single use: POST /auth/refresh rotates it (the session is the access
    # token's `sid`); presenting a used one again revokes the whole session.
    refresh_token: str
    refresh_expires_in: int


class JwkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class JwksOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[JwkOut]
