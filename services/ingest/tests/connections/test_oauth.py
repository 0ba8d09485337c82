"""The pure OAuth rules: signed state, provider URLs and forms, token answers."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from aurora_ingest.config import IngestSettings
from aurora_ingest.connections import oauth

SECRET = b"state-secret"
USER = uuid.UUID("6f1c2a4e-8d2b-4c61-9a57-0c3f1d2e4b5a")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        # Pure functions: the URLs are never dialled, but settings require them.
        "database_url": "postgresql://unused@127.0.0.1/unused",
        "redis_url": "redis://127.0.0.1/0",
        "public_base_url": "https://aurora.test/",
        "strava_client_id": "1234",
        "strava_client_secret": SecretStr("s3cr3t"),
        "whoop_client_id": "whoop-client",
        "whoop_client_secret": SecretStr("whoop-secret"),
        **overrides,
    }
    return IngestSettings.model_validate(values)


def _state(**overrides: object) -> str:
    values: dict[str, object] = {
        "user_id": USER,
        "provider": "strava",
        "now": NOW,
        "ttl_s": 600,
        **overrides,
    }
    return oauth.sign_state(SECRET, **values)  # type: ignore[arg-type]


# -- state ---------------------------------------------------------------------------------


def test_state_round_trip() -> None:
    claims = oauth.verify_state(SECRET, _state(nonce="n-1"), provider="strava", now=NOW)
    assert claims == oauth.StateClaims(
        user_id=USER, provider="strava", nonce="n-1", expires_at=NOW + timedelta(seconds=600)
    )


def test_state_is_url_safe_and_each_one_is_new() -> None:
    first, second = _state(), _state()
    assert first != second  # fresh nonce every time
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(first) >= 8  # Whoop refuses shorter states


def test_state_expires() -> None:
    state = _state()
    assert oauth.verify_state(SECRET, state, provider="strava", now=NOW + timedelta(seconds=599))
    with pytest.raises(oauth.InvalidStateError, match="expired"):
        oauth.verify_state(SECRET, state, provider="strava", now=NOW + timedelta(seconds=600))


def test_state_is_bound_to_its_provider() -> None:
    with pytest.raises(oauth.InvalidStateError, match="another provider"):
        oauth.verify_state(SECRET, _state(provider="strava"), provider="whoop", now=NOW)


def test_state_signed_with_another_secret_is_refused() -> None:
    forged = oauth.sign_state(b"attacker", user_id=USER, provider="strava", now=NOW, ttl_s=600)
    with pytest.raises(oauth.InvalidStateError, match="signature"):
        oauth.verify_state(SECRET, forged, provider="strava", now=NOW)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_altered_payload_is_refused() -> None:
    payload, mac = _state().split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    other_user = decoded.replace(str(USER), str(uuid.uuid4()))
    with pytest.raises(oauth.InvalidStateError, match="signature"):
        oauth.verify_state(SECRET, f"{_b64(other_user.encode())}.{mac}", provider="strava", now=NOW)


@pytest.mark.parametrize(
    "state",
    ["", "no-dot", "a.b.c", "!!!.???", "x" * 600, ".", "e30.e30"],
)
def test_malformed_states_are_refused(state: str) -> None:
    with pytest.raises(oauth.InvalidStateError):
        oauth.verify_state(SECRET, state, provider="strava", now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"v1|not-a-uuid|strava|n|1900000000",
        b"v1|%s|strava|n" % str(USER).encode(),
        b"v2|%s|strava|n|1900000000" % str(USER).encode(),
        b"v1|%s|strava||1900000000" % str(USER).encode(),
        b"v1|%s|strava|n|soon" % str(USER).encode(),
        b"\xff\xfe",
    ],
)
def test_well_signed_but_malformed_payloads_are_refused(payload: bytes) -> None:
    import hashlib
    import hmac

    mac = hmac.new(SECRET, payload, hashlib.sha256).digest()
    with pytest.raises(oauth.InvalidStateError, match="malformed"):
        oauth.verify_state(SECRET, f"{_b64(payload)}.{_b64(mac)}", provider="strava", now=NOW)


def test_empty_secret_never_signs_nor_verifies() -> None:
    with pytest.raises(ValueError, match="empty"):
        oauth.sign_state(b"", user_id=USER, provider="strava", now=NOW, ttl_s=600)
    with pytest.raises(oauth.InvalidStateError):
        oauth.verify_state(b"", _state(), provider="strava", now=NOW)


# -- provider specifics --------------------------------------------------------------------


def test_strava_authorize_url() -> None:
    settings = _settings()
    spec = oauth.oauth_spec(settings, "strava")
    url = oauth.authorize_url(
        spec, redirect_to=oauth.redirect_uri(settings, "strava"), state="the-state"
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.strava.com/oauth/authorize"
    )
    assert parse_qs(parts.query) == {
        "client_id": ["1234"],
        "redirect_uri": ["https://aurora.test/connections/strava/callback"],
        "response_type": ["code"],
        "scope": ["activity:read_all"],
        "state": ["the-state"],
        "approval_prompt": ["auto"],
    }
    assert spec.token_url == "https://www.strava.com/oauth/token"
    assert oauth.revoke_url(settings, "strava") == "https://www.strava.com/oauth/deauthorize"


def test_whoop_authorize_url_asks_offline() -> None:
    settings = _settings()
    spec = oauth.oauth_spec(settings, "whoop")
    url = oauth.authorize_url(spec, redirect_to="https://aurora.test/cb", state="s" * 8)
    parts = urlsplit(url)
    assert url.startswith("https://api.prod.whoop.com/oauth/oauth2/auth?")
    query = parse_qs(parts.query)
    assert query["scope"] == [
        "offline read:workout read:sleep read:recovery read:cycles read:profile"
    ]
    assert query["client_id"] == ["whoop-client"]
    assert spec.token_url == "https://api.prod.whoop.com/oauth/oauth2/token"
    assert (
        oauth.revoke_url(settings, "whoop") == "https://api.prod.whoop.com/developer/v2/user/access"
    )
    assert (
        oauth.whoop_profile_url(settings)
        == "https://api.prod.whoop.com/developer/v2/user/profile/basic"
    )


def test_unconfigured_and_unknown_providers() -> None:
    with pytest.raises(oauth.ProviderNotConfiguredError):
        oauth.oauth_spec(_settings(strava_client_id=""), "strava")
    with pytest.raises(oauth.ProviderNotConfiguredError):
        oauth.oauth_spec(_settings(whoop_client_secret=SecretStr("")), "whoop")
    with pytest.raises(ValueError, match="unknown provider"):
        oauth.oauth_spec(_settings(), "garmin")


def test_forms() -> None:
    strava = oauth.oauth_spec(_settings(), "strava")
    whoop = oauth.oauth_spec(_settings(), "whoop")
    assert oauth.code_form(strava, code="abc", redirect_to="https://r") == {
        "grant_type": "authorization_code",
        "code": "abc",
        "client_id": "1234",
        "client_secret": "s3cr3t",
        "redirect_uri": "https://r",
    }
    assert oauth.refresh_form(strava, refresh_token="rt") == {
        "grant_type": "refresh_token",
        "refresh_token": "rt",
        "client_id": "1234",
        "client_secret": "s3cr3t",
    }
    assert oauth.refresh_form(whoop, refresh_token="rt")["scope"] == "offline"


def test_scopes() -> None:
    strava = oauth.oauth_spec(_settings(), "strava")
    whoop = oauth.oauth_spec(_settings(), "whoop")
    assert oauth.split_scopes("read, activity:read_all") == ["read", "activity:read_all"]
    assert oauth.missing_scopes(strava, "read,activity:read_all") == []
    assert oauth.missing_scopes(strava, "read,activity:read") == ["activity:read_all"]
    assert oauth.missing_scopes(strava, None) == []
    assert oauth.missing_scopes(whoop, "read:workout read:sleep") == [
        "offline",
        "read:recovery",
        "read:cycles",
        "read:profile",
    ]


# -- token answers -------------------------------------------------------------------------


def test_strava_exchange_answer() -> None:
    grant = oauth.parse_token_response(
        {
            "token_type": "Bearer",
            "expires_at": 1568775134,
            "expires_in": 21600,
            "refresh_token": "e5n567567",
            "access_token": "a4b945687g",
            "athlete": {"id": 134815, "resource_state": 2, "firstname": "John"},
        },
        now=NOW,
    )
    assert grant == oauth.TokenGrant(
        access_token="a4b945687g",
        refresh_token="e5n567567",
        expires_at=datetime.fromtimestamp(1568775134, UTC),
        scopes=None,
        provider_user_id="134815",
    )


def test_whoop_answer_uses_expires_in() -> None:
    grant = oauth.parse_token_response(
        {
            "access_token": "w-at",
            "expires_in": 3600,
            "refresh_token": "w-rt",
            "scope": "offline read:workout",
            "token_type": "bearer",
        },
        now=NOW,
    )
    assert grant.expires_at == NOW + timedelta(hours=1)
    assert grant.scopes == "offline read:workout"
    assert grant.provider_user_id is None


def test_answer_without_expiry_or_refresh_token() -> None:
    grant = oauth.parse_token_response({"access_token": "x", "expires_at": True}, now=NOW)
    assert grant.expires_at is None
    assert grant.refresh_token is None


@pytest.mark.parametrize(
    "document", [None, [], "token", {}, {"access_token": ""}, {"access_token": 12}]
)
def test_unusable_token_answers(document: object) -> None:
    with pytest.raises(oauth.MalformedTokenError):
        oauth.parse_token_response(document, now=NOW)


def test_whoop_user_id() -> None:
    assert oauth.whoop_user_id({"user_id": 10129, "email": "jsmith123@whoop.com"}) == "10129"
    bad_profiles: list[object] = [{}, {"user_id": "10129"}, {"user_id": True}, [], None]
    for bad in bad_profiles:
        with pytest.raises(oauth.MalformedTokenError):
            oauth.whoop_user_id(bad)


def test_needs_refresh_five_minutes_ahead() -> None:
    assert oauth.needs_refresh(None, NOW)
    assert oauth.needs_refresh(NOW + timedelta(minutes=5), NOW)
    assert oauth.needs_refresh(NOW - timedelta(hours=1), NOW)
    assert not oauth.needs_refresh(NOW + timedelta(minutes=5, seconds=1), NOW)
