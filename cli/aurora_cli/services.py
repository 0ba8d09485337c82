"""The four services, looked up by name; the CLI is the only place that knows all four."""

from __future__ import annotations

import importlib

from aurora_shared.service import ServiceSpec

SERVICES = ("identity", "ingest", "dedup", "analytics")


def load_spec(name: str) -> ServiceSpec:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")
    spec = importlib.import_module(f"aurora_{name}.main").SPEC
    assert isinstance(spec, ServiceSpec)
    return spec


def produced_streams() -> list[str]:
    """Every stream some service writes, once each (several services write audit.events)."""
    return list(dict.fromkeys(s for name in SERVICES for s in load_spec(name).produces))
