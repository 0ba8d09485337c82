"""The pure parts of `make bench-dedup`: the data it derives and the figures it computes.

A benchmark that replicates records wrongly, or publishes payloads dedup would reject,
measures something else than it claims; these tests pin that down without servers.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurora_dedup.timeline.events import WorkoutIngested
from bench.dedup_data import (
    YEAR,
    canonical_groups,
    count_records,
    locate_public_set,
    replicate,
    service_load,
    shuffled,
)
from bench.dedup_profile import cpu_by_library, statement_kind
from bench.dedup_service import CORES, percentile, phase_stats
from bench.dedup_service_io import Published, Resolved, stream_ms

ROOT = Path(__file__).resolve().parents[2]


def _record(user: str, ext: str, start: str, end: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "user": user,
        "source": extra.pop("source", "garmin"),
        "external_id": ext,
        "origin_device": None,
        "sport": "ride",
        "start": start,
        "end": end,
        "duration_s": 3600,
        "distance_m": 30000.0,
        "avg_hr": None,
        "avg_power": 210.0,
        "tz_offset_min": 60,
        **extra,
    }


RECORDS: dict[str, Any] = {
    "format": "aurora-dedup-records/1",
    "users": {
        "a": [
            _record("a", "1", "2024-03-04T08:00:00+01:00", "2024-03-04T09:00:00+01:00"),
            _record("a", "2", "2024-03-04T07:01:00Z", None, source="strava"),
            _record("a", "3", "2024-03-06T18:00:00+01:00", "2024-03-06T19:00:00+01:00"),
        ],
        "b": [_record("b", "4", "2024-03-05T06:00:00.250Z", "2024-03-05T07:00:00.250Z")],
    },
}
TRUTH: dict[str, Any] = {
    "users": {
        "a": [
            {"ids": ["1", "2"], "scenario": "copies", "primary": ["2"]},
            {"ids": ["3"], "scenario": "single", "primary": None},
        ],
        "b": [{"ids": ["4"], "scenario": "single", "primary": None}],
    }
}


def test_replicate_copies_every_record_per_user_and_year_with_fresh_ids() -> None:
    document, truth = replicate(RECORDS, TRUTH, copies=3, years=2)
    assert count_records(document) == 4 * 3 * 2
    assert len(document["users"]) == 2 * 3
    for user, recs in document["users"].items():
        ids = [r["external_id"] for r in recs]
        assert len(set(ids)) == len(ids)
        assert all(r["user"] == user for r in recs)
        truth_ids = [x for g in truth["users"][user] for x in g["ids"]]
        assert sorted(truth_ids) == sorted(ids)  # the truth still partitions the user
    every_id = [r["external_id"] for recs in document["users"].values() for r in recs]
    assert len(set(every_id)) == len(every_id)  # the scorer keys on external ids


def test_replicate_shifts_each_year_by_whole_weeks_and_keeps_offsets_and_ms() -> None:
    document, truth = replicate(RECORDS, TRUTH, copies=1, years=2)
    recs = {r["external_id"]: r for r in document["users"]["a~c0"]}
    first, second = recs["1~c0y0"], recs["1~c0y1"]
    assert first["start"] == "2024-03-04T08:00:00+01:00"
    delta = datetime.fromisoformat(second["start"]) - datetime.fromisoformat(first["start"])
    assert delta == YEAR and YEAR % timedelta(weeks=1) == timedelta(0)
    assert second["start"].endswith("+01:00")
    assert recs["2~c0y1"]["end"] is None
    shifted = document["users"]["b~c0"][1]["start"]
    assert datetime.fromisoformat(shifted).microsecond == 250_000
    groups = truth["users"]["a~c0"]
    assert {"ids": ["1~c0y1", "2~c0y1"], "scenario": "copies", "primary": ["2~c0y1"]} in groups
    assert {"ids": ["3~c0y0"], "scenario": "single", "primary": None} in groups


def test_shuffled_keeps_the_records_and_canonical_groups_ignore_order() -> None:
    other = shuffled(RECORDS, seed=7)
    assert list(other["users"]) == ["b", "a"]
    for user, recs in RECORDS["users"].items():
        key = [r["external_id"] for r in recs]
        assert sorted(r["external_id"] for r in other["users"][user]) == sorted(key)
    one = {"users": {"a": [{"ids": ["1", "2"], "primary": "2"}, {"ids": ["3"], "primary": "3"}]}}
    two = {"users": {"a": [{"ids": ["3"], "primary": "3"}, {"ids": ["2", "1"], "primary": "2"}]}}
    three = {"users": {"a": [{"ids": ["1", "2"], "primary": "1"}, {"ids": ["3"], "primary": "3"}]}}
    assert canonical_groups(one) == canonical_groups(two)
    assert canonical_groups(one) != canonical_groups(three)


def test_service_load_interleaves_users_with_payloads_dedup_accepts() -> None:
    load = service_load(RECORDS, users=4, per_user=2, tag="t")
    assert len(load) == 2 + 1 + 2 + 1  # athlete b has one record
    users = list(dict.fromkeys(r.user_id for r in load))
    assert len(users) == 4
    assert [r.user_id for r in load[:4]] == users  # round robin: one record per user first
    assert len({r.record_id for r in load}) == len(load)
    for item in load:
        payload = WorkoutIngested.model_validate(item.payload)
        assert payload.record_id == item.record_id
        assert payload.metrics == {"distance_m": 30000.0, "avg_power": 210.0}
    starts = {r.payload["external_id"].split("~")[0]: r.payload["start"] for r in load}
    assert starts["1"] == "2024-03-04T07:00:00Z"  # UTC with Z, as ingest writes it
    assert starts["4"] == "2024-03-05T06:00:00.250000Z"
    first_user = [r.payload for r in load if r.user_id == users[0]]
    assert [p["start"] for p in first_user] == sorted(p["start"] for p in first_user)


def test_statement_kind_names_verb_and_table() -> None:
    assert statement_kind("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))") == (
        "SELECT pg_advisory_xact_lock (user lock)"
    )
    assert statement_kind("INSERT INTO dedup.outbox (a) VALUES ($1)") == "INSERT dedup.outbox"
    assert statement_kind("UPDATE dedup.source_records SET x=$1") == ("UPDATE dedup.source_records")
    assert statement_kind("DELETE FROM dedup.canonical_workouts WHERE id = $1") == (
        "DELETE dedup.canonical_workouts"
    )
    sql = "SELECT a.id\nFROM   dedup.source_records AS a WHERE a.id = $1 FOR UPDATE"
    assert statement_kind(sql) == "SELECT dedup.source_records FOR UPDATE"
    joined = "SELECT o.x FROM (SELECT 1 AS one) AS one LEFT OUTER JOIN dedup.links ON true"
    assert statement_kind(joined) == "SELECT dedup.links"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0


def test_phase_stats_time_records_from_publish_to_first_resolution() -> None:
    published = Published(at_ms={"r1": 1_000, "r2": 1_100, "r3": 1_200}, last_entry="1200-0")
    resolved = Resolved(first_ms={"r1": 1_050, "r2": 1_400}, resolved_events=4)
    resolved.last_entry = "3000-0"
    cpu = {"worker": 0.3, "postgres": 0.3, "machine": 0.6, "machine_utilisation": 0.5}
    stats = phase_stats(published, resolved, cpu, {"xact_commit": 3})
    assert stats["resolved_records"] == 2 and stats["unresolved_records"] == 1
    assert stats["seconds"] == 2.0 and stats["records_per_s"] == 1.5
    assert stats["latency_ms"]["p50"] == 50.0 and stats["latency_ms"]["max"] == 300.0
    per_record = {"worker": 100_000, "postgres": 100_000, "machine": 200_000}
    assert stats["cpu_us_per_record"] == per_record
    assert stats["cpu_bound_records_per_s"] == round(CORES * 1e6 / 200_000)
    assert stats["db_per_record"] == {"xact_commit": 1.0}
    assert stream_ms("1700000000123-4") == 1_700_000_000_123


def test_locate_public_set_needs_the_fixtures_and_the_scorer(tmp_path: Path) -> None:
    assert locate_public_set(tmp_path / "repo") is None
    public = locate_public_set(ROOT)
    if not (ROOT.parent / "shared" / "fixtures" / "dedup").is_dir():
        pytest.skip("../shared/fixtures/dedup is absent")
    assert public is not None
    records = public.records()
    assert count_records(records) == 1628
    load = service_load(records, users=20, per_user=5, tag="x")
    for item in load:
        WorkoutIngested.model_validate(item.payload)
    _ = uuid.UUID(load[0].payload["record_id"])


def test_cpu_by_library_shares_add_up_and_name_the_library() -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2000):
        json.loads(json.dumps({"a": list(range(50))}))
    profiler.disable()
    shares = cpu_by_library(pstats.Stats(profiler))
    assert abs(sum(shares.values()) - 1.0) < 0.01
    assert shares.get("json", 0) > 0.3
