"""`aurora import apple-health`: an export through a real ingest API, with progress and a table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aurora_cli import apple_import
from aurora_cli.main import main as aurora_main

from .conftest import Api, load_test_module

EXPORTS_PATH = Path(__file__).parents[2] / "services/ingest/tests/apple/exports.py"
W = "Apple Watch"


ax = load_test_module(EXPORTS_PATH, "apple_test_exports_cli")


async def run(api: Api, path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await apple_import.import_apple_health(
        path,
        url="http://testserver",
        token=api.token,
        transport=api.transport,
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


async def test_an_export_is_imported_with_progress_and_a_table(api: Api, tmp_path: Path) -> None:
    beats = [ax.hr(W, f"2024-05-02 07:{m:02d}:00 -0700", 120 + m) for m in range(12)]
    run_ = ax.workout("Running", W, "2024-05-02 07:00:00 -0700", "2024-05-02 07:30:00 -0700")
    path = tmp_path / "export.zip"
    path.write_bytes(ax.zipped(ax.document(*beats, run_)))
    code, out, err = await run(api, path)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["type", "records"]
    assert lines[1].split() == ["HeartRate", "12"]
    assert "Workout  " in out and lines[-1].startswith("export.zip: done; 14 records, 1 workouts")
    assert "MB/s" in lines[-1] and "records/s" in lines[-1]
    assert f"upload {path} [" in err  # the upload bar
    assert "done: " in err and "records, 1 workouts" in err  # the processing line
    assert await api.count("SELECT count(*) FROM ingest.apple_samples") == 12


async def test_a_broken_export_fails_with_its_reason(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(b"<HealthData><Record></HealthData>")
    code, out, _ = await run(api, path)
    assert code == 1
    assert "export.xml: failed; 0 records" in out
    assert "reason: export.xml is not well-formed XML" in out
    assert await api.count("SELECT count(*) FROM ingest.apple_samples") == 0


async def test_a_missing_file_or_refused_token_stops_with_status_2(
    api: Api, tmp_path: Path
) -> None:
    code, out, err = await run(api, tmp_path / "nope.zip")
    assert (code, out) == (2, "") and "nope.zip: no such file" in err
    path = tmp_path / "export.xml"
    path.write_bytes(ax.document(ax.hr(W, "2024-05-02 07:00:00 -0700", 100)))
    api.token = "not-a-token"
    code, out, err = await run(api, path)
    assert (code, out) == (2, "") and "the API refused the token" in err


def test_the_command_needs_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AURORA_TOKEN", raising=False)
    assert aurora_main(["import", "apple-health", str(tmp_path / "export.zip")]) == 2
    assert "--token or AURORA_TOKEN" in capsys.readouterr().err
