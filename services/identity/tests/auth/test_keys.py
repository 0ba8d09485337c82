"""Signing keys: one is created at startup, never two, and new kids are picked up."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from aurora_identity.app import create_app
from aurora_identity.auth.keys import KeyRing, generate_key, jwk_thumbprint, load_private_key
from aurora_identity.config import IdentitySettings
from aurora_identity.db import SCHEMA
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.testing.service import running_app, truncate_schema


def test_generated_key_is_self_describing() -> None:
    key = generate_key()
    assert key.kid == jwk_thumbprint(key.public_jwk)
    assert key.public_jwk["kid"] == key.kid
    assert "d" not in key.public_jwk
    assert load_private_key(key.private_pem) is not None
    assert generate_key().kid != key.kid


async def test_startup_creates_one_key_and_restarts_reuse_it(
    settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    await truncate_schema(settings.database_url, SCHEMA)
    kids = []
    for _ in range(2):
        async with running_app(create_app(settings)) as http:
            keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
            kids.append({k["kid"] for k in keys})
    assert kids[0] == kids[1]
    assert len(kids[0]) == 2
    # One signing key and one next key, published ahead of its use.
    rows = await db.fetch("SELECT kid, activated_at FROM identity.signing_keys")
    assert len(rows) == 2
    assert sorted(r["activated_at"] is None for r in rows) == [False, True]


async def test_concurrent_startups_create_a_single_key(
    settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    await truncate_schema(settings.database_url, SCHEMA)
    engine = make_engine(settings.database_url, pool_size=5)
    try:
        rings = [KeyRing(token_ttl_s=900) for _ in range(5)]
        for ring in rings:
            ring.bind(make_sessionmaker(engine))
        await asyncio.gather(*(ring.ensure_active_key() for ring in rings))
        signers = {(await ring.signer()).kid for ring in rings}
    finally:
        await engine.dispose()
    assert await db.fetchval("SELECT count(*) FROM identity.signing_keys") == 2
    assert (
        await db.fetchval("SELECT count(*) FROM identity.signing_keys WHERE activated_at IS NULL")
        == 1
    )
    assert len(signers) == 1


async def test_a_key_added_later_verifies_on_first_use(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Another replica rotated: the unknown kid triggers a reload, not a 401."""
    registered = await client.post(
        "/auth/register",
        json={"email": "lee@example.com", "password": "correct horse battery staple"},
    )
    assert registered.status_code == 202
    user_id = await db.fetchval("SELECT id FROM identity.users")
    new = generate_key()
    await db.execute(
        "INSERT INTO identity.signing_keys (kid, private_pem, public_jwk, created_at)"
        " VALUES ($1, $2, $3::jsonb, now() - interval '1 minute')",
        new.kid,
        new.private_pem,
        json.dumps(new.public_jwk),
    )
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": str(user_id),
            "role": "athlete",
            "iss": "aurora-identity",
            "aud": "aurora",
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        },
        load_private_key(new.private_pem),
        algorithm="EdDSA",
        headers={"kid": new.kid},
    )
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["id"] == str(user_id)
    published = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert new.kid in {k["kid"] for k in published}


async def test_forged_kids_reload_at_most_once_per_cooldown(
    settings: IdentitySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurora_identity.auth import repository

    engine = make_engine(settings.database_url, pool_size=2)
    loads = 0
    original = repository.published_keys

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal loads
        loads += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(repository, "published_keys", counting)
    try:
        ring = KeyRing(token_ttl_s=900, refresh_cooldown_s=60)
        ring.bind(make_sessionmaker(engine))
        await ring.ensure_active_key()
        assert loads == 1
        for n in range(20):
            assert await ring.key_for(f"forged-{n}") is None
        assert loads == 2
        assert await ring.key_for((await ring.signer()).kid) is not None
        assert loads == 2
    finally:
        await engine.dispose()
