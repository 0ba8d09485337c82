"""POST /auth/keys/rotate: new tokens use the new key; the old one verifies until every
token it signed has expired, then leaves the JWKS."""

from __future__ import annotations

import asyncpg
import jwt

from aurora_identity.auth.keys import key_retention_s
from aurora_shared.auth import StaticKeys, TokenVerifier

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
    new_kid, next_kid = body["kid"], body["next_kid"]
    assert new_kid != old_kid and next_kid not in (old_kid, new_kid)
    assert body["retired_key_published_for_s"] == key_retention_s(900) == 900 + 300 + 60

    published = {
        k["kid"] for k in (await identity.http.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert published == {old_kid, new_kid, next_kid}
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
    assert published == {new_kid, next_kid}
    assert (await identity.me(before["access_token"])).status_code == 401
    assert (await identity.me(after["access_token"])).status_code == 200
    assert (
        await db.fetchval(
            "SELECT count(*) FROM identity.signing_keys"
            " WHERE retired_at IS NULL AND activated_at IS NOT NULL"
        )
        == 1
    )


async def _jwks(identity: Identity) -> dict[str, object]:
    document: dict[str, object] = (await identity.http.get("/.well-known/jwks.json")).json()
    return document


async def test_the_next_key_is_published_before_it_signs(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    """A verifier holding the JWKS fetched before a rotation verifies the tokens signed
    after it without fetching again: the new signing key was already in that set."""
    admin = await _admin(identity, login, db)
    before = await _jwks(identity)
    cached = StaticKeys(before)
    verifier = TokenVerifier(cached, issuer="aurora-identity", audience="aurora")
    signing = jwt.get_unverified_header(admin)["kid"]
    announced = {str(k["kid"]) for k in before["keys"]} - {signing}  # type: ignore[attr-defined]
    assert len(announced) == 1
    signed_before = await login()
    assert jwt.get_unverified_header(signed_before["access_token"])["kid"] == signing

    rotated = (await identity.http.post("/auth/keys/rotate", headers=bearer(admin))).json()
    assert {rotated["kid"]} == announced
    after = await login()
    assert jwt.get_unverified_header(after["access_token"])["kid"] == rotated["kid"]
    assert (await verifier.verify(after["access_token"])).claims["sid"]
    assert await verifier.verify(signed_before["access_token"])
    # And the rotation announced its own successor in turn.
    published = {str(k["kid"]) for k in (await _jwks(identity))["keys"]}  # type: ignore[attr-defined]
    assert rotated["next_kid"] in published
    next_signs = await db.fetchval(
        "SELECT activated_at FROM identity.signing_keys WHERE kid = $1", rotated["next_kid"]
    )
    assert next_signs is None


async def test_emergency_rotation_unpublishes_every_old_key_at_once(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    admin = await _admin(identity, login, db)
    victim = await login()
    old_kids = {str(k["kid"]) for k in (await _jwks(identity))["keys"]}  # type: ignore[attr-defined]

    answer = await identity.http.post(
        "/auth/keys/rotate", params={"emergency": "true"}, headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["retired_key_published_for_s"] == 0
    published = {str(k["kid"]) for k in (await _jwks(identity))["keys"]}  # type: ignore[attr-defined]
    assert published == {body["kid"], body["next_kid"]}
    assert not published & old_kids
    assert await db.fetchval("SELECT count(*) FROM identity.signing_keys") == 2
    # Every access token signed before is dead; the refresh token gets a fresh one.
    assert (await identity.me(victim["access_token"])).status_code == 401
    assert (await identity.me(admin)).status_code == 401
    refreshed = await identity.refresh(victim["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == body["kid"]
    assert (await identity.me(token)).status_code == 200
