"""Process entry points of the ingest service: serve, worker, relay, migrate, tasks."""

from __future__ import annotations

import sys

from aurora_ingest.config import get_settings
from aurora_ingest.consumers import subscriptions
from aurora_ingest.db import BUS, SCHEMA, STREAM
from aurora_shared.service import ServiceSpec, migrations_path, service_cli


def run_tasks() -> None:
    """The provider job drain (arq); imported only when run."""
    from aurora_ingest.tasks import run

    run()


def reencrypt_tokens() -> None:
    """Re-encrypts every stored provider token with the current key (after a key rotation)."""
    from aurora_ingest.connections.rotation import run_reencrypt

    run_reencrypt()


SPEC = ServiceSpec(
    name="ingest",
    schema=SCHEMA,
    app_factory="aurora_ingest.app:create_app",
    settings=get_settings,
    inbox=BUS.inbox,
    produces=[STREAM],
    subscriptions=subscriptions,
    migrations=migrations_path(__file__),
    default_port=8102,
    tasks=run_tasks,
    commands={
        "reencrypt-tokens": (
            "re-encrypt every provider token with the current key",
            reencrypt_tokens,
        )
    },
)


def main() -> None:
    service_cli(SPEC, sys.argv[1:])
