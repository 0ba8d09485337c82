"""`aurora import fit`: files, zips and folders through a real ingest API, to a summary.

The ingest app runs in-process on the test PostgreSQL and Redis (httpx's ASGI
transport stands in for the gateway) and a background task drains the job queue
the way the ingest tasks process does, so the command's polling sees real progress.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from aurora_cli.main import main as aurora_main

from .conftest import Api, load_test_module

ENCODER_PATH = Path(__file__).parents[2] / "services/ingest/tests/fit/encoder.py"


encoder = load_test_module(ENCODER_PATH, "fit_test_encoder")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def test_a_fit_file_is_imported_with_a_summary(api: Api, tmp_path: Path) -> None:
    ride = write(tmp_path / "ride.fit", encoder.activity_file())
    code, out, err = await api.run(ride)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["file", "status", "workouts", "reason"]
    assert lines[1].split() == [str(ride), "imported", "1"]
    assert lines[-1] == "1 file(s): 1 imported; 1 workout(s)"
    assert f"upload {ride} [" in err  # the progress bar
    assert await api.count("SELECT count(*) FROM ingest.records") == 1


async def test_a_zip_and_a_folder_report_every_file(api: Api, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.fit", encoder.activity_file(serial=1))
        archive.writestr("readme.txt", b"hello")
    export = write(tmp_path / "export.zip", buffer.getvalue())
    folder = tmp_path / "watch"
    write(folder / "2024" / "b.fit", encoder.activity_file(serial=2))
    write(folder / "c.fit", encoder.activity_file(serial=3))
    write(folder / "notes.md", b"ignored")
    code, out, _ = await api.run(export, folder)
    assert code == 0, out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:-1]}
    assert rows[f"{export}:a.fit"] == ["imported", "1"]
    assert rows[f"{export}:readme.txt"] == ["skipped", "0", "not", "a", ".fit", "file"]
    assert rows[f"{folder}/2024/b.fit"] == ["imported", "1"]
    assert rows[f"{folder}/c.fit"] == ["imported", "1"]
    assert out.splitlines()[-1] == "4 file(s): 3 imported, 1 skipped; 3 workout(s)"
    assert await api.count("SELECT count(*) FROM ingest.uploads") == 2


async def test_rejected_and_duplicate_files_are_reported(api: Api, tmp_path: Path) -> None:
    data = encoder.activity_file()
    first = write(tmp_path / "one.fit", data)
    again = write(tmp_path / "again.fit", data)
    empty = write(tmp_path / "empty.fit", b"")
    enc = encoder.FitEncoder()
    enc.message("file_id", {"type": "settings", "manufacturer": "garmin", "product": 1})
    settings = write(tmp_path / "settings.fit", enc.build())
    code, out, _ = await api.run(first, again, empty, settings)
    assert code == 1
    table = out.splitlines()
    assert table[2].split()[:3] == [str(again), "duplicate", "0"]
    assert table[3].split(maxsplit=3) == [str(empty), "rejected", "0", "the file is empty"]
    assert table[4].endswith("this is a settings file, not an activity")
    assert table[-1] == "4 file(s): 1 duplicate, 1 imported, 2 rejected; 1 workout(s)"


async def test_a_refused_token_stops_with_status_2(api: Api, tmp_path: Path) -> None:
    ride = write(tmp_path / "ride.fit", encoder.activity_file())
    api.token = "not-a-token"
    code, out, err = await api.run(ride)
    assert code == 2
    assert out == ""
    assert "the API refused the token" in err


async def test_a_missing_path_stops_before_any_upload(api: Api, tmp_path: Path) -> None:
    code, _, err = await api.run(tmp_path / "nope.fit")
    assert code == 2
    assert f"{tmp_path / 'nope.fit'}: no such file or folder" in err
    assert await api.count("SELECT count(*) FROM ingest.uploads") == 0


def test_the_command_needs_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AURORA_TOKEN", raising=False)
    assert aurora_main(["import", "fit", str(tmp_path)]) == 2
    assert "--token or AURORA_TOKEN" in capsys.readouterr().err


def test_an_unreachable_api_is_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ride = write(tmp_path / "ride.fit", b"x")
    monkeypatch.setenv("AURORA_TOKEN", "t")
    code = aurora_main(["import", "fit", str(ride), "--url", "http://127.0.0.1:9"])
    assert code == 2
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err
