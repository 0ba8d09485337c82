# ruff: noqa: E501  (inline XML test data reads best on one line)
"""Whole imports through real PostgreSQL: samples by COPY, records with their outbox events,
idempotent re-import, and nothing left behind by a cancellation or a bad file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest

from aurora_ingest.apple.errors import ExportError, ImportCancelled
from aurora_ingest.apple.service import Progress, import_export
from aurora_ingest.providers.kit import ProviderKit

W = "Jane\u2019s Apple\u00a0Watch"


def export(ax: ModuleType, *, bad_last: bool = False) -> bytes:
    hr = [
        ax.hr(W, f"2024-05-02 07:{m:02d}:{s:02d} -0700", 120 + m)
        for m in range(0, 31, 10)
        for s in (0, 30)
    ]
    hr.append(ax.hr("Oura", "2024-05-02 07:10:00 -0700", 55))  # another device: not the Watch's run
    hr.append(ax.hr(W, "2024-05-02 12:00:00 -0700", 70))  # outside the workout
    vitals = [
        ax.record(
            ax.HK + "RestingHeartRate",
            W,
            "2024-05-02 00:03:00 -0700",
            "2024-05-02 23:50:00 -0700",
            52,
            "count/min",
        ),
        ax.record(
            ax.HK + "RestingHeartRate", "Oura", "2024-05-02 06:00:00 -0700", None, 50, "count/min"
        ),
        ax.record(
            ax.HK + "HeartRateVariabilitySDNN",
            W,
            "2024-05-02 03:00:00 -0700",
            "2024-05-02 03:01:00 -0700",
            40,
            "ms",
        ),
        ax.record(
            ax.HK + "HeartRateVariabilitySDNN",
            W,
            "2024-05-02 09:00:00 -0700",
            "2024-05-02 09:01:00 -0700",
            60,
            "ms",
        ),
        ax.record(ax.HK + "VO2Max", W, "2024-05-02 08:00:00 -0700", None, 48.5, "mL/min·kg"),
        ax.record(ax.HK + "RespiratoryRate", W, "2024-05-02 04:00:00 -0700", None, 14, "count/min"),
        ax.record(ax.HK + "StepCount", W, "2024-05-02 04:00:00 -0700", None, 14, "count"),
    ]
    night = [
        ax.sleep(W, "2024-05-01 23:10:00 -0700", "2024-05-02 02:00:00 -0700", "AsleepCore"),
        ax.sleep(W, "2024-05-02 02:00:00 -0700", "2024-05-02 03:00:00 -0700", "AsleepDeep"),
        ax.sleep("Oura", "2024-05-01 23:00:00 -0700", "2024-05-02 06:00:00 -0700", "AsleepREM"),
    ]
    run = ax.workout(
        "Running",
        W,
        "2024-05-02 07:00:00 -0700",
        "2024-05-02 07:31:00 -0700",
        duration="31",
        durationUnit="min",
        device=ax.WATCH_DEVICE,
        children=(
            '<WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="2024-05-02 07:00:00 -0700" '
            'endDate="2024-05-02 07:31:00 -0700" average="140" minimum="100" maximum="170" unit="count/min"/>'
            '<WorkoutRoute sourceName="x" startDate="2024-05-02 07:00:00 -0700" endDate="2024-05-02 07:31:00 -0700">'
            '<FileReference path="/workout-routes/route_1.gpx"/></WorkoutRoute>'
        ),
    )
    copy = ax.workout(
        "Cycling", "Connect", "2024-05-03 07:00:00 -0700", "2024-05-03 08:00:00 -0700"
    )
    rings = '<ActivitySummary dateComponents="2024-05-02" activeEnergyBurned="500" activeEnergyBurnedUnit="Cal" appleExerciseTime="30" appleStandHours="10"/>\n'
    tail = (
        '<Workout workoutActivityType="x" sourceName="x" startDate="2024-05-03T07:00:00Z" endDate="x"/>\n'
        if bad_last
        else ""
    )
    document: bytes = ax.document(*hr, *vitals, *night, run, copy, rings, tail)
    return document


def route(ax: ModuleType) -> bytes:
    data: bytes = ax.gpx(
        [("2024-05-02T14:00:00Z", 37.1, -122.1, 10.0), ("2024-05-02T14:00:01Z", 37.2, -122.2, 11.0)]
    )
    return data


async def events(db: asyncpg.Connection) -> list[tuple[str, dict[str, Any]]]:
    rows = await db.fetch("SELECT event_type, envelope::text AS e FROM ingest.outbox ORDER BY id")
    return [(r["event_type"], json.loads(r["e"])["payload"]) for r in rows]


async def run(
    kit: ProviderKit, path: Path, user: uuid.UUID, *, cancel_after: int | None = None
) -> Any:
    seen: list[Progress] = []
    calls = [0]

    async def progress(step: Progress) -> None:
        seen.append(step)

    async def cancelled() -> bool:
        calls[0] += 1
        return cancel_after is not None and calls[0] > cancel_after

    summary = await import_export(
        kit.sessions, user_id=user, path=path, progress=progress, cancelled=cancelled
    )
    return summary, seen


async def test_a_zipped_export_becomes_records_events_and_samples(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(ax.zipped(export(ax), routes={"route_1.gpx": route(ax)}))
    user = uuid.uuid4()
    summary, seen = await run(kit, path, user)
    assert summary.records["HKQuantityTypeIdentifierHeartRate"] == 10
    assert summary.samples == 10 + 6 and summary.workouts == 2
    assert summary.skipped == {"HKQuantityTypeIdentifierStepCount": 1}
    assert seen and seen[-1].bytes_parsed == summary.bytes_parsed > 0
    sent = await events(db)
    kinds = sorted(kind for kind, _ in sent)
    # 2 workouts; daily: Watch, Oura, rings; sleep: Watch and Oura kept apart.
    assert kinds == ["health.ingested"] * 5 + ["workout.ingested"] * 2
    workouts = {p["sport"]: p for kind, p in sent if kind == "workout.ingested"}
    run_ = workouts["run"]
    assert run_["source"] == "apple_health" and run_["origin_device"] == "Apple Watch"
    assert run_["metrics"]["avg_hr"] == 140.0 and run_["duration_s"] == 1860.0
    assert run_["tz_offset_min"] == -420 and run_["start"] == "2024-05-02T14:00:00Z"
    samples = run_["samples"]
    # the Watch's 8 in-window samples plus 2 GPS points (the Oura sample stays out)
    assert samples["t"][:3] == [0.0, 1.0, 30.0]
    assert samples["hr"][:3] == [120.0, None, 120.0] and samples["lat"][:2] == [37.1, 37.2]
    assert len([v for v in samples["hr"] if v is not None]) == 8
    assert workouts["ride"]["origin_device"] == "Garmin Connect"
    health = [p for kind, p in sent if kind == "health.ingested"]
    sleeps = sorted(
        (p["origin_device"], p["date"], p["metrics"]["asleep_s"])
        for p in health
        if p["kind"] == "sleep"
    )
    assert sleeps == [("Apple Watch", "2024-05-02", 13800.0), ("Oura", "2024-05-02", 25200.0)]
    daily = {p["origin_device"]: p for p in health if p["kind"] == "daily"}
    assert daily["Apple Watch"]["metrics"] == {
        "resting_hr": 52.0,
        "hrv_sdnn_ms": 50.0,
        "vo2max": 48.5,
        "respiratory_rate": 14.0,
    }
    assert daily["Oura"]["metrics"] == {"resting_hr": 50.0}
    assert daily[None]["metrics"]["active_energy_kj"] == 2092.0
    assert (
        await db.fetchval("SELECT count(*) FROM ingest.apple_samples WHERE user_id = $1", user)
        == 16
    )

    # The same export again: nothing changes, nothing is announced, samples are not doubled.
    again, _ = await run(kit, path, user)
    assert again.workouts == 2 and len(await events(db)) == 7
    assert await db.fetchval("SELECT count(*) FROM ingest.apple_samples") == 16
    assert await db.fetchval("SELECT count(*) FROM ingest.apple_imports") == 2


async def test_a_bare_xml_export_imports_too(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(export(ax))
    summary, _ = await run(kit, path, uuid.uuid4())
    assert summary.workouts == 2
    # no zip, so no route file: the run has heart rate only
    (run_,) = [p for k, p in await events(db) if k == "workout.ingested" and p["sport"] == "run"]
    assert (
        "lat" not in run_["samples"]
        and run_["details"]["route_file"] == "/workout-routes/route_1.gpx"
    )


async def test_a_bad_element_at_the_end_leaves_nothing(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(export(ax, bad_last=True))
    with pytest.raises(ExportError) as caught:
        await run(kit, path, uuid.uuid4())
    assert (
        "Workout startDate is '2024-05-03T07:00:00Z', not a date like YYYY-MM-DD HH:MM:SS ±HHMM"
        in caught.value.detail
    )
    for table in ("outbox", "records", "apple_samples", "apple_imports"):
        assert await db.fetchval(f"SELECT count(*) FROM ingest.{table}") == 0


async def test_cancellation_leaves_nothing(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(export(ax))
    with pytest.raises(ImportCancelled):
        await run(kit, path, uuid.uuid4(), cancel_after=0)
    for table in ("outbox", "records", "apple_samples", "apple_imports"):
        assert await db.fetchval(f"SELECT count(*) FROM ingest.{table}") == 0
