"""Request and response bodies of /auth/refresh, /auth/logout and /auth/keys/rotate."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# token_urlsafe(32) is 43 characters; the cap only bounds what is hashed.
MAX_REFRESH_TOKEN_LENGTH = 256


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=MAX_REFRESH_TOKEN_LENGTH)


class KeyRotatedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kid: str
    # Already in the JWKS; it signs from the next rotation on.
    next_kid: str
    # Seconds the retired key keeps verifying (its tokens' remaining lifetime, plus a margin);
    # 0 after an emergency rotation, which unpublishes it at once.
    retired_key_published_for_s: int
