"""`aurora dedup resolve`: a records file in, the truth-format grouping out."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from aurora_cli.dedup import predict
from aurora_cli.main import main
from aurora_dedup.resolution.benchmark import (
    RECORD_NAMESPACE,
    DocumentError,
    parse_document,
    parse_record,
    record_id,
)


def record(external_id: str, source: str = "garmin", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "user": "athlete-001",
        "source": source,
        "external_id": external_id,
        "origin_device": None,
        "sport": "ride",
        "start": "2024-03-12T08:39:44+01:00",
        "end": "2024-03-12T10:57:11+01:00",
        "duration_s": 8096,
        "distance_m": 50119.6,
        "avg_hr": 131,
        "avg_power": 253.2,
        "tz_offset_min": 60,
    }
    return {**base, **overrides}


def document(*records: dict[str, Any]) -> dict[str, Any]:
    return {"format": "aurora-dedup-records/1", "users": {"athlete-001": list(records)}}


RIDE = document(
    record("g1"),
    record(
        "s1",
        "strava",
        origin_device="Garmin Edge 1040",
        start="2024-03-12T07:39:44Z",
        end=None,
        duration_s=8247,
    ),
    record(
        "w1",
        "whoop",
        origin_device="WHOOP 4.0",
        start="2024-03-12T07:40:37.836Z",
        end="2024-03-12T08:01:30.100Z",
        duration_s=1253,
        distance_m=None,
    ),
    record(
        "w2",
        "whoop",
        start="2024-03-12T15:00:00Z",
        end="2024-03-12T15:30:00Z",
        duration_s=1800,
        sport="walk",
    ),
)


def test_predict_groups_and_elects_with_the_service_core() -> None:
    out = predict(RIDE)
    assert out["format"] == "aurora-dedup-groups/1"
    groups = out["users"]["athlete-001"]
    assert groups == [
        {"ids": ["g1", "s1", "w1"], "primary": "g1"},
        {"ids": ["w2"], "primary": "w2"},
    ]


def test_explain_adds_every_records_reason() -> None:
    (ride, _) = predict(RIDE, explain=True)["users"]["athlete-001"]
    assert ride["reasons"]["g1"].startswith("primary: garmin recording has priority 60")
    assert "battery died, cut short or split at a stop): wholly inside" in ride["reasons"]["w1"]


def test_record_ids_are_uuid5_of_source_and_external_id() -> None:
    for source, external_id in [("garmin", "1"), ("apple_health", "A91F07C0-C588"), ("s", "é")]:
        expected = uuid.uuid5(RECORD_NAMESPACE, f"{source}\x1f{external_id}")
        assert record_id(source, external_id) == expected
    assert record_id("garmin", "1") != record_id("strava", "1")
    assert record_id("garmin", "1").version == 5


def test_record_ids_behave_like_any_uuid() -> None:
    built, expected = record_id("wahoo", "x-1"), uuid.uuid5(RECORD_NAMESPACE, "wahoo\x1fx-1")
    assert (str(built), repr(built), hash(built)) == (str(expected), repr(expected), hash(expected))
    assert built.is_safe is expected.is_safe and built.variant == expected.variant


def test_the_fast_parse_gives_what_the_careful_parse_gives() -> None:
    sparse = {k: v for k, v in record("m1", "manual").items() if v is not None}
    del sparse["avg_power"], sparse["end"]  # optional fields may be left out entirely
    doc = document(*RIDE["users"]["athlete-001"], sparse, record("b", duration_s=60.5))
    parsed = parse_document(doc)["athlete-001"]
    expected = [parse_record(r, "r") for r in doc["users"]["athlete-001"]]
    assert parsed == expected
    assert [repr(r) for r in parsed] == [repr(r) for r in expected]


def test_predict_builds_no_reference_cycles_and_restores_the_collector() -> None:
    """Why predict may pause the cycle collector: refcounting alone frees all it builds."""
    days = [f"2024-03-{1 + i % 28:02}T08:0{i % 3}:00Z" for i in range(60)]
    big = document(
        *[record(f"g{i}", start=day, end=None) for i, day in enumerate(days)],
        *[
            record(f"w{i}", "whoop", origin_device="WHOOP", start=day, end=None, duration_s=900)
            for i, day in enumerate(days)
        ],
    )
    gc.collect()
    gc.disable()
    try:
        for doc in (RIDE, big):
            predict(doc)
            predict(doc, explain=True)
        assert gc.collect() == 0
        predict(RIDE)
        assert not gc.isenabled()  # a caller's disabled collector stays disabled
    finally:
        gc.enable()
    predict(RIDE)
    assert gc.isenabled()
    with pytest.raises(DocumentError):
        predict({"format": "aurora-dedup-records/1", "users": {"a": "nope"}})
    assert gc.isenabled()


def test_command_writes_the_prediction_file(tmp_path: Path) -> None:
    src = tmp_path / "records.json"
    src.write_text(json.dumps(RIDE))
    out = tmp_path / "pred.json"
    assert main(["dedup", "resolve", str(src), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == predict(RIDE)


def test_command_prints_to_stdout_without_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "records.json"
    src.write_text(json.dumps(RIDE))
    assert main(["dedup", "resolve", str(src), "--explain"]) == 0
    assert json.loads(capsys.readouterr().out) == predict(RIDE, explain=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"format": "something-else/1", "users": {}}', "format must be 'aurora-dedup-records/1'"),
        ('["a list"]', "expected a JSON object"),
        ('{"format": "aurora-dedup-records/1"}', "'users' must map each athlete"),
        (json.dumps(document({"source": "garmin"})), "users.athlete-001[0].external_id: required"),
        (json.dumps(document(record("x", start="2024-03-12T08:39:44"))), "needs a UTC offset"),
        (json.dumps(document(record("x", start="yesterday"))), "not an RFC 3339 time"),
        (json.dumps(document(record("x", duration_s="long"))), "duration_s: expected a number"),
        (json.dumps(document(record("x", avg_hr=10**400))), "avg_hr: expected a number"),
        (json.dumps(document(record("x", end="2024-03-12T07:00:00+01:00"))), "end is before start"),
        (
            json.dumps(document(record("x", tz_offset_min=1.5))),
            "tz_offset_min: expected an integer",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    src = tmp_path / "records.json"
    src.write_text(content)
    assert main(["dedup", "resolve", str(src)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aurora dedup resolve: ") and message in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dedup", "resolve", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_predict_raises_document_error_a_value_error() -> None:
    with pytest.raises(DocumentError) as caught:
        predict({"format": "aurora-dedup-records/1", "users": {"a": "nope"}})
    assert isinstance(caught.value, ValueError)


def test_the_installed_command_runs(tmp_path: Path) -> None:
    src = tmp_path / "records.json"
    src.write_text(json.dumps(RIDE))
    done = subprocess.run(
        [sys.executable, "-m", "aurora_cli.main", "dedup", "resolve", str(src)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["users"]["athlete-001"][0]["primary"] == "g1"
