"""whoop.signature: the documented formula, the replay window and every way to fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from aurora_ingest.whoop.signature import problem, sign, verify

SECRET = "aurora-test-client-secret"
BODY = (
    b'{"user_id":10129,"id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8",'
    b'"type":"workout.updated","trace_id":"e369c784-5100-49e8-8098-75d35c47b31b"}'
)
NOW = datetime(2025, 5, 26, 6, 34, 1, tzinfo=UTC)
STAMP = str(int(NOW.timestamp() * 1000))


def test_sign_is_base64_hmac_sha256_of_timestamp_then_body_without_separator() -> None:
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), STAMP.encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert sign(BODY, STAMP, SECRET) == expected
    # The dotted variant some public code uses is a different signature.
    dotted = base64.b64encode(
        hmac.new(SECRET.encode(), STAMP.encode() + b"." + BODY, hashlib.sha256).digest()
    ).decode()
    assert not verify(BODY, STAMP, dotted, SECRET, NOW)


def test_valid_signature_verifies() -> None:
    assert verify(BODY, STAMP, sign(BODY, STAMP, SECRET), SECRET, NOW)
    assert problem(BODY, STAMP, sign(BODY, STAMP, SECRET), SECRET, NOW) is None


@pytest.mark.parametrize("position", [0, 10, len(BODY) // 2, len(BODY) - 1])
def test_any_one_byte_change_fails(position: int) -> None:
    signature = sign(BODY, STAMP, SECRET)
    tampered = bytearray(BODY)
    tampered[position] ^= 0x01
    assert problem(bytes(tampered), STAMP, signature, SECRET, NOW) == "signature mismatch"


def test_whitespace_variant_of_the_same_json_fails() -> None:
    """A JSON round-trip would 'fix' this body; the raw bytes must not be fixed."""
    signature = sign(BODY, STAMP, SECRET)
    pretty = json.dumps(json.loads(BODY), indent=1).encode()
    spaced = json.dumps(json.loads(BODY)).encode()  # ", " and ": " separators
    assert json.loads(pretty) == json.loads(BODY) == json.loads(spaced)
    assert not verify(pretty, STAMP, signature, SECRET, NOW)
    assert not verify(spaced, STAMP, signature, SECRET, NOW)
    assert not verify(BODY + b"\n", STAMP, signature, SECRET, NOW)


@pytest.mark.parametrize(
    ("stamp", "signature"),
    [(None, "x"), ("", "x"), (STAMP, None), (STAMP, ""), (None, None)],
)
def test_missing_header_fails(stamp: str | None, signature: str | None) -> None:
    if signature == "x":
        signature = sign(BODY, STAMP, SECRET)
    assert problem(BODY, stamp, signature, SECRET, NOW) == "missing signature header"


def test_wrong_secret_and_changed_timestamp_fail() -> None:
    assert not verify(BODY, STAMP, sign(BODY, STAMP, "another-secret"), SECRET, NOW)
    later = str(int(STAMP) + 1000)
    assert not verify(BODY, later, sign(BODY, STAMP, SECRET), SECRET, NOW)


def test_missing_secret_never_verifies() -> None:
    assert problem(BODY, STAMP, sign(BODY, STAMP, ""), "", NOW) == "webhook secret not configured"


@pytest.mark.parametrize("stamp", ["abc", "1748241241000.5", "-1748241241000", "١٢٣", "9" * 17])
def test_malformed_timestamp_fails(stamp: str) -> None:
    assert problem(BODY, stamp, sign(BODY, stamp, SECRET), SECRET, NOW) == "malformed timestamp"


@pytest.mark.parametrize(
    ("offset_s", "valid"),
    [(0, True), (-300, True), (300, True), (-301, False), (301, False), (-3600, False)],
)
def test_replay_window_is_five_minutes_either_way(offset_s: int, valid: bool) -> None:
    stamp = str(int((NOW + timedelta(seconds=offset_s)).timestamp() * 1000))
    outcome = problem(BODY, stamp, sign(BODY, stamp, SECRET), SECRET, NOW)
    assert (outcome is None) is valid
    if not valid:
        assert outcome == "timestamp outside the replay window"


def test_tolerance_is_configurable() -> None:
    stamp = str(int((NOW - timedelta(seconds=90)).timestamp() * 1000))
    signature = sign(BODY, stamp, SECRET)
    assert verify(BODY, stamp, signature, SECRET, NOW, tolerance_s=120)
    assert not verify(BODY, stamp, signature, SECRET, NOW, tolerance_s=60)


def test_timestamp_is_milliseconds_not_seconds() -> None:
    seconds = str(int(NOW.timestamp()))
    assert problem(BODY, seconds, sign(BODY, seconds, SECRET), SECRET, NOW) == (
        "timestamp outside the replay window"
    )


def test_non_ascii_signature_header_is_a_mismatch_not_a_crash() -> None:
    assert problem(BODY, STAMP, "ünïcødé", SECRET, NOW) == "signature mismatch"
