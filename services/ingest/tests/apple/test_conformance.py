# ruff: noqa: E501  (inline XML test data reads best on one line)
"""Conformance over the real public exports in ../shared/fixtures/apple_health (when present)."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest

from aurora_ingest.apple.archive import open_export
from aurora_ingest.apple.gpx import parse_gpx
from aurora_ingest.apple.mapping import Normaliser
from aurora_ingest.apple.parser import Node, read_items
from aurora_ingest.apple.service import SKIP

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "apple_health"
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not FIXTURES.exists(), reason="shared fixtures not present"),
]


def normalise(path: Path) -> Normaliser:
    norm = Normaliser(uuid.uuid4(), uuid.uuid4())
    with open_export(path) as export:
        for _, items in read_items(export.xml, skip=SKIP):
            norm.feed(items)
    return norm


def test_healthkit_to_sqlite_export_legacy_workout_with_inline_route() -> None:
    norm = normalise(FIXTURES / "healthkit-to-sqlite" / "export.xml")
    assert norm.counts["HKQuantityTypeIdentifierHeartRate"] == 1
    assert norm.counts["Workout"] == 1 and norm.counts["ActivitySummary"] == 2
    (workout,) = norm.workouts
    fields = workout.fields
    assert (fields.sport, fields.origin_device, fields.tz_offset_min) == (
        "run",
        "Apple Watch",
        -420,
    )
    assert round(fields.duration_s, 2) == 311.65
    assert fields.metrics["distance_m"] == pytest.approx(800.1, abs=0.1)
    assert fields.metrics["energy_kj"] == pytest.approx(203.95, abs=0.01)
    assert len(workout.route) == 2 and workout.route_file is None
    assert fields.details["metadata"]["HKTimeZone"]
    (hr_row,) = [r for r in norm.rows if "\thr\t" in r]
    assert "\tApple Watch\t" in hr_row
    rings = [f for _, f in norm.health.records() if f.origin_device is None]
    assert len(rings) == 2


def test_zipped_ios14_export_reads_its_gpx_route(tmp_path: Path) -> None:
    folder = FIXTURES / "healthkit-to-sqlite" / "zip_contents"
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in folder.rglob("*"):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    with open_export(path) as export:
        norm = Normaliser(uuid.uuid4(), uuid.uuid4())
        for _, items in read_items(export.xml, skip=SKIP):
            norm.feed(items)
        (workout,) = norm.workouts
        assert workout.route_file == "/workout-routes/route_2019-06-11_3.00pm.gpx"
        data = export.route(workout.route_file)
    assert data is not None
    points = parse_gpx(data)
    assert len(points) == 3 and all(p.at.utcoffset() is not None for p in points)


def test_apple_health_parser_zip_with_mac_junk_and_curly_quotes() -> None:
    norm = normalise(FIXTURES / "apple-health-parser" / "export.zip")
    assert norm.counts["HKQuantityTypeIdentifierHeartRate"] == 2
    hr_sources = {r.split("\t")[3] for r in norm.rows if "\thr\t" in r}
    assert hr_sources == {"Apple Watch"}  # "'" and U+2019 spellings are one device
    assert norm.skipped.get("HKQuantityTypeIdentifierActiveEnergyBurned") == 2
    sleep = [f for _, f in norm.health.records() if f.kind == "sleep"]
    assert sleep, "the sleep samples become a night"


@pytest.mark.parametrize("dtd", ["HealthKit_Export_v8.dtd.txt", "HealthKit_Export_v14.dtd.txt"])
def test_apples_real_dtds_are_accepted(dtd: str) -> None:
    head = (FIXTURES / "dtd" / dtd).read_bytes()
    document = (
        head
        + b'\n<HealthData locale="en_US"><ExportDate value="2024-07-01 09:41:07 -0700"/></HealthData>\n'
    )
    items: list[Node] = []
    for _, batch in read_items(io.BytesIO(document)):
        items.extend(batch)
    assert [i[0] for i in items] == ["ExportDate"]
