"""The provider calls of the OAuth flows: code exchange, refresh, revocation, Whoop's profile.

Calls to a provider's API take a unit of its rate budget first; a 429 from any
of them pauses the budget for everyone. The OAuth token endpoints sit outside
the API's rate limits, but a 429 there still pauses (it says the same thing).
A token answer we cannot use reads as `ProviderUnavailable`: it is the
provider's fault and may pass, so it must never degrade a connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurora_ingest.connections import oauth
from aurora_ingest.providers.http import ProviderRateLimited, ProviderResponse, ProviderUnavailable

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit


async def _call(
    kit: ProviderKit, provider: str, method: str, url: str, *, budgeted: bool, **kwargs: Any
) -> ProviderResponse:
    budget = kit.budgets[provider]
    if budgeted:
        await budget.take(kit.clock())
    try:
        return await kit.http[provider].request(method, url, **kwargs)
    except ProviderRateLimited as exc:
        await budget.pause_until(exc.retry_at)
        raise


def _grant(kit: ProviderKit, response: ProviderResponse) -> oauth.TokenGrant:
    try:
        return oauth.parse_token_response(response.json(), now=kit.clock())
    except oauth.MalformedTokenError as exc:
        raise ProviderUnavailable(str(exc), status=response.status) from exc


async def exchange_code(
    kit: ProviderKit, spec: oauth.OAuthSpec, *, code: str, redirect_to: str
) -> oauth.TokenGrant:
    form = oauth.code_form(spec, code=code, redirect_to=redirect_to)
    response = await _call(kit, spec.provider, "POST", spec.token_url, budgeted=False, data=form)
    return _grant(kit, response)


async def refresh(
    kit: ProviderKit, spec: oauth.OAuthSpec, *, refresh_token: str
) -> oauth.TokenGrant:
    form = oauth.refresh_form(spec, refresh_token=refresh_token)
    response = await _call(kit, spec.provider, "POST", spec.token_url, budgeted=False, data=form)
    return _grant(kit, response)


async def whoop_user_id(kit: ProviderKit, *, access_token: str) -> str:
    url = oauth.whoop_profile_url(kit.settings)
    response = await _call(kit, "whoop", "GET", url, budgeted=True, bearer=access_token)
    try:
        return oauth.whoop_user_id(response.json())
    except oauth.MalformedTokenError as exc:
        raise ProviderUnavailable(str(exc), status=response.status) from exc


async def revoke(kit: ProviderKit, provider: str, *, access_token: str) -> None:
    """Strava: POST /oauth/deauthorize (token in the form, never in a logged URL).
    Whoop: DELETE /v2/user/access with the token as bearer (also stops its webhooks)."""
    url = oauth.revoke_url(kit.settings, provider)
    if provider == "strava":
        await _call(kit, provider, "POST", url, budgeted=False, data={"access_token": access_token})
    else:
        await _call(kit, provider, "DELETE", url, budgeted=True, bearer=access_token)
