"""`aurora users reapply-erasures`: the operator's step after restoring a backup."""

from __future__ import annotations

import os
import subprocess
import sys

from aurora_identity.main import SPEC as IDENTITY

from ..suite import migrate


async def test_reapply_erasures_runs_against_the_database(
    database_url: str, redis_url: str
) -> None:
    await migrate([IDENTITY], database_url)
    command = [sys.executable, "-m", "aurora_cli.main", "users", "reapply-erasures"]
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    ok = subprocess.run(
        [*command, "--since", "2026-01-01T00:00:00+00:00"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    naive = subprocess.run(
        [*command, "--since", "2026-01-01T00:00:00"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert naive.returncode == 2
    assert "needs a UTC offset" in naive.stderr
