"""A throwaway EdDSA issuer so services can be tested without running identity."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from aurora_shared.auth import StaticKeys


class TestIssuer:
    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str = "aurora-identity", audience: str = "aurora") -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = uuid.uuid4().hex
        self.private_key = Ed25519PrivateKey.generate()

    @property
    def jwks(self) -> dict[str, Any]:
        public = OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        public.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": [public]}

    def key_source(self) -> StaticKeys:
        return StaticKeys(self.jwks)

    def mint(
        self,
        user_id: uuid.UUID,
        role: str = "athlete",
        ttl_s: int = 900,
        *,
        sid: uuid.UUID | str | None = None,
        **overrides: Any,
    ) -> str:
        """`sid` names a session as identity's login does; without it only the user's
        revocation cutoff applies to the token."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if sid is not None:
            claims["sid"] = str(sid)
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(
        self, user_id: uuid.UUID, role: str = "athlete", *, sid: uuid.UUID | str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(user_id, role, sid=sid)}"}
