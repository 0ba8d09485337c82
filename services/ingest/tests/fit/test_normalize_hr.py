"""HR held in `hr` messages (pool swims, HRM-Pro/Tri) merged into the samples, FIT SDK style."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_ingest.fit.messages import FitFile, FitMessage
from aurora_ingest.fit.normalize import workouts_of
from aurora_ingest.fit.samples import FIT_EPOCH_S, beats

T0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
SHA = "ef" * 32


def m(name: str, **fields: Any) -> FitMessage:
    return FitMessage(name, 0, fields)


def pack12(ticks: list[int]) -> tuple[int, ...]:
    """The low 12 bits of each beat time (1/1024 s), packed little-endian as devices write them."""
    bits = 0
    for i, tick in enumerate(ticks):
        bits |= (tick & 0xFFF) << (12 * i)
    return tuple(bits.to_bytes(len(ticks) * 12 // 8, "little"))


def hr_stream(
    anchor_s: float, first_event_s: float, every_s: float, groups: int
) -> list[FitMessage]:
    """An anchor hr message then `groups` packed messages of 8 beats, `every_s` apart."""
    anchor_at = T0 + timedelta(seconds=anchor_s)
    whole = anchor_at.replace(microsecond=0)
    msgs = [
        m(
            "hr",
            timestamp=whole,
            fractional_timestamp=(anchor_at - whole).total_seconds(),
            event_timestamp=first_event_s,
            filtered_bpm=90,
        )
    ]
    first_tick = round(first_event_s * 1024)
    beat = 0
    for group in range(groups):
        ticks = [first_tick + round((beat + k + 1) * every_s * 1024) for k in range(8)]
        beat += 8
        msgs.append(
            m(
                "hr",
                event_timestamp_12=pack12(ticks),
                filtered_bpm=tuple(100 + group for _ in range(8)),
            )
        )
    return msgs


def swim(
    hr_messages: list[FitMessage], seconds: int = 30, own_hr: dict[int, int] | None = None
) -> FitFile:
    own_hr = own_hr or {}
    return FitFile(
        [
            m(
                "file_id",
                type="activity",
                manufacturer="garmin",
                garmin_product="fenix3",
                time_created=T0,
            ),
            *(
                m(
                    "record",
                    timestamp=T0 + timedelta(seconds=s),
                    heart_rate=own_hr.get(s),
                    distance=2.0 * s,
                )
                for s in range(seconds)
            ),
            *hr_messages,
            m(
                "session",
                start_time=T0,
                timestamp=T0 + timedelta(seconds=seconds),
                total_elapsed_time=float(seconds),
                sport="swimming",
                sub_sport="lap_swimming",
            ),
        ]
    )


def _clock(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def test_beat_times_are_rebuilt_from_the_anchor_and_the_packed_12_bit_times() -> None:
    times, bpm = beats([msg.fields for msg in hr_stream(2.25, 3_484_594.5, 0.8, 2)], _clock)
    start = T0.timestamp()
    assert [round(t - start, 3) for t in times] == [round(2.25 + 0.8 * k, 3) for k in range(17)]
    assert bpm == [90] + [100] * 8 + [101] * 8


def test_the_1024_hz_clock_rolls_over_without_a_jump() -> None:
    near_top = (2**32 - 1500) / 1024  # the device's 32-bit tick counter wraps within the next beats
    times, _ = beats([msg.fields for msg in hr_stream(1.0, near_top, 0.5, 1)], _clock)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert gaps == [0.5] * 8


def test_beats_before_any_anchor_are_dropped() -> None:
    stray = m("hr", event_timestamp_12=pack12(list(range(8))), filtered_bpm=(80,) * 8)
    assert beats([stray.fields], _clock) == ([], [])


def test_a_swim_without_record_hr_gets_it_from_the_hr_messages() -> None:
    (workout,) = workouts_of(swim(hr_stream(0.5, 1000.0, 1.0, 3), seconds=32), sha256=SHA)
    s = workout.fields.samples
    assert s is not None
    # Beats at 0.5 (90 bpm) then 1.5..8.5 (100), 9.5..16.5 (101), 17.5..24.5 (102).
    assert s["hr"][:3] == [None, 90.0, 100.0]
    assert s["hr"][10] == 101.0 and s["hr"][25] == 102.0
    assert s["hr"][29] == 102.0  # 4.5 s after the last beat
    assert s["hr"][30:] == [None, None]  # more than 5 s after it: a gap, not a guess
    assert workout.fields.details["hr_merged_samples"] == 29


def test_hr_the_records_already_hold_is_kept() -> None:
    (workout,) = workouts_of(swim(hr_stream(0.5, 1000.0, 1.0, 3), own_hr={5: 150}), sha256=SHA)
    assert workout.fields.samples is not None and workout.fields.samples["hr"][5] == 150
    assert workout.fields.details["hr_merged_samples"] == 28


def test_unpacked_event_timestamps_in_one_anchored_message_are_merged_too() -> None:
    first = 500.0
    msg = m(
        "hr",
        timestamp=T0,
        fractional_timestamp=0.0,
        event_timestamp=tuple(first + k for k in range(10)),
        filtered_bpm=tuple(110 + k for k in range(10)),
    )
    (workout,) = workouts_of(swim([msg], seconds=10), sha256=SHA)
    assert workout.fields.samples is not None
    assert workout.fields.samples["hr"] == [110.0 + k for k in range(10)]


def test_event_timestamps_given_as_datetimes_are_read_in_the_same_clock() -> None:
    first = T0 - timedelta(seconds=FIT_EPOCH_S)  # an absolute time as the decoder may render it
    msg = m("hr", timestamp=T0, event_timestamp=first.replace(tzinfo=UTC), filtered_bpm=77)
    follow = m(
        "hr", event_timestamp=(first + timedelta(seconds=2)).replace(tzinfo=UTC), filtered_bpm=78
    )
    times, bpm = beats([msg.fields, follow.fields], _clock)
    assert [round(t - T0.timestamp(), 3) for t in times] == [0.0, 2.0] and bpm == [77, 78]


def test_without_hr_messages_nothing_is_merged() -> None:
    (workout,) = workouts_of(swim([]), sha256=SHA)
    assert workout.fields.samples is not None and "hr" not in workout.fields.samples
    assert "hr_merged_samples" not in workout.fields.details
