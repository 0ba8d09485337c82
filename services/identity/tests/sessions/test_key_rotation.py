"""POST /auth/keys/rotate: new tokens use the new key; the old one verifies until every
token it signed has expired, then leaves the JWKS."""

from __future__ import annotations

import asyncpg
import jwt

from aurora_identity.auth.keys import key_retention_s

from .conftest import Identity, Login, bearer


async def _admin(identity: Identity, login: Login, db: asyncpg.Connection) -> str:
    """Nobody can make themselves admin through the API; the database can."""
    await login("root@example.com")
    await db.execute("UPDATE identity.users SET role = 'admin' WHERE email = 'root@example.com'")
    return str((await login("root@example.com"))["access_token"])


async def test_only_admins_rotate(identity: Identity, login: Login) -> None:
    athlete = await login()
    forbidden = await identity.http.post(
        "/auth/keys/rotate", headers=bearer(athlete["access_token"])
    )
    assert forbidden.status_code == 403
    assert (await identity.http.post("/auth/keys/rotate")).status_code == 401


async def test_rotation_keeps_old_tokens_valid_until_retention_ends(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    admin = await _admin(identity, login, db)
    before = await login()
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]

    rotated = await identity.http.post("/auth/keys/rotate", headers=bearer(admin))
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    new_kid = body["kid"]
    assert new_kid != old_kid
    assert body["retired_key_published_for_s"] == key_retention_s(900) == 900 + 300 + 60

    published = {
        k["kid"] for k in (await identity.http.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert published == {old_kid, new_kid}
    after = await login()
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    refreshed = (await identity.refresh(before["refresh_token"])).json()
    assert jwt.get_unverified_header(refreshed["access_token"])["kid"] == new_kid
    assert (await identity.me(before["access_token"])).status_code == 200
    assert (await identity.me(after["access_token"])).status_code == 200

    # Retention is over: the old key leaves the JWKS and its tokens stop verifying.
    await db.execute(
        "UPDATE identity.signing_keys SET retired_at = now() - make_interval(secs => $1)"
        " WHERE kid = $2",
        key_retention_s(900) + 1,
        old_kid,
    )
    identity.app.state.auth.keys.invalidate()
    published = {
        k["kid"] for k in (await identity.http.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert published == {new_kid}
    assert (await identity.me(before["access_token"])).status_code == 401
    assert (await identity.me(after["access_token"])).status_code == 200
    assert (
        await db.fetchval("SELECT count(*) FROM identity.signing_keys WHERE retired_at IS NULL")
        == 1
    )
