"""Access tokens: short-lived EdDSA JWTs that every service verifies locally."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from aurora_identity.auth.keys import ActiveKey


def access_claims(
    *,
    user_id: uuid.UUID,
    role: str,
    issuer: str,
    audience: str,
    now: int,
    ttl_s: int,
    sid: uuid.UUID | None = None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
        # A unique id per token, so a later revocation list can name one token.
        "jti": uuid.uuid4().hex,
    }
    if sid is not None:
        # The refresh-token family: logging out revokes every access token naming it.
        claims["sid"] = str(sid)
    return claims


def sign(key: ActiveKey, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
