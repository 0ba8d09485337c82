"""Local token verification rejects every forgery of checklist item 23."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from aurora_shared.auth import TokenVerifier
from aurora_shared.errors import ProblemError
from aurora_shared.testing.tokens import TestIssuer


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def verifier(issuer: TestIssuer) -> TokenVerifier:
    return TokenVerifier(issuer.key_source(), issuer="aurora-identity", audience="aurora")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _rejected(verifier: TokenVerifier, token: str) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        await verifier.verify(token)
    assert info.value.status == 401
    assert info.value.headers == {"WWW-Authenticate": "Bearer"}
    return info.value


async def test_valid_token_gives_the_principal(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    user = uuid.uuid4()
    principal = await verifier.verify(issuer.mint(user, role="coach"))
    assert principal.user_id == user
    assert principal.role == "coach"


async def test_alg_none_is_rejected(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "iss": "aurora-identity",
        "aud": "aurora",
    }
    claims |= {"iat": now, "exp": now + 60}
    header = {"alg": "none", "typ": "JWT", "kid": issuer.kid}
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
    await _rejected(verifier, token)


async def test_hs256_signed_with_the_public_key_is_rejected(
    issuer: TestIssuer, verifier: TokenVerifier
) -> None:
    public = issuer.private_key.public_key()
    for key_bytes in (
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
    ):
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": str(uuid.uuid4()),
            "iss": "aurora-identity",
            "aud": "aurora",
        }
        claims |= {"iat": now, "exp": now + 60}
        header = _b64(json.dumps({"alg": "HS256", "kid": issuer.kid}).encode())
        signing = f"{header}.{_b64(json.dumps(claims).encode())}"
        sig = _b64(hmac.new(key_bytes, signing.encode(), hashlib.sha256).digest())
        await _rejected(verifier, f"{signing}.{sig}")


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"exp": None}, "no exp"),
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"aud": "someone-else"}, "wrong audience"),
        ({"aud": None}, "no audience"),
        ({"iss": "evil"}, "wrong issuer"),
        ({"iss": None}, "no issuer"),
        ({"iat": None}, "no iat"),
        ({"sub": None}, "no subject"),
        ({"sub": "not-a-uuid"}, "subject not a user id"),
    ],
)
async def test_claim_violations_are_rejected(
    issuer: TestIssuer, verifier: TokenVerifier, overrides: dict[str, object], why: str
) -> None:
    await _rejected(verifier, issuer.mint(uuid.uuid4(), **overrides))  # type: ignore[arg-type]


async def test_other_key_and_unknown_kid_are_rejected(verifier: TokenVerifier) -> None:
    stranger = TestIssuer()
    await _rejected(verifier, stranger.mint(uuid.uuid4()))
    forged = jwt.encode(
        {"sub": str(uuid.uuid4())},
        stranger.private_key,
        algorithm="EdDSA",
        headers={"kid": "unknown"},
    )
    await _rejected(verifier, forged)


async def test_oversized_and_malformed_tokens_are_rejected(
    issuer: TestIssuer, verifier: TokenVerifier
) -> None:
    problem = await _rejected(verifier, issuer.mint(uuid.uuid4(), padding="x" * 9000))
    assert "too large" in problem.detail
    await _rejected(verifier, "not.a.token")
    await _rejected(verifier, "garbage")
