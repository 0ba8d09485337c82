"""The FIT sport table and the device naming, exhaustively over the profile's enums."""

from __future__ import annotations

import pytest
from fitdecode import profile as fd_profile  # type: ignore[import-untyped]

from aurora_ingest.fit.devices import Device, brand_name, device_of, is_creator, product_label
from aurora_ingest.fit.sports import BY_SPORT, BY_SUB_SPORT, aurora_sport, is_transition, labels
from aurora_ingest.records.rules import SPORTS


def _enum(name: str) -> list[str]:
    return [str(v) for v in fd_profile.FIELD_TYPES[name].enum.values()]


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected"),
    [
        ("running", "generic", "run"),
        ("running", None, "run"),
        ("running", "treadmill", "run"),
        ("running", "trail", "trail_run"),
        ("running", "virtual_activity", "run"),
        ("cycling", "road", "ride"),
        ("cycling", "gravel_cycling", "ride"),
        ("cycling", "indoor_cycling", "ride"),
        ("cycling", "mountain", "mountain_bike"),
        ("cycling", "downhill", "mountain_bike"),
        ("cycling", "virtual_activity", "virtual_ride"),
        ("cycling", "trail", "ride"),
        ("e_biking", "e_bike_mountain", "mountain_bike"),
        ("e_biking", None, "ride"),
        ("swimming", "lap_swimming", "swim"),
        ("swimming", "open_water", "swim"),
        ("walking", "casual_walking", "walk"),
        ("hiking", None, "hike"),
        ("mountaineering", None, "hike"),
        ("rowing", None, "row"),
        ("fitness_equipment", "indoor_rowing", "row"),
        ("fitness_equipment", "elliptical", "elliptical"),
        ("fitness_equipment", "stair_climbing", "other"),
        ("training", "strength_training", "strength"),
        ("training", "yoga", "yoga"),
        ("training", "pilates", "other"),
        ("alpine_skiing", "resort", "ski"),
        ("snowboarding", None, "ski"),
        ("cross_country_skiing", "skate_skiing", "nordic_ski"),
        ("transition", "generic", "other"),
        ("multisport", None, "other"),
        ("generic", None, "other"),
        ("stand_up_paddleboarding", "generic", "other"),
        ("golf", None, "other"),
        ("200", "201", "other"),  # enum values newer than the profile arrive as numbers
        (None, None, "other"),
    ],
)
def test_fit_sports_map_onto_aurora_sports(
    sport: str | None, sub_sport: str | None, expected: str
) -> None:
    assert aurora_sport(sport, sub_sport) == expected


def test_every_profile_sport_and_sub_sport_pair_maps_into_the_records_vocabulary() -> None:
    sports, subs = [*_enum("sport"), "999", ""], [*_enum("sub_sport"), "999", ""]
    results = {aurora_sport(s or None, sub or None) for s in sports for sub in subs}
    assert results <= set(SPORTS)


def test_the_tables_only_name_profile_enums() -> None:
    assert set(BY_SPORT) <= set(_enum("sport"))
    assert set(BY_SUB_SPORT) <= set(_enum("sub_sport"))


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected"),
    [
        ("transition", None, True),
        ("multisport", "swim_to_bike_transition", True),
        ("generic", "bike_to_run_transition", True),
        ("running", "generic", False),
        (None, None, False),
    ],
)
def test_transitions_are_recognised_by_sport_or_sub_sport(
    sport: str | None, sub_sport: str | None, expected: bool
) -> None:
    assert is_transition(sport, sub_sport) is expected


def test_labels_keep_names_and_stringify_unknown_numbers() -> None:
    assert labels("cycling", 58) == ("cycling", "58")
    assert labels(True, "") == (None, None)


@pytest.mark.parametrize(
    ("product", "label"),
    [
        ("edge_530", "Edge 530"),
        ("fr735xt", "Forerunner 735XT"),
        ("fenix2", "Fenix 2"),
        ("edge_1030_plus", "Edge 1030 Plus"),
        ("edge810", "Edge 810"),
        ("hrm1", "HRM 1"),
        ("vivo_fit", "Vivo Fit"),
        ("fr70", "Forerunner 70"),
        ("28", None),
        (None, None),
    ],
)
def test_product_enums_read_like_the_device_name(product: str | None, label: str | None) -> None:
    assert product_label(product) == label


@pytest.mark.parametrize(
    ("manufacturer", "brand"),
    [
        ("garmin", "Garmin"),
        ("wahoo_fitness", "Wahoo"),
        ("coros", "COROS"),
        ("sigmasport", "Sigma Sport"),
        ("polar_electro", "Polar"),
        ("some_new_maker", "Some New Maker"),
        ("5759", None),
        (None, None),
    ],
)
def test_manufacturers_become_the_brand_dedup_reads(
    manufacturer: str | None, brand: str | None
) -> None:
    assert brand_name(manufacturer) == brand


def test_every_profile_manufacturer_gets_a_brand() -> None:
    assert all(brand_name(name) for name in _enum("manufacturer") if not name.isdigit())


@pytest.mark.parametrize(
    ("file_id", "creator", "origin", "serial"),
    [
        (
            {"manufacturer": "garmin", "garmin_product": "edge_530", "serial_number": 7},
            None,
            "Garmin Edge 530",
            7,
        ),
        (
            {"manufacturer": "wahoo_fitness", "product": 31, "serial_number": 9},
            {"device_index": "creator", "product_name": "ELEMNT BOLT"},
            "Wahoo ELEMNT BOLT",
            9,
        ),
        (
            {"manufacturer": "coros", "product": 802, "product_name": "COROS PACE 2"},
            None,
            "COROS PACE 2",
            None,
        ),
        (
            {"manufacturer": "zwift", "product": 0},
            {"serial_number": 3825981698},
            "Zwift",
            3825981698,
        ),
        ({"manufacturer": 4000, "product": 1}, None, None, None),
        ({}, {"manufacturer": "stryd"}, "Stryd", None),
    ],
)
def test_origin_device_names_maker_and_product(
    file_id: dict[str, object],
    creator: dict[str, object] | None,
    origin: str | None,
    serial: int | None,
) -> None:
    device = device_of(file_id, creator)
    assert device.origin == origin
    assert device.serial == serial


def test_device_details_are_plain_values() -> None:
    device = Device("garmin", "fr955", "Forerunner 955", 12, 11.0)
    assert device.as_details() == {
        "manufacturer": "garmin",
        "product": "fr955",
        "product_name": "Forerunner 955",
        "serial": 12,
        "software_version": 11.0,
    }
    assert Device(None, "12", None, None, None).origin is None


@pytest.mark.parametrize(
    ("index", "creator"), [("creator", True), (0, True), (1, False), (None, False), (False, False)]
)
def test_the_creator_is_device_index_zero(index: object, creator: bool) -> None:
    assert is_creator({"device_index": index}) is creator
