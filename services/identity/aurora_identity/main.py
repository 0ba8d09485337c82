"""Process entry points of the identity service: serve, worker, relay, migrate, tasks."""

from __future__ import annotations

import sys

from aurora_identity.config import get_settings
from aurora_identity.consumers import subscriptions
from aurora_identity.db import BUS, SCHEMA, STREAM
from aurora_identity.sessions.revocation import relay_extras
from aurora_shared.service import ServiceSpec, migrations_path, service_cli


def run_tasks() -> None:
    """The arq worker of the scheduled jobs (the erasure purge); imported only when run."""
    from aurora_identity.tasks import run

    run()


SPEC = ServiceSpec(
    name="identity",
    schema=SCHEMA,
    app_factory="aurora_identity.app:create_app",
    settings=get_settings,
    inbox=BUS.inbox,
    produces=[STREAM],
    subscriptions=subscriptions,
    migrations=migrations_path(__file__),
    default_port=8101,
    # Reseeds the Redis revocation cache after a Redis restart, and prunes expired rows.
    relay_extras=relay_extras,
    tasks=run_tasks,
)


def main() -> None:
    service_cli(SPEC, sys.argv[1:])
