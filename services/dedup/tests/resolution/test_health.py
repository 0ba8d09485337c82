"""Election of a health day (DESIGN.md §3 "Health metrics"), on hand-made records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from aurora_dedup.resolution.health import (
    DEFAULT_HEALTH_PRIORITIES,
    DEFAULT_HEALTH_PRIORITY,
    NAP_REASON,
    HealthRecord,
    elect,
    elect_day,
    label,
    order_for,
)
from aurora_dedup.resolution.priority import SOURCES

DAY = date(2024, 5, 2)
NIGHT = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)


def rec(
    source: str,
    kind: str = "sleep",
    *,
    hours: float | None = 8,
    metrics: dict[str, Any] | None = None,
    nap: bool = False,
    device: str | None = None,
    day: date = DAY,
    external_id: str | None = None,
    rid: int | None = None,
) -> HealthRecord:
    return HealthRecord(
        id=uuid.UUID(int=rid) if rid is not None else uuid.uuid4(),
        source=source,
        external_id=external_id or f"{kind}:{uuid.uuid4().hex[:8]}",
        origin_device=device,
        kind=kind,
        day=day,
        start=NIGHT,
        end=None if hours is None else NIGHT + timedelta(hours=hours),
        metrics=metrics or {},
        nap=nap,
    )


def test_default_order_is_designs_with_workout_only_sources_last() -> None:
    ranked = sorted(DEFAULT_HEALTH_PRIORITY, key=lambda s: -DEFAULT_HEALTH_PRIORITY[s])
    assert ranked[:6] == ["oura", "whoop", "apple_health", "garmin", "polar", "manual"]
    assert set(DEFAULT_HEALTH_PRIORITY) == set(SOURCES)
    assert (
        max(DEFAULT_HEALTH_PRIORITY["strava"], DEFAULT_HEALTH_PRIORITY["wahoo"])
        < (DEFAULT_HEALTH_PRIORITY["manual"])
    )
    assert (DEFAULT_HEALTH_PRIORITY["oura"], DEFAULT_HEALTH_PRIORITY["whoop"]) == (60, 50)


def test_oura_sleep_outranks_whoop_sleep_and_whoop_stays_as_duplicate() -> None:
    oura = rec("oura", metrics={"asleep_s": 27000.0})
    whoop = rec("whoop", metrics={"asleep_s": 26000.0, "sleep_performance_pct": 91.0})
    view = elect_day(DAY, [whoop, oura])

    assert view.sleep is not None and view.sleep.record == oura
    assert view.sleep.reason == (
        "primary sleep: Oura Ring sleep outranks WHOOP sleep: priority 60 > 50"
    )
    (dup,) = view.duplicates
    assert (dup.record, dup.role) == (whoop, "duplicate")
    assert (
        dup.reason
        == f"duplicate of {oura.id}: Oura Ring sleep outranks WHOOP sleep: priority 60 > 50"
    )
    # A losing sleep never feeds the view, not even a field the winner lacks.
    assert view.metrics == {"asleep_s": 27000.0}
    assert view.field_sources["asleep_s"].record_id == oura.id
    assert view.recovery is None
    assert view.reason.startswith("primary sleep: Oura Ring sleep outranks WHOOP sleep")
    assert "no recovery" in view.reason


def test_every_loser_names_the_winner_and_its_own_comparison() -> None:
    oura, whoop, apple = rec("oura"), rec("whoop"), rec("apple_health", device="Apple Watch")
    view = elect_day(DAY, [apple, oura, whoop])
    reasons = {d.record.source: d.reason for d in view.duplicates}
    assert reasons["whoop"].endswith("Oura Ring sleep outranks WHOOP sleep: priority 60 > 50")
    assert reasons["apple_health"].endswith(
        "Oura Ring sleep outranks Apple Health sleep: priority 60 > 40"
    )
    assert all(r.startswith(f"duplicate of {oura.id}: ") for r in reasons.values())


def test_a_single_sleep_is_primary_with_its_own_reason() -> None:
    view = elect_day(DAY, [rec("garmin")])
    assert view.sleep is not None
    assert view.sleep.reason == "primary sleep: the only sleep of the day"
    assert view.duplicates == ()


def test_naps_are_never_primary_even_when_they_outrank() -> None:
    nap = rec("oura", hours=1, nap=True, metrics={"asleep_s": 3000.0})
    night = rec("polar", metrics={"asleep_s": 25000.0})
    view = elect_day(DAY, [nap, night])
    assert view.sleep is not None and view.sleep.record == night
    (kept,) = view.duplicates
    assert (kept.record, kept.role, kept.reason) == (nap, "nap", NAP_REASON)
    assert view.metrics == {"asleep_s": 25000.0}


def test_a_day_of_naps_only_has_no_primary_sleep_but_keeps_them() -> None:
    naps = [rec("whoop", hours=1, nap=True), rec("whoop", hours=0.5, nap=True)]
    view = elect_day(DAY, naps)
    assert view.sleep is None
    assert [d.role for d in view.decisions] == ["nap", "nap"]
    assert view.reason.startswith("no primary sleep: only naps")


def test_whoop_recovery_sleep_and_cycle_merge_into_one_view() -> None:
    sleep = rec("whoop", metrics={"nap": 0.0, "asleep_s": 25200.0, "respiratory_rate": 15.1})
    recovery = rec("whoop", "recovery", metrics={"recovery_score": 71.0, "hrv_rmssd_ms": 61.2})
    cycle = rec(
        "whoop",
        "daily",
        hours=24,
        metrics={"day_strain": 12.4, "recovery_score": 70.0, "asleep_s": 1.0, "avg_hr": None},
    )
    view = elect_day(DAY, [cycle, recovery, sleep])

    assert view.sleep is not None and view.sleep.record == sleep
    assert view.recovery is not None and view.recovery.record == recovery
    assert view.recovery.reason == "primary recovery: the only recovery of the day"
    assert view.metrics == {
        "asleep_s": 25200.0,
        "respiratory_rate": 15.1,
        "recovery_score": 71.0,
        "hrv_rmssd_ms": 61.2,
        "day_strain": 12.4,
    }
    # The nap marker is not a metric, and a None never fills a field.
    assert "nap" not in view.metrics and "avg_hr" not in view.metrics
    origin = {name: s.kind for name, s in view.field_sources.items()}
    assert origin == {
        "asleep_s": "sleep",
        "respiratory_rate": "sleep",
        "recovery_score": "recovery",
        "hrv_rmssd_ms": "recovery",
        "day_strain": "daily",
    }
    assert {s.source for s in view.field_sources.values()} == {"whoop"}
    (daily,) = [d for d in view.decisions if d.role == "daily"]
    assert daily.reason == "daily: WHOOP daily gives day_strain"
    assert view.duplicates == ()


def test_primary_sleep_and_recovery_may_come_from_different_sources() -> None:
    oura_sleep = rec("oura", metrics={"asleep_s": 27000.0})
    whoop_recovery = rec("whoop", "recovery", metrics={"recovery_score": 40.0})
    view = elect_day(DAY, [whoop_recovery, oura_sleep])
    assert view.sleep is not None and view.sleep.record.source == "oura"
    assert view.recovery is not None and view.recovery.record.source == "whoop"
    assert view.metrics == {"asleep_s": 27000.0, "recovery_score": 40.0}


def test_daily_records_fill_gaps_in_rank_order() -> None:
    whoop_cycle = rec("whoop", "daily", metrics={"resting_hr": 50.0, "day_strain": 9.0})
    watch = rec(
        "apple_health", "daily", device="Apple Watch", metrics={"resting_hr": 52.0, "vo2max": 51.0}
    )
    rings = rec("apple_health", "daily", metrics={"exercise_s": 1800.0})
    view = elect_day(DAY, [rings, watch, whoop_cycle])
    assert view.metrics == {
        "resting_hr": 50.0,
        "day_strain": 9.0,
        "vo2max": 51.0,
        "exercise_s": 1800.0,
    }
    assert view.field_sources["resting_hr"].record_id == whoop_cycle.id
    assert view.field_sources["vo2max"].record_id == watch.id
    reasons = {d.record.id: d.reason for d in view.decisions}
    assert reasons[watch.id] == "daily: Apple Health daily gives vo2max"
    assert view.reason.endswith("3 daily record(s) fill the remaining fields")


def test_a_daily_record_that_adds_nothing_says_so() -> None:
    rec_ = rec("whoop", "recovery", metrics={"resting_hr": 48.0})
    vitals = rec("apple_health", "daily", metrics={"resting_hr": 55.0})
    view = elect_day(DAY, [rec_, vitals])
    (daily,) = [d for d in view.decisions if d.role == "daily"]
    assert daily.reason == (
        "daily: Apple Health daily adds no field a higher-ranked record did not give"
    )


def test_priority_is_the_recording_devices() -> None:
    via_apple = rec("apple_health", device="Oura Ring", hours=7)
    whoop = rec("whoop", hours=8)
    view = elect_day(DAY, [whoop, via_apple])
    assert view.sleep is not None and view.sleep.record == via_apple
    assert view.sleep.reason == (
        "primary sleep: Oura Ring (via Apple Health) sleep outranks WHOOP sleep: priority 60 > 50"
    )
    assert label(via_apple) == "Oura Ring (via Apple Health) sleep"


def test_equal_priority_goes_to_the_longer_night_then_the_stable_key() -> None:
    watch = rec("apple_health", device="Apple Watch", hours=7.5)
    phone = rec("apple_health", device="iPhone", hours=6)
    view = elect_day(DAY, [phone, watch])
    assert view.sleep is not None and view.sleep.record == watch
    assert view.sleep.reason == (
        "primary sleep: Apple Health sleep outranks Apple Health sleep: "
        "equal priority 40, longer record (7.5 h > 6.0 h)"
    )
    a = rec("garmin", external_id="a", rid=2)
    b = rec("garmin", external_id="b", rid=1)
    tied = elect_day(DAY, [b, a])
    assert tied.sleep is not None and tied.sleep.record == a
    assert tied.sleep.reason.endswith(
        "equal priority 30 and length, first by (source, external id, id)"
    )


def test_a_record_without_an_end_counts_as_zero_length() -> None:
    open_ended = rec("garmin", hours=None)
    closed = rec("garmin", hours=1)
    view = elect_day(DAY, [open_ended, closed])
    assert view.sleep is not None and view.sleep.record == closed


def test_unknown_sources_rank_below_every_known_one() -> None:
    odd = rec("fitbit")
    manual = rec("manual")
    view = elect_day(DAY, [odd, manual])
    assert view.sleep is not None and view.sleep.record == manual
    assert label(odd) == "fitbit sleep"


def test_overrides_per_kind() -> None:
    oura_sleep, whoop_sleep = rec("oura"), rec("whoop")
    oura_rec, whoop_rec = rec("oura", "recovery"), rec("whoop", "recovery")
    whoop_first = {"recovery": {**DEFAULT_HEALTH_PRIORITY, "whoop": 99}}
    view = elect_day(DAY, [oura_sleep, whoop_sleep, oura_rec, whoop_rec], whoop_first)
    assert view.sleep is not None and view.sleep.record == oura_sleep
    assert view.recovery is not None and view.recovery.record == whoop_rec
    assert view.recovery.reason == (
        "primary recovery: WHOOP recovery outranks Oura Ring recovery: priority 99 > 60"
    )


def test_daily_follows_the_recovery_order_unless_given_its_own() -> None:
    recovery_order = {"recovery": {"apple_health": 90, "whoop": 10}}
    merged = {**DEFAULT_HEALTH_PRIORITY, "apple_health": 90, "whoop": 10}
    assert order_for("recovery", recovery_order) == merged
    assert order_for("daily", recovery_order) == merged
    assert order_for("daily", {"daily": {"polar": 1}, **recovery_order}) == {
        **DEFAULT_HEALTH_PRIORITY,
        "polar": 1,
    }
    assert order_for("sleep", recovery_order) == DEFAULT_HEALTH_PRIORITY
    assert order_for("daily", DEFAULT_HEALTH_PRIORITIES) == DEFAULT_HEALTH_PRIORITY
    whoop = rec("whoop", "daily", metrics={"resting_hr": 50.0})
    apple = rec("apple_health", "daily", metrics={"resting_hr": 55.0})
    view = elect_day(DAY, [whoop, apple], recovery_order)
    assert view.metrics == {"resting_hr": 55.0}


def test_a_partial_override_keeps_the_other_sources_defaults() -> None:
    polar_first = {"sleep": {"polar": 65}}
    oura, polar, manual = rec("oura"), rec("polar"), rec("manual")
    view = elect_day(DAY, [manual, oura, polar], polar_first)
    assert view.sleep is not None and view.sleep.record == polar
    reasons = {d.record.source: d.reason for d in view.duplicates}
    assert reasons["oura"].endswith("Polar sleep outranks Oura Ring sleep: priority 65 > 60")
    assert reasons["manual"].endswith("Polar sleep outranks Manual entry sleep: priority 65 > 10")


def test_decisions_cover_every_record_once_in_a_stable_order() -> None:
    items = [
        rec("oura"),
        rec("whoop"),
        rec("whoop", hours=1, nap=True),
        rec("whoop", "recovery"),
        rec("oura", "recovery"),
        rec("whoop", "daily"),
    ]
    view = elect_day(DAY, items)
    assert sorted(d.record.id for d in view.decisions) == sorted(r.id for r in items)
    keys = [(d.record.kind, d.record.order_key) for d in view.decisions]
    assert keys == sorted(keys)
    roles = sorted(d.role for d in view.decisions)
    assert roles == ["daily", "duplicate", "duplicate", "nap", "primary", "primary"]


def test_elect_splits_days_and_rejects_a_foreign_day() -> None:
    other = DAY + timedelta(days=1)
    a, b = rec("oura"), rec("whoop", day=other)
    views = elect([b, a])
    assert list(views) == [DAY, other]
    first, second = views[DAY].sleep, views[other].sleep
    assert first is not None and first.record == a
    assert second is not None and second.record == b
    assert elect([]) == {}
    with pytest.raises(ValueError, match="another day"):
        elect_day(DAY, [b])


def test_an_empty_day() -> None:
    view = elect_day(DAY, [])
    assert (view.sleep, view.recovery, view.decisions, dict(view.metrics)) == (None, None, (), {})
    assert view.reason == "no sleep; no recovery"
