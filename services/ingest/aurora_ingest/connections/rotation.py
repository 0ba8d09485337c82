"""`python -m aurora_ingest reencrypt-tokens`: the last step of a Fernet key rotation.

Put the new key first in AURORA_INGEST_TOKEN_KEYS (old keys after it), restart
the services, run this, then remove the old keys. Safe to run twice and while
the services run: each batch locks its rows (connections.tokens.reencrypt_all).
"""

from __future__ import annotations

import asyncio
import logging

from aurora_ingest.config import IngestSettings, get_settings
from aurora_ingest.connections.tokens import reencrypt_all
from aurora_shared.logging import configure_logging
from aurora_shared.service import Runtime

log = logging.getLogger("aurora.ingest.connections")


async def reencrypt(settings: IngestSettings) -> int:
    from aurora_ingest.providers.kit import ProviderKit

    runtime = Runtime.open(settings)
    kit = ProviderKit.build(settings, runtime.sessionmaker, runtime.redis)
    try:
        return await reencrypt_all(kit)
    finally:
        await kit.aclose()
        await runtime.close()


def run_reencrypt() -> None:
    settings = get_settings()
    configure_logging(
        f"{settings.service_name}-reencrypt", settings.log_level, json_output=settings.log_json
    )
    count = asyncio.run(reencrypt(settings))
    print(f"re-encrypted the tokens of {count} connection(s) with the current key")
