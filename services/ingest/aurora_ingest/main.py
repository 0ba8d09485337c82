"""Process entry points of the ingest service: serve, worker, relay, migrate."""

from __future__ import annotations

import sys

from aurora_ingest.config import get_settings
from aurora_ingest.consumers import subscriptions
from aurora_ingest.db import BUS, SCHEMA, STREAM
from aurora_shared.service import ServiceSpec, migrations_path, service_cli

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
)


def main() -> None:
    service_cli(SPEC, sys.argv[1:])
