"""Conformance: the core on the public dedup benchmark (shared/fixtures/dedup).

Scores are re-implemented here with the scorer's definitions (README §7): pairwise
precision/recall/F1 over same-session pairs of one user's records, and primary
end-to-end: a truth group of two or more records is right when exactly one of its
records is a predicted primary and that one is acceptable.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from aurora_dedup.resolution.benchmark import predict

FIXTURES = Path(__file__).resolve().parents[4] / "../shared/fixtures/dedup"

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "public_records.json").exists(), reason="shared dedup fixtures not present"
)


def _pairs(groups: list[list[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for ids in groups for p in combinations(ids, 2)}


def _score(truth: dict[str, Any], prediction: dict[str, Any]) -> dict[str, float]:
    tp = true_pairs = predicted_pairs = e2e_ok = e2e_total = 0
    for user, truth_groups in truth["users"].items():
        predicted = prediction["users"].get(user, [])
        t = _pairs([g["ids"] for g in truth_groups])
        p = _pairs([g["ids"] for g in predicted])
        tp += len(t & p)
        true_pairs += len(t)
        predicted_pairs += len(p)
        primaries = {g["primary"] for g in predicted}
        for group in truth_groups:
            if len(group["ids"]) < 2 or not group.get("primary"):
                continue
            e2e_total += 1
            shown = [x for x in group["ids"] if x in primaries]
            e2e_ok += len(shown) == 1 and shown[0] in group["primary"]
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "e2e": e2e_ok / e2e_total}


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    records = json.loads((FIXTURES / "public_records.json").read_text())
    truth = json.loads((FIXTURES / "public_truth.json").read_text())
    prediction = predict(records)
    placed = sorted(x for groups in prediction["users"].values() for g in groups for x in g["ids"])
    assert placed == sorted(r["external_id"] for rs in records["users"].values() for r in rs)
    return _score(truth, prediction)


def test_pairwise_f1_beats_the_target(scores: dict[str, float]) -> None:
    assert scores["f1"] >= 0.98, scores


def test_precision_stays_where_the_baseline_was(scores: dict[str, float]) -> None:
    assert scores["precision"] >= 0.995, scores


def test_primary_end_to_end_beats_the_target(scores: dict[str, float]) -> None:
    assert scores["e2e"] >= 0.97, scores


def test_the_scorer_reimplementation_agrees_on_a_known_case() -> None:
    truth = {"users": {"u": [{"ids": ["a", "b", "c"], "primary": ["a"]}, {"ids": ["d"]}]}}
    split = {
        "users": {"u": [{"ids": ["a", "b"], "primary": "a"}, {"ids": ["c", "d"], "primary": "c"}]}
    }
    result = _score(truth, split)
    assert result["precision"] == 0.5 and result["recall"] == pytest.approx(1 / 3)
    assert result["e2e"] == 0.0  # two primaries shown for one session


def test_predict_without_reasons_groups_exactly_as_with_them() -> None:
    records = json.loads((FIXTURES / "public_records.json").read_text())
    explained = predict(records, explain=True)
    for groups in explained["users"].values():
        for group in groups:
            assert set(group.pop("reasons")) == set(group["ids"])
    assert predict(records) == explained
