"""strava.streams: StreamSet (either form) onto columnar Samples, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_ingest.records.rules import samples_problem
from aurora_ingest.strava.errors import MappingError
from aurora_ingest.strava.streams import MAX_POINTS, samples_from_streams

Factory = Any


def test_every_stream_lands_in_its_channel(make_streams: Factory) -> None:
    samples = samples_from_streams(make_streams(points=3))
    assert samples == {
        "t": [0.0, 1.0, 2.0],
        "hr": [140.0, 141.0, 142.0],
        "power": [200.0, 201.0, 202.0],
        "cadence": [90.0, 90.0, 90.0],
        "speed": [8.5, 8.5, 8.5],
        "altitude": [100.0, 100.1, 100.2],
        "distance": [0.0, 8.5, 17.0],
        "lat": [37.83, 37.8301, 37.8302],
        "lng": [-122.26, -122.26, -122.26],
        "temp": [4.0, 4.0, 4.0],
    }
    assert samples_problem(samples) is None


def test_array_form_equals_key_by_type(make_streams: Factory) -> None:
    keyed = make_streams(points=4)
    array = [{"type": name, **stream} for name, stream in keyed.items()]
    assert samples_from_streams(array) == samples_from_streams(keyed)


def test_missing_streams_are_fine(make_streams: Factory) -> None:
    samples = samples_from_streams(
        make_streams(points=2, watts=None, latlng=None, temp=None, heartrate=None)
    )
    assert samples is not None
    assert set(samples) == {"t", "cadence", "speed", "altitude", "distance"}


def test_gaps_are_none(make_streams: Factory) -> None:
    samples = samples_from_streams(
        make_streams(points=3, heartrate=[140, None, 141], latlng=[[1.0, 2.0], None, [None, 2.0]])
    )
    assert samples is not None
    assert samples["hr"] == [140.0, None, 141.0]
    assert samples["lat"] == [1.0, None, None]
    assert samples["lng"] == [2.0, None, None]


@pytest.mark.parametrize("streams", [{}, [], {"moving": {"data": [True]}}])
def test_no_usable_streams_is_no_samples(streams: Any) -> None:
    assert samples_from_streams(streams) is None


def test_empty_time_is_no_samples(make_streams: Factory) -> None:
    assert samples_from_streams({"time": {"data": []}}) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heartrate": [1, 2]}, "'heartrate' has 2 points, the time stream 3"),
        ({"latlng": [[1.0, 2.0]] * 4}, "'latlng' has 4 points"),
        ({"time": None}, "no time stream"),
        ({"time": [0, 2, 1]}, "never decrease"),
        ({"time": [-1, 0, 1]}, "non-negative"),
        ({"time": [0, None, 2]}, "non-negative"),
        ({"watts": [1, "2", 3]}, "non-number"),
        ({"cadence": [1, True, 3]}, "non-number"),
        ({"altitude": [1.0, float("nan"), 3.0]}, "non-finite"),
        ({"altitude": [1.0, float("inf"), 3.0]}, "non-finite"),
        ({"latlng": [[1.0, 2.0], [1.0], [1.0, 2.0]]}, "not a \\[lat, lng\\] pair"),
        ({"latlng": [[1.0, 2.0], "x", [1.0, 2.0]]}, "not a \\[lat, lng\\] pair"),
        ({"latlng": [[91.0, 2.0], [1.0, 2.0], [1.0, 2.0]]}, "out of range"),
        ({"latlng": [[1.0, 181.0], [1.0, 2.0], [1.0, 2.0]]}, "out of range"),
    ],
)
def test_untrustworthy_streams_are_refused(
    make_streams: Factory, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        samples_from_streams(make_streams(points=3, **overrides))


def test_absurd_size_is_refused_before_looking_at_values() -> None:
    huge = {"time": {"data": [0] * (MAX_POINTS + 1)}}
    with pytest.raises(MappingError, match="more than"):
        samples_from_streams(huge)


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ("time", "object or an array"),
        (42, "object or an array"),
        ([{"data": [1]}], "without a type"),
        (["time"], "without a type"),
        ([{"type": "time", "data": [0]}, {"type": "time", "data": [0]}], "appears twice"),
        ({"time": {"data": "0,1,2"}}, "no data array"),
        ({"time": [0, 1, 2]}, "no data array"),
    ],
)
def test_malformed_stream_sets_are_refused(streams: Any, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        samples_from_streams(streams)
