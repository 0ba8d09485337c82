"""The pure email rules, case by case."""

from __future__ import annotations

import pytest

from aurora_identity.auth.rules import checked_email, email_problem, normalise_email


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM\t", "alice@example.com"),
        ("alice@example.com\n", "alice@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
        ("user@example.xn--p1ai", "user@example.xn--p1ai"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, stored: str) -> None:
    assert checked_email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "alice@",
        "alice@example",
        "alice@@example.com",
        "alice@exa mple.com",
        "al ice@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@example..com",
        "alice@example.c",
        "alice@example.123",
        '"quoted"@example.com',
        "alice(comment)@example.com",
        "alïce@example.com",
        "alice@bücher.example",
        "a" * 65 + "@example.com",
        "alice@" + "a" * 64 + ".com",
        "a@" + ".".join(["abcdefghij"] * 25) + ".com",
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        checked_email(raw)


def test_problem_is_none_only_for_valid() -> None:
    assert email_problem("a@b.io") is None
    assert email_problem(normalise_email("A@B.IO")) is None
    assert email_problem("a@b") == "email domain needs a dot"
