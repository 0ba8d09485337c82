"""Pure profile rules: names, birth dates, time zones."""

from __future__ import annotations

from datetime import date

import pytest

from aurora_identity.users.rules import (
    birth_date_problem,
    display_name_problem,
    time_zone_problem,
)

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("born", "ok"),
    [
        (date(1900, 1, 1), True),
        (date(1899, 12, 31), False),
        (date(1985, 2, 28), True),
        (TODAY, True),
        (date(2026, 6, 16), False),
        (date(9999, 12, 31), False),
        (date(1, 1, 1), False),
    ],
)
def test_birth_date(born: date, ok: bool) -> None:
    assert (birth_date_problem(born, TODAY) is None) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Europe/Berlin", True),
        ("America/Argentina/Buenos_Aires", True),
        ("UTC", True),
        ("Pacific/Kiritimati", True),
        ("", False),
        ("Mars/Olympus_Mons", False),
        ("europe/berlin", False),
        ("../../etc/passwd", False),
        ("/usr/share/zoneinfo/UTC", False),
        ("Europe/Berlin\x00", False),
        ("A" * 65, False),
    ],
)
def test_time_zone(name: str, ok: bool) -> None:
    assert (time_zone_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Ann", True),
        ("José Ñúñez", True),
        ("李小龍", True),
        ("x" * 100, True),
        ("x" * 101, False),
        ("", False),
        ("evil\u202eman", False),  # right-to-left override
        ("zero\u200bwidth", False),
        ("new\nline", False),
        ("nul\x00", False),
    ],
)
def test_display_name(name: str, ok: bool) -> None:
    assert (display_name_problem(name) is None) is ok
