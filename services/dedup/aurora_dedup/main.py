"""Process entry points of the dedup service: serve, worker, relay, migrate."""

from __future__ import annotations

import sys

from aurora_dedup.config import get_settings
from aurora_dedup.consumers import subscriptions
from aurora_dedup.db import BUS, SCHEMA, STREAM
from aurora_shared.access import AUDIT_STREAM
from aurora_shared.service import ServiceSpec, migrations_path, service_cli

SPEC = ServiceSpec(
    name="dedup",
    schema=SCHEMA,
    app_factory="aurora_dedup.app:create_app",
    settings=get_settings,
    inbox=BUS.inbox,
    produces=[STREAM, AUDIT_STREAM],
    subscriptions=subscriptions,
    migrations=migrations_path(__file__),
    default_port=8103,
)


def main() -> None:
    service_cli(SPEC, sys.argv[1:])
