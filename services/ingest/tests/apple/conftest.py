"""The Apple tests' export builder, handed out as a fixture (tests import no helper modules)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    name = "aurora_apple_test_exports"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("exports.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def ax() -> ModuleType:
    """tests/apple/exports.py: record(), workout(), document(), zipped(), gpx()..."""
    return _load()
