"""GDPR tests run identity with small export bounds, so limits are quick to reach."""

from __future__ import annotations

import pytest

from aurora_identity.config import IdentitySettings

EXPORT_MAX_BYTES = 4096
EXPORT_TIMEOUT_S = 1.0


@pytest.fixture
def settings(migrated: str, redis_url: str) -> IdentitySettings:
    return IdentitySettings(
        database_url=migrated,
        redis_url=redis_url,
        export_max_bytes=EXPORT_MAX_BYTES,
        export_timeout_s=EXPORT_TIMEOUT_S,
    )
