"""The inputs of the dedup benchmark, all derived from the public scenario set in ../shared.

The set is small (1,628 records), so the speed phases replicate it: copies of each athlete
become new users, shifted by whole years, each with fresh external ids. A copy keeps every
scenario's shape (same durations, gaps and offsets), so the load is the realistic mix of
the set, not random intervals; and the truth can be replicated alongside it, which lets the
benchmark check that the core gives the same quality at scale.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The record fields that travel as ingest's summary metrics (DESIGN.md §2).
METRIC_FIELDS = ("distance_m", "avg_hr", "avg_power")
YEAR = timedelta(days=364)  # 52 weeks: a copy keeps its weekdays

Document = dict[str, Any]


@dataclass(frozen=True)
class PublicSet:
    folder: Path  # ../shared/fixtures/dedup
    tools: Path  # ../shared/tools

    @property
    def records_path(self) -> Path:
        return self.folder / "public_records.json"

    @property
    def truth_path(self) -> Path:
        return self.folder / "public_truth.json"

    def records(self) -> Document:
        data: Document = json.loads(self.records_path.read_text())
        return data

    def truth(self) -> Document:
        data: Document = json.loads(self.truth_path.read_text())
        return data


def locate_public_set(root: Path = ROOT) -> PublicSet | None:
    """../shared next to the repository root, so a clone beside /work/main finds it too."""
    shared = root.parent / "shared"
    folder, tools = shared / "fixtures" / "dedup", shared / "tools"
    needed = (folder / "public_records.json", folder / "public_truth.json")
    if not all(p.is_file() for p in needed) or not (tools / "score_dedup.py").is_file():
        return None
    return PublicSet(folder, tools)


def count_records(document: Mapping[str, Any]) -> int:
    return sum(len(recs) for recs in document["users"].values())


def _shift(moment: str | None, by: timedelta) -> str | None:
    if moment is None or not by:
        return moment
    return (datetime.fromisoformat(moment) + by).isoformat()


def _copy_id(external_id: str, copy: int, year: int) -> str:
    return f"{external_id}~c{copy}y{year}"


def replicate(
    records: Mapping[str, Any], truth: Mapping[str, Any], copies: int, years: int
) -> tuple[Document, Document]:
    """`copies` new users per athlete, each holding the athlete's records `years` times,
    one year apart (years of history per user: per-user work must stay near n log n)."""
    users: dict[str, list[dict[str, Any]]] = {}
    truths: dict[str, list[dict[str, Any]]] = {}
    for user, recs in records["users"].items():
        groups = truth["users"][user]
        for copy in range(copies):
            name = f"{user}~c{copy}"
            out, out_truth = users.setdefault(name, []), truths.setdefault(name, [])
            for year in range(years):
                by = YEAR * year
                for r in recs:
                    out.append(
                        {
                            **r,
                            "user": name,
                            "external_id": _copy_id(r["external_id"], copy, year),
                            "start": _shift(r["start"], by),
                            "end": _shift(r.get("end"), by),
                        }
                    )
                for g in groups:
                    primary = g.get("primary")
                    out_truth.append(
                        {
                            "ids": [_copy_id(x, copy, year) for x in g["ids"]],
                            "scenario": g["scenario"],
                            "primary": None
                            if primary is None
                            else [_copy_id(x, copy, year) for x in primary],
                        }
                    )
    return {**records, "dataset": "replicated", "users": users}, {"users": truths}


def shuffled(document: Mapping[str, Any], seed: int) -> Document:
    """The same records in another order: users reversed, each user's records shuffled."""
    rng = random.Random(seed)
    users: dict[str, list[dict[str, Any]]] = {}
    for user in reversed(list(document["users"])):
        recs = list(document["users"][user])
        rng.shuffle(recs)
        users[user] = recs
    return {**document, "users": users}


def canonical_groups(prediction: Mapping[str, Any]) -> dict[str, set[tuple[frozenset[str], str]]]:
    """A prediction as sets, so two predictions compare equal whatever their order."""
    out: dict[str, set[tuple[frozenset[str], str]]] = {}
    for user, groups in prediction["users"].items():
        out[user] = {(frozenset(g["ids"]), str(g.get("primary"))) for g in groups}
    return out


# -- the service path ----------------------------------------------------------------


@dataclass(frozen=True)
class IngestRecord:
    """One public record as ingest would publish it for one (benchmark) user."""

    user_id: uuid.UUID
    record_id: uuid.UUID
    payload: dict[str, Any]


def rfc3339_utc(moment: str | None) -> str | None:
    """As ingest writes times in its events (records/events.py `rfc3339`): UTC, `Z`."""
    if moment is None:
        return None
    return datetime.fromisoformat(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_payload(record: Mapping[str, Any], record_id: uuid.UUID, external_id: str) -> dict[str, Any]:
    """The workout.ingested payload of ingest's records/events.py for this record. The
    fixtures carry no samples, so none travel: real events with samples are larger."""
    return {
        "record_id": str(record_id),
        "revision": 1,
        "source": record["source"],
        "origin_device": record.get("origin_device"),
        "external_id": external_id,
        "start": rfc3339_utc(record["start"]),
        "end": rfc3339_utc(record.get("end")),
        "tz_offset_min": record.get("tz_offset_min"),
        "metrics": {k: record[k] for k in METRIC_FIELDS if record.get(k) is not None},
        "details": {},
        "sport": record["sport"],
        "duration_s": record["duration_s"],
        "samples": None,
    }


def service_load(
    records: Mapping[str, Any], users: int, per_user: int, tag: str
) -> list[IngestRecord]:
    """`users` benchmark users, each the first `per_user` records (by start) of one athlete,
    interleaved across users as many connected accounts would deliver them."""
    athletes = sorted(records["users"])
    per_athlete = {a: sorted(records["users"][a], key=_start_order)[:per_user] for a in athletes}
    streams: list[list[IngestRecord]] = []
    for i in range(users):
        user_id = uuid.uuid4()
        athlete = athletes[i % len(athletes)]
        streams.append(
            [
                IngestRecord(
                    user_id,
                    rid := uuid.uuid4(),
                    to_payload(r, rid, f"{r['external_id']}~{tag}{i}"),
                )
                for r in per_athlete[athlete]
            ]
        )
    return list(_round_robin(streams))


def _start_order(record: Mapping[str, Any]) -> tuple[datetime, str]:
    # Parsed: the strings mix offsets, so their text order is not time order.
    return datetime.fromisoformat(record["start"]), record["external_id"]


def _round_robin(streams: list[list[IngestRecord]]) -> Iterator[IngestRecord]:
    longest = max((len(s) for s in streams), default=0)
    for k in range(longest):
        for s in streams:
            if k < len(s):
                yield s[k]
