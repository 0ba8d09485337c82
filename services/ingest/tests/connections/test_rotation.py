"""`reencrypt-tokens`: the command an operator runs after putting a new key first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from aurora_ingest.config import IngestSettings
from aurora_ingest.connections import rotation
from aurora_ingest.providers.crypto import TokenCipher
from aurora_ingest.providers.kit import ProviderKit


async def test_command_rewrites_every_token_under_the_new_key(
    kit: ProviderKit,
    settings: IngestSettings,
    make_connection: Any,
    load: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old_key = settings.fernet_keys[0]
    first = await make_connection(access="a1", refresh="r1")
    second = await make_connection(provider="whoop", provider_user_id="10129", access="a2")
    new_key = Fernet.generate_key().decode()
    rotated = settings.model_copy(update={"token_keys": SecretStr(f"{new_key},{old_key}")})
    monkeypatch.setattr(rotation, "get_settings", lambda: rotated)
    configured: list[str] = []
    # The command configures the root logger; the test session's logging must stay as it is.
    monkeypatch.setattr(
        rotation, "configure_logging", lambda name, *a, **k: configured.append(name)
    )

    await asyncio.to_thread(rotation.run_reencrypt)  # the CLI's own event loop

    assert "2 connection(s)" in capsys.readouterr().out
    assert configured == ["ingest-reencrypt"]
    new_only = TokenCipher([new_key])
    assert new_only.decrypt((await load(first.id)).access_token_enc) == "a1"
    assert new_only.decrypt((await load(first.id)).refresh_token_enc) == "r1"
    assert new_only.decrypt((await load(second.id)).refresh_token_enc) == "old-refresh"
    # Running it again is harmless.
    assert await rotation.reencrypt(rotated) == 2
