"""Service boundaries (DESIGN.md §1), checked on the source itself.

A service never imports another service's package, and every table a service
declares lives in that service's own schema.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from aurora_shared.testing.plugin import repo_root

SERVICES = ("identity", "ingest", "dedup", "analytics")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = {f"aurora_{s}" for s in SERVICES if s != service}
    others |= {f"services.{s}" for s in SERVICES if s != service}
    root = repo_root() / "services" / service
    files = sorted(root.rglob("*.py"))
    assert files, f"no sources found for {service}"
    offenders = {
        f"{path.relative_to(repo_root())}: {module}"
        for path in files
        if ".egg-info" not in str(path)
        for module in imported_modules(path)
        if module.split(".")[0] in others or any(module.startswith(o + ".") for o in others)
    }
    assert not offenders, "cross-service imports:\n" + "\n".join(sorted(offenders))


def test_shared_imports_no_service() -> None:
    services = {f"aurora_{s}" for s in SERVICES}
    root = repo_root() / "shared" / "aurora_shared"
    offenders = {
        f"{path.name}: {module}"
        for path in root.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in services
    }
    assert not offenders, offenders


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from aurora_dedup.db import SCHEMA\nimport aurora_ingest\n")
    assert {"aurora_dedup.db", "aurora_ingest"} <= imported_modules(bad)


@pytest.mark.parametrize("service", SERVICES)
def test_tables_live_in_their_service_schema(service: str) -> None:
    importlib.import_module(f"aurora_{service}.models")
    db = importlib.import_module(f"aurora_{service}.db")
    metadata: MetaData = db.Base.metadata
    assert metadata.tables, f"{service} declares no tables"
    wrong = [name for name, table in metadata.tables.items() if table.schema != db.SCHEMA]
    assert service == db.SCHEMA
    assert not wrong, wrong
