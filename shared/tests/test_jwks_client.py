"""JwksClient: identity's key set, cached for a bounded age (a withdrawn key stops
verifying within it), refetched for unknown kids at most once per cooldown, and kept
through a short identity outage. identity's JWKS is mocked with respx; a fake clock
replaces waiting."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from aurora_shared import auth
from aurora_shared.auth import JwksClient, TokenVerifier
from aurora_shared.errors import ProblemError
from aurora_shared.testing.tokens import TestIssuer

URL = "http://identity.test/.well-known/jwks.json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Only the auth module's clock: asyncio keeps the real one."""
    fake = Clock()
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.fixture
def identity() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def jwks(*issuers: TestIssuer) -> dict[str, Any]:
    return {"keys": [key for issuer in issuers for key in issuer.jwks["keys"]]}


def verifier(client: JwksClient) -> TokenVerifier:
    return TokenVerifier(client, issuer="aurora-identity", audience="aurora")


async def refused(client: JwksClient, token: str) -> int:
    with pytest.raises(ProblemError) as info:
        await verifier(client).verify(token)
    return info.value.status


async def test_a_withdrawn_key_stops_verifying_within_the_max_age(
    clock: Clock, identity: respx.MockRouter
) -> None:
    old, new = TestIssuer(), TestIssuer()
    route = identity.get(URL).mock(return_value=httpx.Response(200, json=jwks(old, new)))
    client = JwksClient(URL, max_age_s=300)
    token = old.mint(uuid.uuid4())
    assert (await verifier(client).verify(token)).role == "athlete"
    assert route.call_count == 1

    # Emergency rotation at identity: the old key is no longer published.
    route.mock(return_value=httpx.Response(200, json=jwks(new)))
    clock.advance(299)
    await verifier(client).verify(token)  # still cached: no fetch before the max age
    assert route.call_count == 1
    clock.advance(1)
    assert await refused(client, token) == 401
    assert route.call_count == 2
    assert (await verifier(client).verify(new.mint(uuid.uuid4()))).role == "athlete"
    assert route.call_count == 2


async def test_the_max_age_is_configurable(clock: Clock, identity: respx.MockRouter) -> None:
    issuer = TestIssuer()
    route = identity.get(URL).mock(return_value=httpx.Response(200, json=jwks(issuer)))
    client = JwksClient(URL, max_age_s=10)
    token = issuer.mint(uuid.uuid4())
    for _ in range(5):
        await verifier(client).verify(token)
    assert route.call_count == 1
    clock.advance(10)
    await verifier(client).verify(token)
    assert route.call_count == 2


async def test_a_pre_published_key_verifies_without_any_extra_fetch(
    clock: Clock, identity: respx.MockRouter
) -> None:
    current, upcoming = TestIssuer(), TestIssuer()
    route = identity.get(URL).mock(return_value=httpx.Response(200, json=jwks(current, upcoming)))
    client = JwksClient(URL)
    await verifier(client).verify(current.mint(uuid.uuid4()))
    clock.advance(5)
    await verifier(client).verify(upcoming.mint(uuid.uuid4()))  # identity rotated
    assert route.call_count == 1


async def test_unknown_kids_refetch_at_most_once_per_cooldown(
    clock: Clock, identity: respx.MockRouter
) -> None:
    issuer, stranger = TestIssuer(), TestIssuer()
    route = identity.get(URL).mock(return_value=httpx.Response(200, json=jwks(issuer)))
    client = JwksClient(URL, cooldown_s=30, max_age_s=300)
    await verifier(client).verify(issuer.mint(uuid.uuid4()))
    clock.advance(30)
    for _ in range(20):
        assert await refused(client, stranger.mint(uuid.uuid4())) == 401
    assert route.call_count == 2  # one refetch for the first forged kid, none after
    clock.advance(10)
    assert await refused(client, stranger.mint(uuid.uuid4())) == 401
    assert route.call_count == 2
    # A genuinely new key, published after the last fetch, is found after the cooldown.
    route.mock(return_value=httpx.Response(200, json=jwks(issuer, stranger)))
    clock.advance(20)
    assert (await verifier(client).verify(stranger.mint(uuid.uuid4()))).role == "athlete"
    assert route.call_count == 3


async def test_an_identity_outage_is_bridged_for_a_bounded_time(
    clock: Clock, identity: respx.MockRouter
) -> None:
    issuer = TestIssuer()
    route = identity.get(URL).mock(return_value=httpx.Response(200, json=jwks(issuer)))
    client = JwksClient(URL, max_age_s=300, stale_if_error_s=120, cooldown_s=30)
    token = issuer.mint(uuid.uuid4(), ttl_s=3600)
    await verifier(client).verify(token)

    route.mock(side_effect=httpx.ConnectError("identity down"))
    clock.advance(300)
    await verifier(client).verify(token)  # stale but within the bridge: still served
    assert route.call_count == 2
    clock.advance(10)
    await verifier(client).verify(token)  # no refetch while the failure cools down
    assert route.call_count == 2
    clock.advance(110)  # 420 s old: past max age plus the bridge
    assert await refused(client, token) == 503
    assert route.call_count == 3
    assert await refused(client, token) == 503  # and no hammering meanwhile
    assert route.call_count == 3

    route.mock(return_value=httpx.Response(200, json=jwks(issuer)))
    clock.advance(30)
    await verifier(client).verify(token)
    assert route.call_count == 4


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(302, headers={"Location": "http://127.0.0.1/keys"}),
        httpx.Response(200, json=["not", "a", "set"]),
        httpx.Response(200, json={"keys": "nope"}),
        httpx.Response(200, text="<html>"),
    ],
)
async def test_no_usable_key_set_is_a_503_never_an_acceptance(
    clock: Clock, identity: respx.MockRouter, answer: httpx.Response
) -> None:
    identity.get(URL).mock(return_value=answer)
    assert await refused(JwksClient(URL), TestIssuer().mint(uuid.uuid4())) == 503


async def test_foreign_and_broken_keys_in_the_set_are_skipped(
    clock: Clock, identity: respx.MockRouter
) -> None:
    issuer = TestIssuer()
    good = issuer.jwks["keys"][0]
    document = {
        "keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "broken", "x": "!!"},
            "not a key",
            good,
        ]
    }
    identity.get(URL).mock(return_value=httpx.Response(200, json=document))
    client = JwksClient(URL)
    assert (await verifier(client).verify(issuer.mint(uuid.uuid4()))).role == "athlete"
    assert await client.key_for("rsa") is None
    assert await client.key_for("broken") is None
