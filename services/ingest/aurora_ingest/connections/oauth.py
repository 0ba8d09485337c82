"""The pure parts of the OAuth flows: signed state, provider URLs and forms, token answers.

No I/O here, so every rule is tested exhaustively without a network or a database.

The `state` parameter carries who started the flow, for which provider, a
nonce and an expiry, signed with HMAC-SHA256. The callback is reached by the
user's browser without a bearer token, so the state is the only proof of who
the connection belongs to: a forged, altered, expired or other-provider state is
refused, and the nonce is spent on first use (in Redis, by the service) so a
replayed callback fails too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aurora_ingest.config import IngestSettings

STATE_VERSION = "v1"
MAX_STATE_LENGTH = 512


class InvalidStateError(Exception):
    """The callback's state was not issued by us for this provider, or has expired."""


class ProviderNotConfiguredError(Exception):
    """The deployment has no client id/secret for this provider."""


class MalformedTokenError(Exception):
    """The provider's token answer lacks what we need (an access token, an expiry)."""


@dataclass(frozen=True)
class StateClaims:
    user_id: uuid.UUID
    provider: str
    nonce: str
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def sign_state(
    secret: bytes,
    *,
    user_id: uuid.UUID,
    provider: str,
    now: datetime,
    ttl_s: int,
    nonce: str | None = None,
) -> str:
    if not secret:
        raise ValueError("the state secret is empty")
    nonce = nonce or secrets.token_urlsafe(16)
    expires = int((now + timedelta(seconds=ttl_s)).timestamp())
    payload = f"{STATE_VERSION}|{user_id}|{provider}|{nonce}|{expires}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_state(secret: bytes, state: str, *, provider: str, now: datetime) -> StateClaims:
    """The claims of a state we signed for `provider` that has not expired yet.

    The signature is checked (in constant time) before anything in the payload
    is believed; every failure reads the same to the caller.
    """
    if not secret or not state or len(state) > MAX_STATE_LENGTH or state.count(".") != 1:
        raise InvalidStateError("malformed state")
    encoded_payload, encoded_mac = state.split(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except ValueError as exc:
        raise InvalidStateError("malformed state") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise InvalidStateError("state signature mismatch")
    try:
        version, user, state_provider, nonce, expires = payload.decode().split("|")
        claims = StateClaims(
            user_id=uuid.UUID(user),
            provider=state_provider,
            nonce=nonce,
            expires_at=datetime.fromtimestamp(int(expires), UTC),
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidStateError("malformed state") from exc
    if version != STATE_VERSION or not nonce:
        raise InvalidStateError("malformed state")
    if claims.provider != provider:
        raise InvalidStateError("state was issued for another provider")
    if claims.expires_at <= now:
        raise InvalidStateError("state has expired")
    return claims


# -- provider specifics ---------------------------------------------------------------


@dataclass(frozen=True)
class OAuthSpec:
    provider: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str
    # Sent with a refresh: Whoop only returns a new refresh token when `offline` is asked again.
    refresh_scope: str | None = None
    authorize_extra: tuple[tuple[str, str], ...] = ()


def oauth_spec(settings: IngestSettings, provider: str) -> OAuthSpec:
    if provider == "strava":
        spec = OAuthSpec(
            provider="strava",
            client_id=settings.strava_client_id,
            client_secret=settings.strava_client_secret.get_secret_value(),
            authorize_url=f"{settings.strava_oauth_base}/oauth/authorize",
            token_url=f"{settings.strava_oauth_base}/oauth/token",
            # activity:read_all: private activities and privacy zones are the athlete's data too.
            scopes=("activity:read_all",),
            scope_separator=",",
            authorize_extra=(("approval_prompt", "auto"),),
        )
    elif provider == "whoop":
        spec = OAuthSpec(
            provider="whoop",
            client_id=settings.whoop_client_id,
            client_secret=settings.whoop_client_secret.get_secret_value(),
            authorize_url=f"{settings.whoop_oauth_base}/auth",
            token_url=f"{settings.whoop_oauth_base}/token",
            # offline: without it Whoop issues no refresh token and the grant dies in an hour.
            scopes=(
                "offline",
                "read:workout",
                "read:sleep",
                "read:recovery",
                "read:cycles",
                "read:profile",
            ),
            scope_separator=" ",
            refresh_scope="offline",
        )
    else:
        raise ValueError(f"unknown provider {provider!r}")
    if not spec.client_id or not spec.client_secret:
        raise ProviderNotConfiguredError(f"{provider} is not configured on this deployment")
    return spec


def revoke_url(settings: IngestSettings, provider: str) -> str:
    if provider == "strava":
        return f"{settings.strava_oauth_base}/oauth/deauthorize"
    return f"{settings.whoop_api_base}/v2/user/access"


def whoop_profile_url(settings: IngestSettings) -> str:
    return f"{settings.whoop_api_base}/v2/user/profile/basic"


def redirect_uri(settings: IngestSettings, provider: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/connections/{provider}/callback"


def authorize_url(spec: OAuthSpec, *, redirect_to: str, state: str) -> str:
    params = {
        "client_id": spec.client_id,
        "redirect_uri": redirect_to,
        "response_type": "code",
        "scope": spec.scope_separator.join(spec.scopes),
        "state": state,
        **dict(spec.authorize_extra),
    }
    return f"{spec.authorize_url}?{urlencode(params)}"


def code_form(spec: OAuthSpec, *, code: str, redirect_to: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": spec.client_id,
        "client_secret": spec.client_secret,
        "redirect_uri": redirect_to,
    }


def refresh_form(spec: OAuthSpec, *, refresh_token: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": spec.client_id,
        "client_secret": spec.client_secret,
    }
    if spec.refresh_scope:
        form["scope"] = spec.refresh_scope
    return form


def split_scopes(granted: str) -> list[str]:
    """Strava separates scopes with commas, Whoop with spaces; accept either."""
    return [s for s in re.split(r"[,\s]+", granted) if s]


def missing_scopes(spec: OAuthSpec, granted: str | None) -> list[str]:
    """Requested scopes the user unticked (Strava lets them); None means "as requested"."""
    if granted is None:
        return []
    have = set(split_scopes(granted))
    return [s for s in spec.scopes if s not in have]


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: str | None
    provider_user_id: str | None  # Strava embeds the athlete; Whoop needs a profile call


def _text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None


def _number(document: Mapping[str, Any], key: str) -> int | None:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def parse_token_response(document: Any, *, now: datetime) -> TokenGrant:
    """Strava gives `expires_at` (epoch s) and `athlete.id`; Whoop gives `expires_in` (s)."""
    if not isinstance(document, dict):
        raise MalformedTokenError("token response is not an object")
    access = _text(document, "access_token")
    if access is None:
        raise MalformedTokenError("token response has no access_token")
    expires_at_epoch = _number(document, "expires_at")
    expires_in = _number(document, "expires_in")
    if expires_at_epoch is not None:
        expires_at: datetime | None = datetime.fromtimestamp(expires_at_epoch, UTC)
    elif expires_in is not None:
        expires_at = now + timedelta(seconds=expires_in)
    else:
        expires_at = None
    athlete = document.get("athlete")
    athlete_id = _number(athlete, "id") if isinstance(athlete, dict) else None
    scope = document.get("scope")
    return TokenGrant(
        access_token=access,
        refresh_token=_text(document, "refresh_token"),
        expires_at=expires_at,
        scopes=" ".join(split_scopes(scope)) if isinstance(scope, str) else None,
        provider_user_id=str(athlete_id) if athlete_id is not None else None,
    )


def whoop_user_id(document: Any) -> str:
    if isinstance(document, dict):
        user_id = _number(document, "user_id")
        if user_id is not None:
            return str(user_id)
    raise MalformedTokenError("Whoop profile has no user_id")


def needs_refresh(expires_at: datetime | None, now: datetime, *, margin_s: int = 300) -> bool:
    """Refresh 5 minutes ahead: a token that dies mid-backfill costs a failed request."""
    return expires_at is None or expires_at - now <= timedelta(seconds=margin_s)
