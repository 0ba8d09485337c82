"""The closure query's interval arithmetic: which parts of a span are still unsearched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from aurora_dedup.timeline.repository import Window, merge_windows, uncovered

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def minutes(lo: int, hi: int) -> Window:
    return (T0 + timedelta(minutes=lo), T0 + timedelta(minutes=hi))


def inside(t: datetime, windows: list[Window]) -> bool:
    return any(lo < t < hi for lo, hi in windows)


intervals = st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 120)).map(lambda x: minutes(x[0], x[0] + x[1])),
    max_size=6,
)


def test_uncovered_examples() -> None:
    tick = timedelta(microseconds=1)
    assert uncovered([minutes(0, 60)], []) == [(minutes(0, 60)[0] - tick, minutes(0, 60)[1] + tick)]
    assert uncovered([minutes(10, 50)], [minutes(0, 60)]) == []
    (left, right) = uncovered([minutes(0, 100)], [minutes(30, 60)])
    assert (left[0] + tick, left[1] - tick) == minutes(0, 30)
    assert (right[0] + tick, right[1] - tick) == minutes(60, 100)
    assert merge_windows([minutes(0, 10), minutes(10, 20), minutes(30, 40)]) == [
        minutes(0, 20),
        minutes(30, 40),
    ]


@given(spans=intervals, covered=intervals, probe=st.integers(-10, 500))
def test_every_unsearched_point_of_a_span_is_left_to_search(
    spans: list[Window], covered: list[Window], probe: int
) -> None:
    merged_cover = merge_windows(covered)
    left = uncovered(spans, merged_cover)
    t = T0 + timedelta(minutes=probe, seconds=17)
    if any(lo <= t <= hi for lo, hi in spans) and not inside(t, merged_cover):
        assert inside(t, left)
    # Nothing outside the spans is searched again (beyond the boundary tick).
    if not any(lo - timedelta(seconds=1) <= t <= hi + timedelta(seconds=1) for lo, hi in spans):
        assert not inside(t, left)
    assert left == merge_windows(left)
