"""Every JSON in ../shared/fixtures/whoop through the WHOOP normalizers and the signature check.

Runs only where the fixtures folder exists (it is not part of the repository).
A new fixture file without a rule here fails the test, so none is skipped silently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aurora_ingest.connections.oauth import whoop_user_id
from aurora_ingest.records.rules import SPORTS
from aurora_ingest.whoop.mapping import map_recovery, map_sleep, map_workout, merge_daily
from aurora_ingest.whoop.schemas import (
    Cycle,
    Page,
    Recovery,
    Sleep,
    WebhookEvent,
    Workout,
)
from aurora_ingest.whoop.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "whoop"

pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not FIXTURES.exists(), reason="shared WHOOP fixtures not present"),
]

FILES = sorted(p.name for p in FIXTURES.glob("*.json")) if FIXTURES.exists() else []
CYCLE = (
    Cycle.model_validate(json.loads((FIXTURES / "cycle_v2.json").read_text()))
    if FIXTURES.exists()
    else None
)


def _workout(document: Any) -> None:
    fields = map_workout(Workout.model_validate(document))
    assert fields.sport in SPORTS
    assert fields.duration_s > 0
    assert fields.details["score_state"] == document["score_state"]
    assert bool(fields.metrics) == (document["score_state"] == "SCORED")


def _sleep(document: Any) -> None:
    fields = map_sleep(Sleep.model_validate(document))
    assert fields.kind == "sleep"
    assert fields.metrics["nap"] == (1.0 if document["nap"] else 0.0)
    if document["score_state"] == "SCORED":
        assert (
            fields.metrics["sleep_performance_pct"]
            == document["score"]["sleep_performance_percentage"]
        )


def _recovery(document: Any) -> None:
    assert CYCLE is not None
    recovery = Recovery.model_validate(document)
    fields = map_recovery(recovery, CYCLE)
    assert fields.kind == "recovery"
    if document["score_state"] == "SCORED":
        assert fields.metrics["recovery_score"] == document["score"]["recovery_score"]
    else:
        assert fields.metrics == {}
    daily = merge_daily(CYCLE, recovery, None)
    assert "recovery" in daily.details["parts"]


def _cycle(document: Any) -> None:
    fields = merge_daily(Cycle.model_validate(document), None, None)
    assert fields.kind == "daily"
    if document["score_state"] == "SCORED":
        assert fields.metrics["day_strain"] == document["score"]["strain"]
    if document.get("end") is None:
        assert fields.end_at is None


def _collection(each: Any) -> Any:
    def check(document: Any) -> None:
        page = Page.model_validate(document)
        assert page.records
        for record in page.records:
            each(record)

    return check


def _webhook(document: Any) -> None:
    event = WebhookEvent.model_validate(document)
    assert event.type == "workout.updated"
    assert event.user_id == 10129


def _profile(document: Any) -> None:
    assert whoop_user_id(document) == "10129"


def _body_measurement(document: Any) -> None:
    # Not a record: no normalizer must take it for one.
    for model in (Workout, Sleep, Recovery, Cycle):
        with pytest.raises(ValueError):
            model.model_validate(document)


def _signature_vectors(document: Any) -> None:
    secret = document["client_secret"]
    assert len(document["vectors"]) >= 5
    for vector in document["vectors"]:
        headers = vector["headers"]
        stamp = headers[TIMESTAMP_HEADER]
        now = datetime.fromtimestamp(int(stamp) / 1000, UTC)
        body = vector["raw_body"].encode()
        outcome = verify(body, stamp, headers[SIGNATURE_HEADER], secret, now)
        assert outcome is vector["expect_valid"], vector.get("why")


RULES = {
    "workout_v2.json": _workout,
    "workout_v2_pending_score.json": _workout,
    "workout_collection_v2.json": _collection(_workout),
    "sleep_v2.json": _sleep,
    "sleep_collection_v2.json": _collection(_sleep),
    "recovery_v2.json": _recovery,
    "recovery_v2_unscorable.json": _recovery,
    "recovery_collection_v2.json": _collection(_recovery),
    "cycle_v2.json": _cycle,
    "cycle_v2_in_progress.json": _cycle,
    "cycle_collection_v2.json": _collection(_cycle),
    "webhook_v1_workout_updated.json": _webhook,
    "webhook_v2_workout_updated.json": _webhook,
    "webhook_signature_vectors.json": _signature_vectors,
    "user_profile_basic.json": _profile,
    "user_body_measurement.json": _body_measurement,
}


@pytest.mark.parametrize("name", FILES)
def test_fixture_goes_through_the_normalizers(name: str) -> None:
    assert name in RULES, f"no conformance rule for {name}"
    RULES[name](json.loads((FIXTURES / name).read_text()))


def test_every_fixture_is_covered() -> None:
    assert len(FILES) == len(RULES)
